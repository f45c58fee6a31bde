"""``kind: nightly`` -- risk bands, watchlist triggers, collections rules, drift limits and schedule.

Everything the nightly flow decides (who is flagged, why, which action is suggested, when it runs)
comes from this config; ``conf/nightly.yaml`` is the shipped default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from pipelines.config import ConfigModel

KIND = "nightly"

Action = Literal["reminder", "call", "payment_plan", "agency_referral"]


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


class TriggersConfig(ConfigModel):
    threshold: ThresholdTrigger = ThresholdTrigger()
    jump: JumpTrigger = JumpTrigger()
    migration: MigrationTrigger = MigrationTrigger()
    new_entrant: NewEntrantTrigger = NewEntrantTrigger()


class LGDConfig(ConfigModel):
    default: float = Field(0.45, gt=0.0, le=1.0, description="loss given default, share of EAD")
    by_segment: dict[str, float] = Field(default_factory=dict, description="overrides per debtor segment")

    @field_validator("by_segment")
    @classmethod
    def _in_unit_interval(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0.0 < v <= 1.0}
        if bad:
            raise ValueError(f"LGD must lie in (0, 1]; got {bad}")
        return value


class ActionRule(ConfigModel):
    """One dunning rule; it matches when every condition given holds. The first match wins."""

    action: Action
    in_default: bool | None = Field(None, description="debtor already in default at the as-of date")
    min_dpd: int | None = Field(None, ge=0, description="days past due of the oldest overdue invoice")
    min_pd: float | None = Field(None, ge=0.0, le=1.0)
    min_expected_loss: float | None = Field(None, ge=0.0, description="currency units")
    min_overdue: float | None = Field(None, ge=0.0, description="overdue amount, currency units")


class QueueConfig(ConfigModel):
    lgd: LGDConfig = LGDConfig()
    min_overdue: float = Field(0.0, ge=0.0, description="list debtors whose overdue amount exceeds this")
    xlsx_max_rows: int = Field(
        100_000,
        ge=1,
        le=1_048_575,
        description="top rows (by expected loss) in the XLSX; CSV/Parquet have all",
    )
    rules: tuple[ActionRule, ...] = (
        ActionRule(action="agency_referral", in_default=True),
        ActionRule(action="agency_referral", min_dpd=90),
        ActionRule(action="payment_plan", min_dpd=60),
        ActionRule(action="payment_plan", min_dpd=15, min_pd=0.15),
        ActionRule(action="call", min_dpd=30),
        ActionRule(action="call", min_pd=0.07),
    )
    default_action: Action = "reminder"


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


class Model(ConfigModel):
    kind: Literal["nightly"] = "nightly"
    project: Path = Field(Path("conf/ews.yaml"), description="project config: default definition, paths")
    model_name: str = "ews-pd"
    model_alias: str = "champion"
    data_dir: Path = Field(Path("data/sample"), description="data dir scored by `ews serve`")
    out_dir: Path = Field(Path("data/runs"), description="OUTDIR; each run publishes OUTDIR/<as_of>/")
    partition_rows: int = Field(
        4_000_000, ge=1, description="features are built in debtor partitions of about this many ledger rows"
    )
    max_quarantine_share: float = Field(
        0.2, ge=0.0, le=1.0, description="refuse to score when a table has more rejected rows than this"
    )
    bands: tuple[Band, ...] = (
        Band(name="A", min_pd=0.0),
        Band(name="B", min_pd=0.01),
        Band(name="C", min_pd=0.03),
        Band(name="D", min_pd=0.07),
        Band(name="E", min_pd=0.15),
    )
    triggers: TriggersConfig = TriggersConfig()
    queue: QueueConfig = QueueConfig()
    reasons: ReasonsConfig = ReasonsConfig()
    drift: DriftConfig = DriftConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    report: ReportConfig = ReportConfig()

    @model_validator(mode="after")
    def _bands_consistent(self) -> Model:
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
        ):
            if band not in names:
                raise ValueError(f"{where}: band {band!r} is not one of the bands {names}")
        return self

    def band_index(self, name: str) -> int:
        """Position of a band, 0 = safest."""
        return [b.name for b in self.bands].index(name)
