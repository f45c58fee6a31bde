"""``kind: credit`` -- the credit-limit policy: a rule, not a model (``docs/credit_limits.md``).

``conf/credit.yaml`` is the shipped default; the file is optional (the nightly config's ``credit``
key names it): without it :class:`CreditPolicyConfig`'s defaults apply. The policy itself is
:mod:`pipelines.scoring.limits`:

    need  = invoiced per day over the last ``volume_window_days`` x the debtor's payment terms in days
          (= monthly invoiced volume x terms in months)
    limit = need x the factor of the debtor's risk band (recommended / conservative / aggressive),
            at most ``caps.turnover_ratio`` x annual turnover, ``caps.net_worth_ratio`` x net worth and
            ``caps.max_limit``, rounded down to a multiple of the currency's step (``round_to`` for a
            currency worth about a euro; :func:`pipelines.scoring.limits.round_step`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from pipelines.config import ConfigError, ConfigModel, load_config

KIND = "credit"


class BandFactors(ConfigModel):
    """Months of need granted in one risk band, per variant (conservative <= recommended <= aggressive)."""

    recommended: float = Field(ge=0.0, le=24.0, description="factor on need of the recommended limit")
    conservative: float = Field(ge=0.0, le=24.0, description="factor on need of the conservative limit")
    aggressive: float = Field(ge=0.0, le=24.0, description="factor on need of the aggressive limit")

    @model_validator(mode="after")
    def _ordered(self) -> BandFactors:
        if not self.conservative <= self.recommended <= self.aggressive:
            raise ValueError(
                "need conservative <= recommended <= aggressive, got "
                f"{self.conservative} / {self.recommended} / {self.aggressive}"
            )
        return self


def _default_bands() -> dict[str, BandFactors]:
    factors = {
        "A": (2.0, 1.5, 3.0),
        "B": (1.5, 1.0, 2.0),
        "C": (1.0, 0.75, 1.5),
        "D": (0.5, 0.25, 1.0),
        "E": (0.25, 0.0, 0.5),
    }
    return {
        band: BandFactors(recommended=r, conservative=c, aggressive=a) for band, (r, c, a) in factors.items()
    }


class LimitCaps(ConfigModel):
    """Upper bounds on every variant; a cap applies to a debtor only when its figure is known."""

    turnover_ratio: float | None = Field(
        0.10, gt=0.0, le=1.0, description="at most this share of the debtor's annual_turnover (null: no cap)"
    )
    net_worth_ratio: float | None = Field(
        0.20,
        gt=0.0,
        le=5.0,
        description="at most this multiple of the debtor's net_worth; a negative net worth caps at 0 "
        "(null: no cap)",
    )
    max_limit: float | None = Field(
        None, gt=0.0, description="at most this amount for any debtor, reporting currency (null: no cap)"
    )


class LimitReview(ConfigModel):
    """How a recommendation moves from one run to the next (s40-walk): a credit team does not change a
    limit every month on noise in the recent volume."""

    keep_within: float | None = Field(
        0.25,
        gt=0.0,
        le=4.0,
        description="keep the previous run's recommended limit (every variant) while the newly computed one is "
        "within this share of it (0.25: from previous / 1.25 to previous x 1.25) and the debtor's band is the "
        "same; never kept in default, after a band change, when the new one is 0 or set by a cap below the "
        "previous one, or when the debtor is over its current limit and the new one is lower (null: every run "
        "recommends afresh)",
    )


class CreditPolicyConfig(ConfigModel):
    """The credit-limit policy. Amounts are in the reporting currency (``conf/ews.yaml``)."""

    kind: Literal["credit"] = "credit"
    volume_window_days: Literal[90, 365] = Field(
        365,
        description="invoiced volume over the last 90 days (about 3 months) or 365 days (12 months) before "
        "the as-of date; the features invoice_amount_90d / invoice_amount_365d",
    )
    young_floor_days: int | None = Field(
        30,
        ge=1,
        le=365,
        description="a customer younger than the window (tenure_days: from the earlier of onboarding and first "
        "invoice to the as-of date) has its invoiced volume divided by its tenure, at least this many days, "
        "instead of by the whole window (a customer onboarded 40 days ago: / 40, not / 365); statements' "
        "volumes are monthly rates and keep the window (null: always the window, the rule before session 42)",
    )
    min_terms_days: int = Field(
        0,
        ge=0,
        le=365,
        description="payment terms count at least this many days (e.g. 14 for invoices due on receipt)",
    )
    bands: dict[str, BandFactors] = Field(
        default_factory=_default_bands,
        description="factors per risk band of the nightly config (every band needs an entry)",
    )
    caps: LimitCaps = LimitCaps()
    review: LimitReview = LimitReview()
    round_to: float = Field(
        500.0,
        gt=0.0,
        description="limits are rounded down to a multiple of this amount: the step of a currency worth half "
        "a euro to two euros (EUR, USD, GBP, CHF, ...) or of a book whose currency is not named; another "
        "currency's step is this step in that currency, on the 1-2-5 series (JPY 100,000, KWD 200; "
        "pipelines.scoring.limits.round_step)",
    )
    round_to_by_currency: dict[str, float] = Field(
        default_factory=dict,
        description="a step of your own per ISO-4217 code, over the one derived from round_to ({JPY: 10000})",
    )
    no_history: Literal["zero", "keep_current"] = Field(
        "zero",
        description="a debtor without invoices in the window: 'zero' (limit 0) or 'keep_current' (its "
        "current credit_limit, 0 when it has none)",
    )
    prospect_limit: float | None = Field(
        None,
        ge=0.0,
        description="a debtor never invoiced (no invoice, payment or statement by the as-of date: a "
        "prospect of the debtors table): null (no recommendation, its risk band left empty: the limit is "
        "set by hand) or a starting limit, the same in every variant, at most the caps and rounded down "
        "like the others",
    )

    @model_validator(mode="after")
    def _steps(self) -> CreditPolicyConfig:
        for code, step in self.round_to_by_currency.items():
            if not (len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
                raise ValueError(f"round_to_by_currency: {code!r} is not an ISO-4217 code such as JPY")
            if not step > 0:
                raise ValueError(f"round_to_by_currency.{code}: the step must be greater than 0, got {step}")
        return self

    def check_bands(self, names: list[str], where: str) -> None:
        """Raise :class:`ConfigError` unless ``bands`` holds exactly the risk bands ``names``."""
        missing = [n for n in names if n not in self.bands]
        extra = [n for n in self.bands if n not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unknown {extra}")
            raise ConfigError(
                f"{where}: bands: {'; '.join(parts)}; give factors for exactly the risk bands of the "
                f"nightly config {names}"
            )


def load_credit_policy(path: Path | None, band_names: list[str] | None = None) -> CreditPolicyConfig:
    """The policy of ``path`` (``kind: credit``), or the default when ``path`` is None or absent.

    ``band_names``: the nightly config's risk bands; the policy must give factors for each."""
    if path is not None and Path(path).exists():
        policy, where = load_config(path, expect=CreditPolicyConfig), str(path)
    else:
        policy, where = CreditPolicyConfig(), "the default credit policy"
    if band_names is not None:
        policy.check_bands(band_names, where)
    return policy
