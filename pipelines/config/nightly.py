"""``kind: nightly`` -- risk bands, watchlist triggers, collections rules, drift limits and schedule.

Everything the nightly flow decides (who is flagged, why, which action is suggested, when it runs)
comes from this config; ``conf/nightly.yaml`` is the shipped default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from pipelines.config import ConfigModel

KIND = "nightly"

Action = Literal[
    "reminder",
    "call",
    "payment_plan",
    "final_notice",
    "agency_referral",
    "legal_review",
    "write_off_review",
]
"""Actions a rule may suggest. Two more are set by the queue itself, never by a rule:
``resolve_dispute`` (the overdue balance is in dispute) and ``monitor_plan`` (an agreed payment
plan is kept)."""

EventKind = Literal["insolvency", "agency_placement", "write_off"]
"""The kinds of the events table (DESIGN.md)."""
EventAction = Literal[
    ("file_claim", "claim_follow_up", "agency_follow_up", "written_off_recovery", *get_args(Action))
]
"""Actions for a debtor with an event (``events`` table): these three, or any rule :data:`Action`
(one Literal, so a wrong value gets one message listing every allowed action)."""


class Band(ConfigModel):
    name: str = Field(min_length=1, description="label shown to analysts, e.g. 'A'")
    min_pd: float = Field(ge=0.0, lt=1.0, description="lower PD bound of the band (inclusive)")


class ThresholdTrigger(ConfigModel):
    """Flag every debtor whose band is ``band`` or worse (PD above that band's lower bound)."""

    enabled: bool = True
    band: str = "D"


class JumpTrigger(ConfigModel):
    """Flag a PD rise since the previous run of at least ``abs_min`` AND ``rel_min`` (relative)."""

    enabled: bool = True
    abs_min: float = Field(0.03, gt=0.0, le=1.0, description="PD points, e.g. 0.03 = +3 pp")
    rel_min: float = Field(0.5, gt=0.0, description="relative rise, e.g. 0.5 = +50 %")


class MigrationTrigger(ConfigModel):
    """Flag a move to a worse band by at least ``min_notches`` that lands in ``min_band`` or worse."""

    enabled: bool = True
    min_notches: int = Field(1, ge=1)
    min_band: str = "C"


class NewEntrantTrigger(ConfigModel):
    """Flag a debtor absent from the previous run that enters ``band`` or worse."""

    enabled: bool = True
    band: str = "D"


class RankTrigger(ConfigModel):
    """Flag a live debtor whose PD is among the highest ``top_share`` of tonight's live debtors
    (its rank, highest PD first, ties at their best rank, is at most ``top_share`` x the live count)
    and at least ``min_pd``. A relative threshold: the list's size follows the book, not the
    calibration of the bands (band D sits far above the 90-day base rate of most books, and where
    the calibrator puts the PD level moves the absolute bands' list). On by default since session 20,
    beside the absolute triggers (a portfolio-wide rise of the PDs still grows the list through them):
    strict lead >= 60 d on 12 of 12 backtest books (0 of 12 without), BENCHMARKS.md s20-watch."""

    enabled: bool = True
    top_share: float = Field(0.10, gt=0.0, le=1.0, description="share of live debtors, e.g. 0.10 = top 10 %")
    min_pd: float = Field(0.005, ge=0.0, lt=1.0, description="never flag a PD below this by rank alone")


class LimitBreachTrigger(ConfigModel):
    """Flag exposure (open balance) above the debtor's current credit limit (when the debtors table
    has a positive one) by more than ``current_margin``, or above the recommended limit (``credit``,
    docs/credit_limits.md; when the debtor has a need, i.e. recent invoicing) by more than ``margin``;
    in both cases by more than ``min_excess`` currency units. The recommended-limit test has a
    materiality floor: an exposure below ``min_exposure`` or below ``min_exposure_share`` x the
    median open balance of the night's live debtors is not flagged (a tiny balance over the policy's
    smallest limit, "EUR 924 is more than 20 % above the recommended limit of EUR 500" at PD 0.013 %,
    read as noise to an analyst: s35-walk W3). In a run without a PD model (``without_pd_model: overdue``, the
    default since session 44) the overdue amount alone is compared with the current limit, on every run while it
    is above it."""

    enabled: bool = True
    current_margin: float = Field(
        0.0, ge=0.0, le=10.0, description="share above the current limit, e.g. 0.1 = exposure > 1.1 x limit"
    )
    margin: float = Field(
        0.2,
        ge=0.0,
        le=10.0,
        description="share above the recommended limit, e.g. 0.2 = exposure > 1.2 x limit",
    )
    min_excess: float = Field(0.0, ge=0.0, description="ignore excesses up to this amount (currency units)")
    min_exposure: float = Field(
        0.0,
        ge=0.0,
        description=(
            "materiality floor of the recommended-limit test: flag only an exposure of at least this amount "
            "(reporting currency); the current-limit test has none (the limit is the company's own)"
        ),
    )
    min_exposure_share: float = Field(
        0.5,
        ge=0.0,
        le=100.0,
        description=(
            "materiality floor of the recommended-limit test as a share of the book: flag only an exposure "
            "of at least this x the median open balance of tonight's live debtors with one; 0: off "
            "(0.5 since session 36: BENCHMARKS.md s36-watch)"
        ),
    )
    when: Literal["new", "always"] = Field(
        "new",
        description=(
            "new: fire on the night a breach appears (the debtor was within its limits in the previous "
            "run and for rearm_days before, or is not in it); always: every night the breach lasts (every breach is listed in "
            "credit_limits.csv either way)"
        ),
    )
    without_pd_model: Literal["overdue", "exposure"] = Field(
        "overdue",
        description=(
            "what the trigger compares with the current limit in a run without a PD model: overdue = the "
            "overdue amount alone above the current limit, on every run while it lasts (when and rearm_days "
            "apply to exposure only); exposure = the test of runs with a PD model (open balance, when, "
            "rearm_days). overdue since session 44: without a PD model the exposure test fired on growing "
            "customers' fresh invoices, below the base rate on fresh small books (BENCHMARKS.md s44-pdless)"
        ),
    )
    rearm_days: int = Field(
        365,
        ge=0,
        le=3650,
        description=(
            "with when: new, a breach is new only when the debtor was within its limits in every run of "
            "the last rearm_days days (scores.parquet's limit_over_on: the last run it was over one; "
            "limit_over_ledger_on: the last month-end the ledger shows over the current limit); "
            "0: within them in the previous run (a debtor dipping under and back over fires again; "
            "365 since session 32: BENCHMARKS.md s32-limit)"
        ),
    )


class DpdBucketTrigger(ConfigModel):
    """Flag a live debtor whose days past due (the oldest overdue open invoice's, scores.parquet
    ``dpd_current_max``) crossed into a higher bucket since the previous run: the buckets start at
    ``buckets`` (collections practice, not the default definition), e.g. 30 -> 60 -> 90. Needs no PD:
    on in runs without a PD model; in runs with one only with ``with_pd_model`` (the PD triggers
    already read the days past due there)."""

    enabled: bool = True
    buckets: list[int] = Field(
        default_factory=lambda: [30, 60, 90],
        min_length=1,
        description="days past due where a bucket starts, ascending, e.g. [30, 60, 90]",
    )
    with_pd_model: bool = False

    @field_validator("buckets")
    @classmethod
    def _ascending(cls, v: list[int]) -> list[int]:
        if any(b < 1 for b in v) or any(b >= c for b, c in zip(v, v[1:], strict=False)):
            raise ValueError(
                f"buckets must be whole days >= 1 in ascending order, e.g. [30, 60, 90], got {v}"
            )
        return v


class EventTrigger(ConfigModel):
    """Flag a live debtor with news since the previous run: an event of the events table dated after the
    previous run's as-of date (a kind outside the default definition's event_kinds: those put the debtor
    in default, so into the recovery queue), or an open invoice newly disputed (``open_disputed_amount``
    above 0 tonight, 0 in the previous run). Needs no PD: on in runs without a PD model; in runs with one
    only with ``with_pd_model``. The newly-disputed part only with ``disputes`` (off since session 44: on small
    books it fired below the base rate; a disputed invoice gets the queue's ``resolve_dispute`` action)."""

    enabled: bool = True
    with_pd_model: bool = False
    disputes: bool = Field(
        False,
        description=(
            "also fire on an open invoice newly disputed (open_disputed_amount above 0 tonight, 0 in the previous "
            "run); off since session 44: its precision was below the base rate on fresh small books "
            "(BENCHMARKS.md s44-pdless), and the queue gives a disputed balance its resolve_dispute action"
        ),
    )


class TriggersConfig(ConfigModel):
    threshold: ThresholdTrigger = ThresholdTrigger()
    jump: JumpTrigger = JumpTrigger()
    migration: MigrationTrigger = MigrationTrigger()
    new_entrant: NewEntrantTrigger = NewEntrantTrigger()
    limit_breach: LimitBreachTrigger = LimitBreachTrigger()
    rank: RankTrigger = RankTrigger()
    dpd_bucket: DpdBucketTrigger = DpdBucketTrigger()
    event: EventTrigger = EventTrigger()


class WatchlistConfig(ConfigModel):
    stay_days: int = Field(
        0,
        ge=0,
        description=(
            "a flagged debtor stays on the watchlist this many days after its last trigger "
            "(0: only on the nights a trigger fires); an analyst's clearing takes it off"
        ),
    )
    stay_band: str | None = Field(
        None,
        description=(
            "a flagged debtor also stays on the watchlist while its band is this band or worse "
            "(hysteresis: enter at triggers.threshold.band, leave below this one); null: off"
        ),
    )
    stay_top_share: float | None = Field(
        0.20,
        gt=0.0,
        le=1.0,
        description=(
            "a flagged debtor also stays on the watchlist while its PD is among the highest this share "
            "of tonight's live debtors and at least triggers.rank.min_pd (hysteresis for the rank "
            "trigger: enter in the top triggers.rank.top_share, leave outside this share); null: off; "
            "off too while triggers.rank.enabled is false"
        ),
    )


def _lgds_in_unit_interval(value: dict[str, float]) -> dict[str, float]:
    """LGDs by key (segment, event kind), each in (0, 1] (a NaN is refused too)."""
    bad = {k: v for k, v in value.items() if not 0.0 < v <= 1.0}
    if bad:
        raise ValueError(f"LGD must lie in (0, 1]; got {bad}")
    return value


class LGDConfig(ConfigModel):
    default: float = Field(0.45, gt=0.0, le=1.0, description="loss given default, share of EAD")
    by_segment: dict[str, float] = Field(default_factory=dict, description="overrides per debtor segment")

    _in_unit_interval = field_validator("by_segment")(_lgds_in_unit_interval)


class ActionRule(ConfigModel):
    """One collections rule; it matches when every condition given holds. The first match wins.

    Thresholds are collections practice, independent of the default definition (``conf/ews.yaml``):
    ``min_dpd: 90`` means 90 days past due whatever the label threshold is."""

    action: Action
    min_dpd: int | None = Field(
        None, ge=0, description="days past due of the oldest overdue invoice, at least"
    )
    max_dpd: int | None = Field(
        None, ge=0, description="days past due of the oldest overdue invoice, at most"
    )
    min_pd: float | None = Field(None, ge=0.0, le=1.0, description="PD at least (live queue)")
    min_expected_loss: float | None = Field(None, ge=0.0, description="currency units")
    min_overdue: float | None = Field(None, ge=0.0, description="undisputed overdue amount, currency units")
    min_exposure: float | None = Field(None, ge=0.0, description="exposure (open balance) at least")
    max_exposure: float | None = Field(None, ge=0.0, description="exposure (open balance) at most")


class QueueConfig(ConfigModel):
    """The live collections queue: overdue debtors not in default, ranked by expected loss
    weighted by days past due (``dpd_weight_days``)."""

    lgd: LGDConfig = LGDConfig()
    min_overdue: float = Field(0.0, ge=0.0, description="list debtors whose overdue amount exceeds this")
    dpd_weight_days: float | None = Field(
        90.0,
        gt=0.0,
        description="rank by priority = expected loss x (1 + days past due / this); null: by expected loss",
    )
    priority: Literal["auto", "pd", "blend"] = Field(
        "auto",
        description="the PD in the priority: pd = the model's PD; blend = (PD + pay_pd) / 2 (pay_pd: the "
        "payment-date model's own PD); auto = the key the model version chose at training time on its "
        "pooled rolling-origin folds or test window (tag ews.queue_key; pd for versions without it)",
    )
    xlsx_max_rows: int = Field(
        100_000,
        ge=1,
        le=1_048_575,
        description="top rows (by rank) in each XLSX; CSV/Parquet have all",
    )
    rules: tuple[ActionRule, ...] = (
        ActionRule(action="agency_referral", min_dpd=90),
        ActionRule(action="final_notice", min_dpd=60),
        ActionRule(action="payment_plan", min_dpd=30, min_pd=0.15),
        ActionRule(action="call", min_dpd=30),
        ActionRule(action="call", min_dpd=8, min_pd=0.07),
    )
    default_action: Action = "reminder"


class RecoveryConfig(ConfigModel):
    """The recovery queue: debtors already in default with an open balance, ranked by the
    recoverable amount (exposure x (1 - LGD)) discounted by age: halved every ``age_half_life_days``
    days past due, since old defaults recover less."""

    age_half_life_days: int = Field(
        365, ge=1, description="recoverable amount counts half after this many days past due"
    )
    lgd_by_event: dict[EventKind, float] = Field(
        default_factory=lambda: {"insolvency": 0.95},
        description="LGD of a debtor whose governing event (events table, as of the date) is this kind, "
        "instead of queue.lgd; an empty mapping: queue.lgd for every debtor",
    )
    rules: tuple[ActionRule, ...] = (
        ActionRule(action="write_off_review", min_dpd=720),
        ActionRule(action="write_off_review", min_dpd=180, max_exposure=250.0),
        ActionRule(action="legal_review", min_dpd=120, min_exposure=10_000.0),
        ActionRule(action="agency_referral", min_dpd=90),
    )
    default_action: Action = "final_notice"

    _event_lgd_in_unit_interval = field_validator("lgd_by_event")(_lgds_in_unit_interval)


class FollowUp(ConfigModel):
    """One step of an event's action in the recovery queue: after ``days`` the action is ``action``."""

    days: int = Field(
        ge=1, le=3650, description="days since the recovery queue first gave an action for the event"
    )
    action: EventAction = Field(description="the action from then on")


class EventActionsConfig(ConfigModel):
    """The next action of a debtor with an event dated on or before the as-of date, in either queue,
    before any payment plan, dispute or rule: what the event leaves to do. An insolvency wins over the
    other kinds (collection is stayed; the creditor files a claim with the administrator); otherwise the
    latest event counts. null: the event sets no action (plans, disputes and rules decide)."""

    insolvency: EventAction | None = Field(
        "file_claim", description="insolvency: file the claim with the insolvency administrator (no dunning)"
    )
    agency_placement: EventAction | None = Field(
        "agency_follow_up", description="already placed with a collection agency: follow the agency up"
    )
    write_off: EventAction | None = Field(
        "written_off_recovery", description="already written off: recovery of the written-off balance"
    )
    follow_up: dict[EventKind, tuple[FollowUp, ...]] = Field(
        default_factory=lambda: {
            "insolvency": (
                FollowUp(days=60, action="claim_follow_up"),
                FollowUp(days=730, action="write_off_review"),
            ),
            "agency_placement": (FollowUp(days=365, action="write_off_review"),),
        },
        description="what an event's action becomes in the recovery queue once the queue has given an action "
        "for that event this many days (its memory: the column event_action_since, carried from the previous "
        "run's recovery queue while the debtor stays in it with the same event); steps in increasing days; "
        "{}: the event's action every night",
    )

    @model_validator(mode="after")
    def _steps_increase(self) -> EventActionsConfig:
        for kind, steps in self.follow_up.items():
            days = [s.days for s in steps]
            if days != sorted(set(days)):
                raise ValueError(f"follow_up.{kind}: give the steps in increasing days, got {days}")
        return self

    def actions(self) -> dict[str, str | None]:
        """The action per event kind (``follow_up`` left out)."""
        return {k: getattr(self, k) for k in ("insolvency", "agency_placement", "write_off")}


class ReasonsConfig(ConfigModel):
    top_n: int = Field(4, ge=3, le=5, description="risk-raising reasons kept per flagged debtor")


class DriftConfig(ConfigModel):
    warning: float = Field(0.1, gt=0.0, description="PSI above this is a warning")
    alert: float = Field(0.25, gt=0.0, description="PSI above this is an alert")
    top_features: int = Field(10, ge=1, le=100, description="features checked besides the score")

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if self.alert <= self.warning:
            raise ValueError(f"alert ({self.alert}) must be above warning ({self.warning})")
        return self


class ScheduleConfig(ConfigModel):
    cron: str = Field("0 2 * * *", description="when `ews serve` runs the nightly flow")
    timezone: str = Field("Europe/Amsterdam", description="IANA time zone the cron is read in")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}, e.g. 'Europe/Amsterdam' or 'UTC'") from None
        return value

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        from prefect.schedules import validate_cron_string

        if len(value.split()) != 5:
            raise ValueError(f"cron needs 5 fields (minute hour day month weekday), got {value!r}")
        try:
            validate_cron_string(value)
        except ValueError as exc:
            raise ValueError(f"invalid cron {value!r}: {exc}") from None
        return value


class ReportConfig(ConfigModel):
    waterfalls: int = Field(15, ge=0, le=200, description="flagged debtors (highest PD) given a waterfall")
    top_changes: int = Field(25, ge=1, description="rows in the yesterday-vs-today table")
    max_watchlist_rows: int = Field(
        2000, ge=1, description="highest-PD watchlist rows in the page (CSV has all)"
    )
    debtor_details: int = Field(
        200, ge=0, le=5000, description="highest-PD watchlist rows given an expandable debtor page"
    )
    history_runs: int = Field(60, ge=1, description="earlier runs read for the PD trends and debtor history")
    months: int = Field(12, ge=1, le=60, description="month-ends in the DSO and aging history")
    dso_window_days: int = Field(
        90, ge=7, le=365, description="N of the standard DSO (sales of the last N days)"
    )


class BacktestConfig(ConfigModel):
    """``ews backtest``'s uncertainty: a 95 % interval by debtor bootstrap on each headline figure."""

    bootstrap_samples: int = Field(
        1000,
        description="debtor-bootstrap replicates for the 95 % intervals of backtest.json (resampling debtors "
        "with all their month-ends; 0: no intervals; at most 20,000)",
        ge=0,
        le=20000,
    )
    bootstrap_seed: int = Field(
        0, ge=0, description="seed of the replicates: a rerun gives the same intervals"
    )
    min_defaults: int = Field(
        10,
        ge=1,
        description="a figure resting on fewer defaulted debtors (lead times for the lead time) is printed "
        "as too thin to judge",
    )


class RatioLimit(ConfigModel):
    """Refuse when today's figure / the reference figure lies outside [min_ratio, max_ratio].

    Not checked when fewer than ``min_basis`` rows or debtors stand behind the figure on either side
    (tiny books move a lot by chance); a table that had rows and now has none always fails."""

    min_ratio: float = Field(gt=0.0, description="lowest allowed today / reference")
    max_ratio: float = Field(gt=0.0, description="highest allowed today / reference")
    min_basis: int = Field(ge=0, description="rows (or debtors) needed on both sides to check")

    @model_validator(mode="after")
    def _ordered(self) -> RatioLimit:
        if not self.min_ratio < 1.0 < self.max_ratio:
            raise ValueError(
                f"need min_ratio < 1 < max_ratio (an unchanged feed must pass), got {self.min_ratio} and {self.max_ratio}"
            )
        return self


class ShareLimit(ConfigModel):
    """Refuse when a share (0-1) rose by more than ``max_increase`` or fell by more than
    ``max_decrease`` share points against the reference; not checked below ``min_basis``."""

    max_increase: float = Field(gt=0.0, le=1.0, description="e.g. 0.10 = +10 percentage points")
    max_decrease: float = Field(1.0, gt=0.0, le=1.0, description="e.g. 0.10 = -10 percentage points")
    min_basis: int = Field(ge=0, description="rows (or debtors) needed on both sides to check")


def _merge(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    for key, value in given.items():
        base = out.get(key)
        out[key] = _merge(base, value) if isinstance(base, dict) and isinstance(value, dict) else value
    return out


class FeedLimits(ConfigModel):
    """Limits of the feed checks against one reference. Keys left out keep their defaults, so a
    file may set only ``rows: {max_ratio: 3}``."""

    DEFAULTS: ClassVar[dict[str, Any]] = {}

    rows: RatioLimit = Field(description="rows delivered per table (rows in, before quarantine)")
    event_rows: RatioLimit = Field(
        description="rows of the events table (insolvencies, write-offs, agency placements): a fall only "
        "by default, a rise is news (a year-end clean-up's write_off events, a wave of insolvencies), and a "
        "false crisis from it is caught by default_share"
    )
    debtors: RatioLimit = Field(description="scored debtors (the book's size)")
    invoices_per_debtor: RatioLimit = Field(
        description="invoices issued in the 90 days up to the as-of date / scored debtors (basis: debtors; "
        "accepted invoices / scored debtors against a reference without that figure)"
    )
    payments_per_invoice: RatioLimit = Field(description="accepted payments / accepted invoices")
    paid_per_invoiced: RatioLimit = Field(
        description="each debtor's amount paid / amount invoiced in the 90 days up to the as-of date, the median "
        "over the debtors that both paid and were invoiced (basis: those debtors): a file in cents or thousands "
        "moves it 100- or 1000-fold"
    )
    exposure: RatioLimit = Field(description="total open balance of the scored debtors (basis: debtors)")
    default_exposure: RatioLimit = Field(
        description="open balance of the debtors in default (the recovery queue's; basis: debtors in default)"
    )
    default_share: ShareLimit = Field(description="share of scored debtors already in default")
    quarantine_share: ShareLimit = Field(description="share of a table's rows rejected at ingest")
    allocated_share: ShareLimit = Field(description="share of payments that name their invoice_id")

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        return _merge(cls.DEFAULTS, data) if isinstance(data, dict) else data


class PreviousLimits(FeedLimits):
    """Against the previous published run: consecutive runs of one book barely move."""

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "rows": {"min_ratio": 0.67, "max_ratio": 1.5, "min_basis": 50},
        # a rise of events is news: a clean-up's 118 write_off events in a day were refused (s25-history)
        "event_rows": {"min_ratio": 0.67, "max_ratio": 1000.0, "min_basis": 50},
        "debtors": {"min_ratio": 0.67, "max_ratio": 1.5, "min_basis": 50},
        "invoices_per_debtor": {"min_ratio": 0.67, "max_ratio": 1.5, "min_basis": 50},
        "payments_per_invoice": {"min_ratio": 0.67, "max_ratio": 1.5, "min_basis": 50},
        # the median of each debtor's paid / invoiced in 90 days (s31-hostile; the book's sum before, which
        # one large debtor's backlog paid at once moved 5-fold): about 1 on any book, 0.74-1.40 month to
        # month, night to night and against the first year on 17 generated, unseen, third-simulator books;
        # a payments file in cents (x 100) was published with exit 0 (s30-hostile). Wide: seasonal books
        "paid_per_invoiced": {"min_ratio": 0.25, "max_ratio": 4.0, "min_basis": 50},
        "exposure": {"min_ratio": 0.5, "max_ratio": 2.0, "min_basis": 20},
        # a fall only: a rise is a default (on a concentrated book the largest debtors' alone, s24-review)
        "default_exposure": {"min_ratio": 0.25, "max_ratio": 1000.0, "min_basis": 20},
        "default_share": {"max_increase": 0.10, "max_decrease": 0.10, "min_basis": 50},
        "quarantine_share": {"max_increase": 0.10, "max_decrease": 1.0, "min_basis": 50},
        "allocated_share": {"max_increase": 1.0, "max_decrease": 0.25, "min_basis": 50},
    }


class TrainingLimits(FeedLimits):
    """Against the champion's training data: wider, the book grows between trainings."""

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "rows": {"min_ratio": 0.25, "max_ratio": 4.0, "min_basis": 50},
        "event_rows": {"min_ratio": 0.25, "max_ratio": 1000.0, "min_basis": 50},
        # the model knows the book's size: half its debtors, or half their invoices, gone in a new
        # output folder (no previous run) was published with exit 0 (s21-chaos)
        "debtors": {"min_ratio": 0.67, "max_ratio": 4.0, "min_basis": 50},
        "invoices_per_debtor": {"min_ratio": 0.67, "max_ratio": 4.0, "min_basis": 50},
        "payments_per_invoice": {"min_ratio": 0.5, "max_ratio": 2.0, "min_basis": 50},
        "paid_per_invoiced": {"min_ratio": 0.1, "max_ratio": 10.0, "min_basis": 50},
        "exposure": {"min_ratio": 0.2, "max_ratio": 5.0, "min_basis": 20},
        "default_exposure": {"min_ratio": 0.1, "max_ratio": 1000.0, "min_basis": 20},
        "default_share": {"max_increase": 0.15, "max_decrease": 0.15, "min_basis": 50},
        "quarantine_share": {"max_increase": 0.10, "max_decrease": 1.0, "min_basis": 50},
        "allocated_share": {"max_increase": 1.0, "max_decrease": 0.5, "min_basis": 50},
    }


class LagLimit(ConfigModel):
    """Refuse a payments feed whose latest payment is more than ``margin_days`` days older than the
    book's usual silence and posting delay allow (``pipelines.feed_checks.table_lag``: the longest
    run of days without a payment in the year before, at least the training data's; the delay:
    ``delay_days``, or the training feed's own payments lag when longer, never above the previous
    run's payments lag), while the invoices keep
    their usual pace; not checked with fewer than ``min_days`` payment days in that year. Once a run
    published 7 to 35 days before is remembered, counted in usual payment days against the largest
    lag of those runs (``pipelines.feed_checks.payments_lag``)."""

    margin_days: int = Field(1, ge=0, description="days allowed beyond the book's longest usual silence")
    min_days: int = Field(20, ge=1, description="days with a payment in the last 365 needed to check")
    delay_days: int = Field(
        0,
        ge=0,
        description="days your payments feed is usually behind the invoices (cash applied a day or two after the "
        "bank's value date); the training feed's own payments lag counts when longer, up to "
        "pipelines.feed_checks.MAX_TRAINED_DELAY_DAYS",
    )


class FeedChecksConfig(ConfigModel):
    """Table-level checks of the feed before a run is published (see README, "Feed checks").

    Above a limit the run is refused (exit code 3, nothing published) unless ``--accept-feed``."""

    enabled: bool = Field(True, description="false: compute and report the figures, never refuse")
    previous: PreviousLimits = Field(PreviousLimits(), description="against the previous published run")
    training: TrainingLimits = Field(TrainingLimits(), description="against the champion's training data")
    stated_amounts: RatioLimit = Field(
        RatioLimit(min_ratio=0.1, max_ratio=10.0, min_basis=20),
        description="the debtors' stated amounts (credit_limit, annual_turnover, net_worth) against the previous "
        "run: the median ratio over the debtors stating one on both nights (basis: those debtors); a debtors "
        "file in cents moves it 100-fold",
    )
    first_night: bool = Field(
        True,
        description="a first run into an output folder (no previous run) judges the export against its own "
        "past year: the whole ledger silent beyond its longest silence (an export a month old), or a table "
        "silent three weeks or more in the last 90 days, twice its longest before (a month missing)",
    )
    payments_lag: LagLimit = Field(
        LagLimit(),
        description="the payments feed behind the invoices feed and the as-of date by more than its usual "
        "silence (a payment export not run for days: invoices paid since look unpaid)",
    )


class NightlyConfig(ConfigModel):
    kind: Literal["nightly"] = "nightly"
    project: Path = Field(Path("conf/ews.yaml"), description="project config: default definition, paths")
    model_name: str = "ews-pd"
    model_alias: str = "champion"
    data_dir: Path = Field(Path("data/sample"), description="data dir scored by `ews serve`")
    out_dir: Path = Field(Path("data/runs"), description="OUTDIR; each run publishes OUTDIR/<as_of>/")
    partition_rows: int = Field(
        4_000_000,
        ge=1,
        description="with --raw input: in-memory debtor buckets of about this many ledger rows (an ingested "
        "folder brings its own buckets, see rules.bucket_rows of the source config)",
    )
    max_quarantine_share: float = Field(
        0.2, ge=0.0, le=1.0, description="feed check: refuse when a table has more rejected rows than this"
    )
    max_quarantine_min_rows: int = Field(
        5,
        ge=1,
        description="max_quarantine_share judges a table from this many rejected rows (exact copies not "
        "counted): fewer stay in quarantine with their reasons and the run goes on (one bad plan of a 3-row "
        "payment_plans table, 33 %, refused the whole nightly: s43-attack)",
    )
    max_data_lag_days: int = Field(
        35,
        ge=0,
        description="refuse (exit 3, --accept-feed overrides) an as-of date more than this many days after "
        "the latest invoice, payment, event or statement in --data: every open invoice would age without "
        "payments (a stale export or a typo in --as-of)",
    )
    feed_checks: FeedChecksConfig = FeedChecksConfig()
    bands: tuple[Band, ...] = (
        Band(name="A", min_pd=0.0),
        Band(name="B", min_pd=0.01),
        Band(name="C", min_pd=0.03),
        Band(name="D", min_pd=0.07),
        Band(name="E", min_pd=0.15),
    )
    triggers: TriggersConfig = TriggersConfig()
    watchlist: WatchlistConfig = WatchlistConfig()
    teams: Path | None = Field(
        None, description="collectors and daily capacity (kind: teams); absent: every row to 'unassigned'"
    )
    credit: Path | None = Field(
        Path("conf/credit.yaml"),
        description="credit-limit policy (kind: credit); absent file: the default policy (docs/credit_limits.md)",
    )
    queue: QueueConfig = QueueConfig()
    event_actions: EventActionsConfig = EventActionsConfig()
    recovery: RecoveryConfig = RecoveryConfig()
    reasons: ReasonsConfig = ReasonsConfig()
    drift: DriftConfig = DriftConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    report: ReportConfig = ReportConfig()
    backtest: BacktestConfig = BacktestConfig()

    @model_validator(mode="after")
    def _runs_apart_from_data(self) -> NightlyConfig:
        """``ews serve`` scores ``data_dir`` into ``out_dir``: not one folder (`ews score` refuses it too)."""
        data, out = Path(os.path.normpath(self.data_dir)), Path(os.path.normpath(self.out_dir))
        if data == out:
            raise ValueError(
                f"out_dir {str(self.out_dir)!r} is data_dir: the runs and the audit log would sit among the "
                "ingested tables; give out_dir a folder of its own (e.g. data/runs)"
            )
        if data in out.parents:  # s44-attack: a folder inside data_dir was accepted
            raise ValueError(
                f"out_dir {str(self.out_dir)!r} is inside data_dir {str(self.data_dir)!r}: the runs and the audit "
                "log would go with the ingested tables when that folder is deleted to ingest the book over; give "
                "out_dir a folder beside it (e.g. data/runs)"
            )
        return self

    @model_validator(mode="after")
    def _bands_consistent(self) -> NightlyConfig:
        names = [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError(f"bands: names must be unique, got {names}")
        bounds = [b.min_pd for b in self.bands]
        if not bounds or bounds[0] != 0.0:
            raise ValueError("bands: the first band must start at min_pd: 0.0")
        if any(nxt <= cur for cur, nxt in zip(bounds, bounds[1:], strict=False)):
            raise ValueError(f"bands: min_pd must increase strictly from band to band, got {bounds}")
        t = self.triggers
        for where, band in (
            ("triggers.threshold.band", t.threshold.band),
            ("triggers.migration.min_band", t.migration.min_band),
            ("triggers.new_entrant.band", t.new_entrant.band),
            ("watchlist.stay_band", self.watchlist.stay_band or names[0]),
        ):
            if band not in names:
                raise ValueError(f"{where}: band {band!r} is not one of the bands {names}")
        return self

    def band_index(self, name: str) -> int:
        """Position of a band, 0 = safest."""
        return [b.name for b in self.bands].index(name)
