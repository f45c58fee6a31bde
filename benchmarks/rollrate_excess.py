"""Three candidates for the small-book model, measured only (issue 9; the cause found in session 20,
``benchmarks/unseen_small_why.py``): ``excess``, roll-rate states on days past due *in excess of the
debtor's usual lateness*; ``signed``, the usual lateness as a within-state input allowed to lower a PD;
``label``, the same fitted on the horizon's default label instead of rolling forward.

On the unseen simulator's small books the 31-60 DPD bucket is mostly chronically late but safe payers, and
the roll-rate model (states = DPD buckets, within-state inputs that can only raise a PD) ranks them with
the distressed. Here the state input ``dpd_current_max`` is replaced, in the frame the model is fitted on
and scores, by ``max(0, dpd_current_max - max(0, days_late_mean_365d))`` when the debtor is past due (both
known at the month-end; a debtor in default stays in default: ``in_default_at_asof``). Everything else is
the shipped ``rollrate`` config (within-state inputs, silent overlay). ``signed``: the shipped states,
``days_late_mean_365d`` added as the last ``within_state`` input, whose coefficient is not projected on
>= 0 (``models.rollrate._fit_coef`` wrapped here: the other inputs keep >= 0; bands unchanged).
``label``: ``signed`` with ``models.rollrate.next_states`` wrapped during the fit (label 1 -> a worse
state, 0 -> the same, unknown -> none); the within-state out-of-time check then reads labels whose
horizon may reach into its hold-out (the forward test itself only sees labels known at the cut). Forward protocol of
``small_choice.py`` / ``unseen.py``: fitted on what a user had at the cut, scored on the labelled rows of
the ``--forward`` month-ends after it, with the baseline (``benchmarks/baseline.py``) and the oracle. Writes
one scores file per book for ``benchmarks/pooled_scores.py`` (``rollrate``, ``excess``, ``signed``,
``label``, ``baseline``).

    nice -n 19 .venv/bin/python benchmarks/rollrate_excess.py --work W --books unseen:small:8,base:300:1 \
        --months 36 --out DIR
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import small_choice  # noqa: E402
from baseline import BASELINE_FEATURES, baseline_features, fit_baseline  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

import models.rollrate as rollrate  # noqa: E402
from models.evaluate import classification_metrics  # noqa: E402
from models.rollrate import DPD_FEATURE, RollRateModel  # noqa: E402
from models.train import prepare_matrix  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
HORIZON_DAYS = ProjectConfig().default_definition.horizon_days


def excess_dpd(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``dpd_current_max`` = days past due beyond the debtor's mean lateness (365 d)."""
    dpd = pd.to_numeric(frame[DPD_FEATURE], errors="coerce")
    usual = pd.to_numeric(frame["days_late_mean_365d"], errors="coerce").clip(lower=0).fillna(0)
    return frame.assign(**{DPD_FEATURE: dpd.where(~(dpd > 0), (dpd - usual).clip(lower=0))})


USUAL = "days_late_mean_365d"
_FIT_COEF = rollrate._fit_coef


def _fit_coef_last_free(
    state: np.ndarray, z: np.ndarray, y: np.ndarray, n_states: int, penalty: float
) -> np.ndarray:
    """``models.rollrate._fit_coef`` with the last column's coefficient free in sign (same Newton steps)."""
    coef = np.zeros(z.shape[1])
    icpt = np.zeros(n_states)
    free = z.shape[1] - 1
    for _ in range(100):
        step = 0.0
        for s in range(n_states):
            m = state == s
            if not m.any():
                continue
            p = rollrate._sigmoid(icpt[s] + z[m] @ coef)
            grad, hess = float((y[m] - p).sum()), float((p * (1 - p)).sum()) + 1e-6
            delta = float(np.clip(grad / hess, -5, 5))
            icpt[s] += delta
            step = max(step, abs(delta))
        for k in range(z.shape[1]):
            p = rollrate._sigmoid(icpt[state] + z @ coef)
            grad = float(z[:, k] @ (y - p)) - penalty * coef[k]
            hess = float((z[:, k] ** 2) @ (p * (1 - p))) + penalty
            new = coef[k] + grad / hess
            new = new if k == free else max(0.0, new)
            step = max(step, abs(new - coef[k]))
            coef[k] = new
        if step < 1e-8:
            break
    return coef


def fit_signed(past: pd.DataFrame, params) -> RollRateModel:
    """The roll-rate model with ``USUAL`` as a last within-state input of free sign."""
    signed = dataclasses.replace(params, within_state=(*params.within_state, USUAL))
    rollrate._fit_coef = _fit_coef_last_free
    try:
        return RollRateModel(signed).fit(past)
    finally:
        rollrate._fit_coef = _FIT_COEF


def _label_next(frame: pd.DataFrame, code: np.ndarray) -> np.ndarray:
    """In place of ``models.rollrate.next_states``: a "worse state" where the row's default label is 1,
    the same state where it is 0, none where it is unknown (the within-state fit's target becomes the
    horizon's default label)."""
    label = pd.to_numeric(frame["label"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isnan(label), -1, np.where(label > 0, code + 1, code)).astype(np.int64)


def fit_label(past: pd.DataFrame, params) -> RollRateModel:
    """``fit_signed`` with the within-state inputs fitted on the default labels."""
    nxt = rollrate.next_states
    rollrate.next_states = _label_next
    try:
        return fit_signed(past, params)
    finally:
        rollrate.next_states = nxt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    r_params = cfg.rollrate.to_params(ProjectConfig().default_definition, cfg)
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in args.books.split(","):
        t0 = time.process_time()
        frame, truth, portfolio = small_choice.load_book(spec, args.work, args.months, cfg)
        observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
        cut = pd.Timestamp(observed[-args.forward - 1])
        rows = frame[frame["as_of"].isin(observed[-args.forward :]) & frame["label"].notna()]
        test = rows[KEYS].merge(truth, on=KEYS, how="left")
        y = rows["label"].astype(int).to_numpy()
        scores = {}
        past = as_of_cut(frame, cut, HORIZON_DAYS)
        scores["rollrate"] = RollRateModel(r_params).fit(past).predict_proba(rows)[:, 1]
        ex = excess_dpd(frame)
        ex_rows = ex.loc[rows.index]
        scores["excess"] = (
            RollRateModel(r_params).fit(as_of_cut(ex, cut, HORIZON_DAYS)).predict_proba(ex_rows)[:, 1]
        )
        signed = fit_signed(past, r_params)
        scores["signed"] = signed.predict_proba(rows)[:, 1]
        w = signed.within_
        coef = dict(zip(w.features, np.round(w.coef, 4), strict=True)) if w is not None else {}
        print(
            f"{spec}: signed within-state {'kept' if w is not None and w.kept else 'not kept'} {coef}",
            flush=True,
        )
        lab = fit_label(past, r_params)
        scores["label"] = lab.predict_proba(rows)[:, 1]
        w = lab.within_
        coef = dict(zip(w.features, np.round(w.coef, 4), strict=True)) if w is not None else {}
        note = w.note[:60] if w is not None else ""
        print(
            f"{spec}: label within-state {'kept' if w is not None and w.kept else 'not kept'} {coef} {note}",
            flush=True,
        )
        base = baseline_features(portfolio, sorted(frame["as_of"].unique()))
        before = past[past["label"].notna()]
        names = list(BASELINE_FEATURES)
        cats = {"segment": sorted(base["segment"].dropna().astype(str).unique())}
        b_train = before[[*KEYS, "label"]].merge(base, on=KEYS, how="inner")
        b_test = rows[KEYS].merge(base, on=KEYS, how="left")
        model = fit_baseline(prepare_matrix(b_train, names, cats), b_train["label"].astype(int).to_numpy())
        scores["baseline"] = model.predict_proba(prepare_matrix(b_test, names, cats))[:, 1]
        out = rows[KEYS].assign(y=y, oracle=test["oracle_pd"].to_numpy(), **scores)
        name = spec.replace(":", "-")
        out.to_parquet(args.out / f"{name}.parquet")
        ok = out["oracle"].notna().to_numpy()
        moved = int((ex_rows[DPD_FEATURE].to_numpy() != rows[DPD_FEATURE].to_numpy()).sum())
        line = f"{spec}: cut {cut.date()}, {int(ok.sum())} rows, {int(y[ok].sum())} defaults, {moved} rows' DPD lowered"
        for k, p in scores.items():
            m = classification_metrics(y[ok], p[ok])
            line += f"; {k} AUC {m['auc']:.4f} cap5 {m['capture_5pct']:.3f} Brier {m['brier']:.5f}"
        print(line + f"; {time.process_time() - t0:.1f} CPU-s", flush=True)


if __name__ == "__main__":
    main()
