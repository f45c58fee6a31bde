"""``kind: train`` -- snapshots, out-of-time split, model settings, calibration and promotion gate.

``conf/train.yaml`` is the shipped default. The whole resolved model is logged to MLflow as params,
and :meth:`TrainConfig.to_params` turns it into the typed parameters ``models.train`` receives.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from pipelines.config import ConfigModel

if TYPE_CHECKING:  # the model packages import LightGBM/scikit-learn: only load them when converting
    from models.evaluate import GateThresholds
    from models.paydate import PaydateParams
    from models.rollrate import RollRateParams
    from models.scorecard import ScorecardParams
    from models.split import SplitParams
    from models.train import LGBMParams, TrainParams

KIND = "train"


class SnapshotsConfig(ConfigModel):
    """Month-end as-of dates to build. Empty ``start`` = the first month-end with
    ``min_history_months`` of history after the earliest invoice/statement; empty ``end`` = the last
    month-end covered by the data."""

    start: date | None = None
    end: date | None = None
    min_history_months: int = Field(3, ge=0, description="months of history before the first snapshot")

    @model_validator(mode="after")
    def _ordered(self) -> SnapshotsConfig:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"snapshots.end {self.end} is before snapshots.start {self.start}")
        return self


class SplitConfig(ConfigModel):
    """Out-of-time windows, counted in snapshots back from the test window. An empty count pools the
    fewest snapshots holding ``min_defaults`` default labels (small books get wider windows)."""

    test_as_of: date | None = Field(
        None, description="last snapshot of the test window; empty = latest with a fully observed horizon"
    )
    test_snapshots: int | None = Field(None, ge=1, description="empty = pool until min_defaults")
    calibration_snapshots: int | None = Field(None, ge=1, description="empty = pool until min_defaults")
    validation_snapshots: int | None = Field(
        None, ge=1, description="last training snapshots, for early stopping; empty = pool until min_defaults"
    )
    train_snapshots: int | None = Field(None, ge=2, description="empty = every earlier snapshot")
    gap_snapshots: int = Field(0, ge=0, description="unused snapshots between windows")
    min_defaults: int = Field(30, ge=5, description="fewest default labels accepted per window")
    test_defaults_share: float = Field(
        0.2, ge=0, le=0.5, description="an automatic test window also holds this share of all default labels"
    )

    def to_params(self) -> SplitParams:
        import pandas as pd

        from models.split import SplitParams

        return SplitParams(
            test_as_of=pd.Timestamp(self.test_as_of) if self.test_as_of else None,
            test_snapshots=self.test_snapshots,
            calibration_snapshots=self.calibration_snapshots,
            validation_snapshots=self.validation_snapshots,
            train_snapshots=self.train_snapshots,
            gap_snapshots=self.gap_snapshots,
            min_defaults=self.min_defaults,
            test_defaults_share=self.test_defaults_share,
        )

    @model_validator(mode="after")
    def _train_longer_than_validation(self) -> SplitConfig:
        v = self.validation_snapshots
        if self.train_snapshots is not None and v is not None and self.train_snapshots <= v:
            raise ValueError(
                f"train_snapshots ({self.train_snapshots}) must exceed validation_snapshots ({v})"
            )
        return self


class LightGBMConfig(ConfigModel):
    """Compact, regularised trees (nightly SHAP cost grows with trees x leaves x depth^2)."""

    n_estimators: int = Field(300, ge=1, le=5000, description="ceiling; early stopping picks the count")
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(15, ge=2, le=255)
    max_depth: int = Field(5, ge=1, le=16)
    min_child_samples: int = Field(100, ge=1)
    reg_lambda: float = Field(5.0, ge=0)
    reg_alpha: float = Field(0.0, ge=0)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    min_split_gain: float = Field(0.0, ge=0)
    cat_smooth: float = Field(20.0, ge=0)
    early_stopping_rounds: int = Field(30, ge=1)
    refit_with_validation: bool = True
    n_jobs: int = Field(1, ge=1, description="LightGBM threads; 1 is fastest on a shared box")

    def to_params(self) -> LGBMParams:
        from models.train import LGBMParams

        return LGBMParams(**self.model_dump())


class ScorecardConfig(ConfigModel):
    max_n_prebins: int = Field(20, ge=2)
    min_prebin_size: float = Field(0.05, gt=0, lt=0.5)
    max_n_bins: int = Field(8, ge=2)
    C: float = Field(1.0, gt=0)

    def to_params(self) -> ScorecardParams:
        from models.scorecard import ScorecardParams

        return ScorecardParams(**self.model_dump())


class CalibrationConfig(ConfigModel):
    """How the raw score becomes a PD (``models.calibrate``). Every method is strictly increasing,
    so calibration keeps the ranking; the PD is then clipped to ``[pd_floor, pd_ceiling]``."""

    method: Literal["auto", "none", "sigmoid", "beta", "isotonic"] = Field(
        "auto", description="auto = lowest out-of-time log-loss (calibration window -> test window)"
    )
    min_isotonic_defaults: int = Field(
        200, ge=10, description="isotonic is tried only with this many defaults in the calibration window"
    )
    oof_folds: int = Field(
        5,
        ge=0,
        le=20,
        description="the shipped (refitted) model's calibrator: chosen (none/sigmoid/beta) and fitted on "
        "this many debtor-grouped out-of-fold raw scores of the refit; 0 = fitted on the out-of-time "
        "scores of the calibration and test windows (before session 17)",
    )
    window_identity: bool = Field(
        False,
        description="the out-of-time model's calibrator (test-window figures, the gate, the kind choice): "
        "the identity (the model's own probability) among its candidates too, first, as for the shipped one",
    )
    window_prior: float = Field(
        0.0,
        ge=0,
        description="the out-of-time model's calibrator: its level shrunk toward the validation window's "
        "default rate (the month-ends just before the calibration window) with a prior worth this many "
        "defaulting debtors against the calibration window's own (models.calibrate.shrink_level); 0 = off",
    )

    @model_validator(mode="after")
    def _folds(self) -> CalibrationConfig:
        if self.oof_folds == 1:
            raise ValueError("calibration.oof_folds must be 0 (off) or at least 2")
        return self

    pd_floor: float = Field(1e-4, gt=0, lt=0.5, description="lowest published PD (never exactly 0)")
    pd_ceiling: float = Field(0.9999, gt=0.5, lt=1, description="highest published PD (never exactly 1)")


class EvaluationConfig(ConfigModel):
    """Test-window figures: debtor-bootstrap intervals and which model competes for champion."""

    bootstrap_samples: int = Field(200, ge=20, le=5000, description="replicates, resampling debtors")
    challenger: Literal["auto", "lightgbm", "scorecard"] = Field(
        "auto",
        description="auto = the winner on the test window (log-loss, then AUC; tie -> more folds, then scorecard)",
    )
    fold_defaults: int = Field(
        300,
        ge=0,
        description="a test window with fewer defaults is underpowered: the challenger is then chosen on "
        "rolling-origin folds pooled until they hold this many (0 = always the test window alone)",
    )
    max_folds: int = Field(4, ge=2, le=24, description="most rolling-origin folds (each refits both models)")
    tie_folds: bool = Field(
        True,
        description="no clear winner on that evidence: judge again on every rolling-origin fold the book "
        "allows (up to max_folds) before the tie goes to the scorecard",
    )


class GateConfig(ConfigModel):
    """Sample-size aware promotion gate (``models.evaluate.gate_decision``)."""

    min_auc: float = Field(0.70, ge=0, le=1, description="floor of the challenger's test AUC")
    ece_margin: float = Field(
        0.005, ge=0, le=1, description="added to the chance ECE of a calibrated model on the test rows"
    )
    ece_chance: Literal["rows", "debtors"] = Field(
        "rows",
        description="the ECE limit of a model trained on the four out-of-time windows: rows = the 95th "
        "percentile of the chance ECE with each row's label drawn on its own, + ece_margin; debtors = the "
        "99th percentile with the labels drawn as debtor paths (one default is a 1 at each of the "
        "debtor's month-ends within the horizon before it), no margin. Small books: rows, always",
    )

    def to_params(self) -> GateThresholds:
        from models.evaluate import GateThresholds

        return GateThresholds(**self.model_dump())


class FeaturesConfig(ConfigModel):
    exclude: tuple[str, ...] = Field((), description="feature columns never used by the model")
    categorical: tuple[str, ...] = ("segment", "country")
    segment_column: str = Field("segment", description="column for the by-segment evaluation table")


class PaydateConfig(ConfigModel):
    """The payment-date hazard model ``ews-paydate`` (docs/paydate.md): its out-of-time plan, training
    sample and LightGBM settings. The nightly's prediction cost grows with ``n_estimators`` and with
    ``horizon_weeks`` (one prediction per open invoice per week while it may still be open)."""

    horizon_weeks: int = Field(
        26, ge=13, le=104, description="weeks forecast per open invoice; at least the 13-week cash forecast"
    )
    train_snapshots: int = Field(
        16,
        ge=1,
        le=120,
        description="month-ends the model is trained on (16 since session 23, with recency_half_life_days; "
        "was 8)",
    )
    test_snapshots: int = Field(
        3,
        ge=1,
        le=24,
        description="latest month-ends with a fully observed horizon, held out for the figures",
    )
    fold_min_snapshots: int = Field(
        16,
        ge=1,
        le=120,
        description="fewest month-ends before a rolling-origin fold's cut for the queue key's payment-date "
        "model of that fold (at most train_snapshots); the fold's model trains on the latest "
        "train_snapshots of them, or on all when fewer, as the registered model does on a short book. "
        "8 was pre-registered in session 24 and not shipped (BENCHMARKS.md)",
    )
    window_min_snapshots: int = Field(
        1,
        ge=0,
        le=120,
        description="the cut payment-date model of the queue key's test window and of ews backtest's "
        "pay_pd when the history up to the cut is too short for ews train's plan (its held-out "
        "windows): 0 = no model (the PD key); N >= 1 = trained as the registered model on the latest "
        "train_snapshots month-ends before the cut, or on all when fewer, if at least N. 1 since session 26 "
        "(pre-registered on 11 fresh 24- and 30-month books, met: forward queue_capture_top20 +0.0435 "
        "[+0.0089, +0.0923], significantly worse on none; BENCHMARKS.md)",
    )
    gate_min_heldout_snapshots: int = Field(
        0,
        ge=0,
        le=120,
        description="fewest month-ends the held-out model behind the gate's figures trained on; fewer: "
        "the version is not promoted (0: no minimum). 6, with gate_min_test_snapshots 3 and "
        "gate_min_debtors 100, was pre-registered in session 25 and not shipped (BENCHMARKS.md)",
    )
    gate_min_test_snapshots: int = Field(
        0,
        ge=0,
        le=24,
        description="fewest test month-ends the gate's figures pool; fewer: not promoted (0: no minimum)",
    )
    gate_min_debtors: int = Field(
        0,
        ge=0,
        description="fewest debtors with a test invoice paid within the horizon; fewer: not promoted (0: no minimum)",
    )
    max_invoices_per_snapshot: int = Field(
        3000,
        ge=100,
        description="open invoices sampled per training month-end (seeded; the hazard stays unbiased)",
    )
    n_estimators: int = Field(80, ge=10, le=2000, description="trees (no early stopping)")
    learning_rate: float = Field(0.15, gt=0, le=1)
    num_leaves: int = Field(31, ge=2, le=255)
    min_child_samples: int = Field(200, ge=1, description="fewest person-period rows per leaf")
    rows_per_leaf: int = Field(
        6000,
        ge=0,
        description="leaves per tree lowered to one per this many training rows (at least 7, at most "
        "num_leaves): small books overfit the full tree, their p10-p90 too narrow (BENCHMARKS.md, "
        "session 17 lead); 0: always num_leaves",
    )
    fine_days: int = Field(
        0,
        ge=0,
        le=7,
        description="hazard periods of this many days around the due date (0: weeks only; "
        "measured in BENCHMARKS.md, session 5b)",
    )
    fine_before: int = Field(
        7, ge=0, le=60, description="fine periods from this many days before the anchor day"
    )
    fine_after: int = Field(
        21, ge=0, le=120, description="fine periods up to this many days after the anchor day"
    )
    fine_anchor: Literal["due", "usual"] = Field(
        "due", description="fine periods around the due date or the debtor's recent usual payment day"
    )
    interval: Literal["shaped", "mid", "first"] = Field(
        "shaped",
        description="paid_on_p10 / paid_on_p90: each day counted at its middle, the week's probability "
        "spread over its days as in the training rows (shaped) or evenly (mid); or the first day the "
        "CDF reaches 0.1 / 0.9 (first, before session 8). BENCHMARKS.md, session 8",
    )
    weekday_median: bool = Field(
        False,
        description="expected_paid_on with each week's probability spread over its days by the training "
        "rows' share of settlements per weekday (false: evenly, the default). BENCHMARKS.md, session 8",
    )

    recency_half_life_days: float = Field(
        91.0,
        ge=0.0,
        le=3650.0,
        description="training rows weighted 0.5 ** (age / this), age = days from the end of the row's week "
        "to the latest one, mean 1: the recent economy counts more (0: unweighted). Pre-registered with 16 "
        "training month-ends on fresh books: MAE -0.085 d [-0.106, -0.064] pooled, weekly cash APE lower "
        "(BENCHMARKS.md, session 23)",
    )

    @model_validator(mode="after")
    def _enough_boosting(self) -> PaydateConfig:
        if self.n_estimators * self.learning_rate < 3.0:
            raise ValueError(
                f"n_estimators x learning_rate = {self.n_estimators} x {self.learning_rate} = "
                f"{self.n_estimators * self.learning_rate:.2f} is below 3: the hazards would stay near the "
                "starting value; raise n_estimators or learning_rate"
            )
        return self

    def to_params(self, seed: int) -> PaydateParams:
        from models.paydate import PaydateParams

        return PaydateParams(
            horizon_weeks=self.horizon_weeks,
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            rows_per_leaf=self.rows_per_leaf,
            seed=seed,
            fine_days=self.fine_days,
            fine_before=self.fine_before,
            fine_after=self.fine_after,
            fine_anchor=self.fine_anchor,
            interval=self.interval,
            weekday_median=self.weekday_median,
            recency_half_life_days=self.recency_half_life_days,
        )


class RollRateConfig(ConfigModel):
    """The small-book path (``models.rollrate``, docs/small_books.md): a roll-rate / provision-matrix
    model, used by ``ews train`` when the book cannot fill the out-of-time windows of the LightGBM
    protocol (``split.min_defaults`` per window). Below its own minimum the book is refused."""

    enabled: bool = Field(True, description="use the roll-rate model when the windows cannot be filled")

    @model_validator(mode="before")
    @classmethod
    def _challenge_alone_keeps_its_meaning(cls, data: Any) -> Any:
        # a config written before session 21 with `challenge: true` (and no all_labelled) asked for the
        # session-17 comparison: it gets it, not an error on upgrade; both set true is still refused
        if isinstance(data, dict) and data.get("challenge") is True and "all_labelled" not in data:
            return {**data, "all_labelled": False}
        return data

    dpd_edges: tuple[int, ...] = Field(
        (30, 60),
        description="upper edges (days) of the past-due buckets below the default threshold: 1-30, 31-60, 61-89",
    )
    split_current: str | None = Field(
        None,
        description="feature whose value > 0 splits 'current' (e.g. dpd_max_90d); null: no split "
        "(measured on 36 books: +0.003-0.005 AUC on average, worse at 100 debtors; BENCHMARKS.md s6-small)",
    )
    prior_strength: float = Field(
        10.0, gt=0, description="pseudo-moves pulling each state's row towards the pooled row"
    )
    monotone: bool = Field(
        True,
        description="PDs non-decreasing from current through each past-due bucket (weighted "
        "pool-adjacent-violators over the states, weights = moves + prior); measured on 72 generated "
        "books: AUC up on the 16 it changes, Brier never higher (BENCHMARKS.md s11-small)",
    )
    within_state: tuple[str, ...] = Field(
        ("dpd_max_180d", "overdue_share"),
        description="risk-raising features that resolve the PD inside a state (logistic on the odds of "
        "rolling forward, each state's mean PD kept, states kept in order); used only when it does not "
        "make the out-of-time log-loss worse; empty: one PD per state (BENCHMARKS.md s12-rollrate)",
    )
    within_penalty: float = Field(1.0, gt=0, description="ridge penalty on the within-state coefficients")
    within_gain_sd: float = Field(
        0.0,
        ge=0,
        description="> 0: a scale (>= 1) on the within-state adjustment, fitted on the horizon's default "
        "labels and shrunk towards 1 with this prior sd (a one-month roll's odds are too timid for a "
        "3-month PD), used only when not worse out of time; 0: scale 1. Off by default: on 59 36-month "
        "books Brier significantly lower on 12 and never higher, ECE not lower on most (BENCHMARKS.md s13-rollrate)",
    )
    silent: bool = Field(
        True,
        description="true: a live debtor with an overdue balance, no payment for silent_payment_days and no "
        "invoice for silent_invoice_days (and silent_invoice_gaps x its usual gap between invoices) stopped "
        "paying and buying: its PD is raised to its PD in a second roll-rate model where 'silent' is a state "
        "with its own transition row (never lowered; nobody else's PD moves) "
        "(docs/small_books.md; BENCHMARKS.md s18-silent)",
    )
    silent_payment_days: int = Field(45, ge=1, description="fewest days without a payment for 'silent'")
    silent_invoice_days: int = Field(30, ge=0, description="fewest days without an invoice for 'silent'")
    silent_invoice_gaps: float = Field(
        2.0,
        ge=0,
        description="and at least this many of the debtor's usual gaps between invoices (the last year, or its "
        "tenure when shorter, over its invoices in it), so a debtor that orders once a quarter is not silent after 30 days",
    )
    silent_max_dpd: int | None = Field(
        None,
        ge=1,
        description="a debtor more days past due than this stays in its bucket (null: the last of dpd_edges, 60): "
        "the last bucket already rolls into default",
    )
    challenge: bool = Field(
        False,
        description="on such a book also train LightGBM/the scorecard at challenge_min_defaults per window "
        "and ship it instead of the roll-rate model only when it is better on pooled rolling-origin "
        "folds (models.smallbook; docs/small_books.md)",
    )
    challenge_min_defaults: int = Field(
        15,
        ge=5,
        description="per-window default minimum of that feature model; a book that cannot fill its "
        "windows at it gets the roll-rate model without a comparison",
    )
    challenge_fold_defaults: int | None = Field(
        10,
        ge=5,
        description="per-window default minimum of the rolling-origin folds the two are compared on; "
        "null: challenge_min_defaults; fewer than 2 folds: the roll-rate model without a comparison",
    )
    all_labelled: bool = Field(
        True,
        description="on such a book also fit LightGBM on every labelled month-end (tree count from inner "
        "rolling-origin folds) and ship it instead of the roll-rate model when the folds hold at least "
        "all_labelled_min_fold_defaults defaults and its pooled fold log-loss is lower "
        "(models.smallbook.all_labelled_choice; BENCHMARKS.md s21-small); takes the place of challenge",
    )
    all_labelled_months: int = Field(
        6, ge=2, description="the last labelled month-ends that form the inner folds of all_labelled"
    )
    all_labelled_fold_months: int = Field(2, ge=1, description="consecutive month-ends per inner fold")
    all_labelled_min_fold_defaults: int = Field(
        25,
        ge=1,
        description="fewest defaults over the pooled inner folds for all_labelled to choose LightGBM",
    )
    all_labelled_calibration: bool = Field(
        True,
        description="put the large book's refit calibrator (none / sigmoid / beta, chosen on debtor-grouped "
        "out-of-fold raw scores of the refit, models.smallbook.all_labelled_refit_calibrator) behind the "
        "all_labelled LightGBM, and each inner fold's LightGBM behind its own such calibrator (chosen on its "
        "training rows) for the tree count and the kind (BENCHMARKS.md s23-folds; a fold without one is left out, "
        "s24-foldscale); false: the raw probability, "
        "clipped, and raw fold PDs (BENCHMARKS.md s22-calib)",
    )
    all_labelled_trees: tuple[int, ...] = Field(
        (25, 50, 100, 150, 200, 300),
        description="candidate tree counts of all_labelled (the lowest pooled fold log-loss wins)",
    )
    min_months: int = Field(6, ge=4, description="fewest month-ends (3 for the horizon + 3 to fit on)")
    min_transitions: int = Field(200, ge=1, description="fewest month-end moves of live debtors")
    min_default_transitions: int = Field(3, ge=1, description="fewest month-end moves into default")

    @model_validator(mode="after")
    def _edges_increasing(self) -> RollRateConfig:
        # the past-due buckets and the silent state's default cap read the last edge: an empty or
        # unordered list gave no bucket (or overlapping ones) without a word at `ews config check`
        edges = list(self.dpd_edges)
        if not edges or edges[0] < 1 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError(
                f"rollrate.dpd_edges {edges} must be one or more increasing whole days past due, each "
                "at least 1 (e.g. [30, 60] for the buckets 1-30, 31-60, 61-89)"
            )
        return self

    def to_params(self, definition: Any, cfg: Any) -> RollRateParams:
        """``definition``: the project's ``DefaultDefinition`` (threshold, horizon); ``cfg``: the
        train config (PD floor and ceiling, test defaults, bootstrap, seed)."""
        from models.rollrate import RollRateParams

        return RollRateParams(
            dpd_edges=tuple(self.dpd_edges),
            dpd_threshold=definition.dpd_threshold,
            horizon_days=definition.horizon_days,
            min_open_amount=getattr(definition, "min_open_amount", 0.0),
            prior_strength=self.prior_strength,
            split_current=self.split_current,
            monotone=self.monotone,
            within_state=tuple(self.within_state),
            within_penalty=self.within_penalty,
            within_gain_sd=self.within_gain_sd,
            silent=self.silent,
            silent_payment_days=self.silent_payment_days,
            silent_invoice_days=self.silent_invoice_days,
            silent_invoice_gaps=self.silent_invoice_gaps,
            silent_max_dpd=self.silent_max_dpd,
            pd_floor=cfg.calibration.pd_floor,
            pd_ceiling=cfg.calibration.pd_ceiling,
            min_months=self.min_months,
            min_transitions=self.min_transitions,
            min_default_transitions=self.min_default_transitions,
            test_defaults=cfg.split.min_defaults,
            bootstrap_samples=cfg.evaluation.bootstrap_samples,
            seed=cfg.seed,
        )


class TrainConfig(ConfigModel):
    kind: Literal["train"] = "train"
    project: Path = Field(Path("conf/ews.yaml"), description="project config (paths, default definition)")
    model_name: str = Field("ews-pd", min_length=1, description="MLflow registered model name")
    experiment: str = Field("ews-train", min_length=1)
    seed: int = 42
    snapshots: SnapshotsConfig = SnapshotsConfig()
    split: SplitConfig = SplitConfig()
    features: FeaturesConfig = FeaturesConfig()
    lightgbm: LightGBMConfig = LightGBMConfig()
    scorecard: ScorecardConfig = ScorecardConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gate: GateConfig = GateConfig()
    paydate: PaydateConfig = PaydateConfig()
    rollrate: RollRateConfig = RollRateConfig()
    reference_features: int = Field(10, ge=1, description="top features kept in reference.json for drift")

    @model_validator(mode="after")
    def _challenge_below_split(self) -> TrainConfig:
        # rollrate.challenge trains the feature model below split.min_defaults; at or above it the
        # challenge would be skipped without a word (the book did not fill the windows at that minimum)
        rr = self.rollrate
        if rr.challenge and rr.all_labelled:
            raise ValueError(
                "rollrate.challenge and rollrate.all_labelled are both true: they are two ways to challenge "
                "the roll-rate model of a small book; keep one (all_labelled: BENCHMARKS.md s21-small)"
            )
        if any(t < 1 for t in rr.all_labelled_trees) or not rr.all_labelled_trees:
            raise ValueError(
                f"rollrate.all_labelled_trees {list(rr.all_labelled_trees)} must be one or more tree counts >= 1"
            )
        if rr.challenge and rr.challenge_min_defaults >= self.split.min_defaults:
            raise ValueError(
                f"rollrate.challenge_min_defaults {rr.challenge_min_defaults} must be below split.min_defaults "
                f"{self.split.min_defaults} (a book that fills the windows at split.min_defaults trains "
                "LightGBM anyway): lower it, e.g. 15, or set rollrate.challenge: false"
            )
        return self

    def to_params(self, horizon_days: int = 90) -> TrainParams:
        """``horizon_days``: the project's label horizon (``default_definition.horizon_days``); the
        rolling-origin folds fit only on snapshots whose horizon ended before each fold."""
        from models.train import TrainParams

        return TrainParams(
            split=self.split.to_params(),
            lgbm=self.lightgbm.to_params(),
            scorecard=self.scorecard.to_params(),
            calibration=self.calibration.method,
            min_isotonic_defaults=self.calibration.min_isotonic_defaults,
            calibration_oof_folds=self.calibration.oof_folds,
            calibration_window_identity=self.calibration.window_identity,
            calibration_window_prior=self.calibration.window_prior,
            ece_chance=self.gate.ece_chance,
            pd_floor=self.calibration.pd_floor,
            pd_ceiling=self.calibration.pd_ceiling,
            bootstrap_samples=self.evaluation.bootstrap_samples,
            challenger=self.evaluation.challenger,
            fold_defaults=self.evaluation.fold_defaults,
            max_folds=self.evaluation.max_folds,
            tie_folds=self.evaluation.tie_folds,
            horizon_days=horizon_days,
            exclude=tuple(self.features.exclude),
            categorical=tuple(self.features.categorical),
            segment_column=self.features.segment_column,
            reference_features=self.reference_features,
            seed=self.seed,
        )
