"""Payment-date model: the shipped hazard against one candidate on the same rows (issue 13 part 1,
session 27; the pre-registered comparison, `benchmarks/paydate_decide.py` applies the rule).

Per book (``regime:seed``: ``benchmarks/paydate.load``, ``ews generate`` 2,000 x 36, no memos; or
``unseen:PATH``: a folder of canonical parquet tables, e.g. ``benchmarks/unseen_book.py``'s):

- the train flow's plan (``pipelines.flows.train_paydate.plan``, ``TrainConfig`` defaults: 16
  month-ends, recency weights), its held-out rows (as ``bucket_rows``, one bucket, with the candidate
  columns of ``features.paydate.open_invoices(candidates=True)``) and the plan's 3 test month-ends;
- each fit's held-out model evaluated as the gate evaluates (``models.paydate.evaluate``: MAE of
  ``expected_paid_on`` over the invoices paid within the horizon, p10-p90 coverage with the fit's own
  day shape, both baselines);
- the cash backtest of ``benchmarks/paydate.py`` as session 23 ran it: the final model of the plan
  whose data end at the first of the latest 6 month-ends followed by 13 observed weeks, weekly cash
  mean APE over those 6 x 13 weeks (weeks with cash).

Fits: ``shipped`` (:data:`features.paydate.FEATURES`, the shipped parameters) and the candidate
(``--candidate``): see :data:`CANDIDATES`. ``peer`` (session 27's pre-registered candidate): the shipped
features plus ``book_shift`` and ``segment_shift`` (``features.paydate``: the median, over the last 28
days' settlements of the whole book / of the debtor's segment, of their lateness minus the settling
debtor's median lateness before that window), the same parameters. Session 28's: ``state`` (the shipped
features plus ``due_excess_60`` and ``due_open_share_60``: the debtor's invoices due in the last 60 days,
open ones included, against its usual lateness before them), ``state30`` (the same over 30 days),
``state_excess`` (``due_excess_60`` alone) and ``state_gap`` (pre-registered: ``state`` plus
``state_late_60`` and the period feature ``gap_to_state_60``; met, shipped). Since session 28 ``shipped``
holds those four and the candidates are built on ``s27`` (the inputs before), so session 28's decision
is ``--candidate state_gap`` against ``shipped`` at commit 62b337f, or ``--candidate s27 state_gap`` now
(``paydate_decide.py``'s difference is then against the new shipped; ``state_gap`` fits the same
columns as ``shipped`` in another order). Session 30's ``own*``: the shipped fit,
its ``expected_paid_on`` read at each debtor's level from the model's own errors on the debtor's recent
invoices (``paydate_own_lib.own_residual_levels``; ``own_w25`` pre-registered, not met); their npz also hold
the level (``NAME_q``) and each paid test invoice's ``pit`` (``benchmarks/paydate_own.py --decision``). ``--only``: the candidates without the
shipped fit (exploring; the decision needs both). Writes per book ``BOOK.json`` (figures) and ``BOOK.npz`` (per
paid test invoice: the absolute error of each fit, the debtor code; the weekly cash forecast and actual
of each fit) for the paired debtor bootstrap.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/paydate_candidate.py --work BOOKS \\
        --out OUT base:91 stress:91 unseen:/path/small-s117 --candidate state_gap
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from paydate import WEEKS, cash_backtest, cash_inputs, load  # noqa: E402
from paydate_carry_lib import carried_lateness_shift, shift_earlier  # noqa: E402
from paydate_own_lib import median_at_level, own_residual_levels, residual_pits  # noqa: E402

from features.ledger import day_number, prepare_ledger  # noqa: E402
from features.paydate import FEATURES, PERIOD_DAYS, evaluation_invoices, training_window  # noqa: E402
from features.snapshots import month_ends  # noqa: E402
from features.tables import Portfolio  # noqa: E402
from models.paydate import (  # noqa: E402
    cdf_weeks,
    evaluate,
    fit_day_shape,
    fit_hazard,
    predict_hazards,
)
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.engine import Book  # noqa: E402
from pipelines.flows.train_paydate import plan  # noqa: E402

ONE_BUCKET = 10**9

CANDIDATES: dict[str, dict] = {}
"""name -> {"features": the fit's input columns, "params": PaydateParams overrides}; filled below."""


def register(
    name: str, features: tuple[str, ...], own: dict | None = None, carry: dict | None = None, **params
) -> None:
    CANDIDATES[name] = {"features": tuple(features), "params": params, "own": own, "carry": carry}


STATE = ("due_excess_60", "due_open_share_60", "state_late_60", "gap_to_state_60")
"""Shipped since session 28 (its pre-registered candidate ``state_gap``)."""
S27 = tuple(f for f in FEATURES if f not in STATE)
"""The shipped inputs before session 28: the base of the candidates below."""

register("shipped", FEATURES)
register("s27", S27)
register("peer", S27 + ("book_shift", "segment_shift"))
register("state", S27 + STATE[:2])
register("state30", S27 + ("due_excess_30", "due_open_share_30"))
register("state_excess", S27 + STATE[:1])
register("state_gap", S27 + STATE)
register("pace", FEATURES + ("due_pace_60",))
register("pace2", FEATURES + ("due_pace_30", "due_pace_60"))
# session 30: the shipped fit, its expected_paid_on read at each debtor's level from the model's own errors
# on the debtor's invoices open at the month-ends of the last `months` months (paydate_own_lib.own_residual_levels)
register("own", FEATURES, own={"months": 3, "prior": 5.0})
register("own_k2", FEATURES, own={"months": 3, "prior": 2.0})
register("own_k10", FEATURES, own={"months": 3, "prior": 10.0})
register("own_m2", FEATURES, own={"months": 2, "prior": 5.0})
register("own_m6", FEATURES, own={"months": 6, "prior": 5.0})
register("own_k20", FEATURES, own={"months": 3, "prior": 20.0})
register("own_w25", FEATURES, own={"months": 3, "prior": 5.0, "weight": 0.25})
register("own_k20_w50", FEATURES, own={"months": 3, "prior": 20.0, "weight": 0.5})
register("own_c", FEATURES, own={"months": 3, "prior": 10.0, "center": True})
register("own_c_w50", FEATURES, own={"months": 3, "prior": 10.0, "weight": 0.5, "center": True})
# session 31 (s31-paydate2): the shipped fit, each not-yet-due invoice's CDF moved earlier by
# paydate_carry_lib.carried_lateness_shift (implied lateness above the debtor's mean kept up to `knee` days,
# beyond it by the share `keep`)
register("carry", FEATURES, carry={"knee": 30.0, "keep": 0.25})


def read_book(spec: str, work: Path) -> tuple[str, Portfolio]:
    kind, _, rest = spec.partition(":")
    if kind == "unseen":
        folder = Path(rest)
        tables = {
            name: pd.read_parquet(folder / f"{name}.parquet")
            for name in ("invoices", "payments", "debtors", "events")
            if (folder / f"{name}.parquet").exists()
        }
        return f"unseen-{folder.name}", Portfolio(**tables)
    return f"{kind}-s{rest}", load(kind, int(rest), work, 2000, 36)


def rows_of(ledger, p, H: int, n_max: int, seed: int, final: bool = False) -> pd.DataFrame:
    train, cut = (p.final_train, p.final_cut) if final else (p.eval_train, p.eval_cut)
    return training_window(ledger, train, cut, H, n_max, seed, candidates=True)[0]


def carried(F: np.ndarray, inv: pd.DataFrame, carry: dict | None) -> np.ndarray:
    return shift_earlier(F, carried_lateness_shift(F, inv, **carry)) if carry else F


def run_book(spec: str, work: Path, out: Path, names: list[str], cash_too: bool = True) -> dict:
    t0 = time.perf_counter()
    label, portfolio = read_book(spec, work)
    ledger = prepare_ledger(portfolio)
    book = Book.in_memory(portfolio, ONE_BUCKET)
    cfg = TrainConfig()
    base = cfg.paydate.to_params(7)
    H, n_max = base.horizon_weeks, cfg.paydate.max_invoices_per_snapshot
    p = plan(book, cfg, H)
    eval_rows = rows_of(ledger, p, H, n_max, base.seed)
    tests = [(T, evaluation_invoices(ledger, T, p.final_cut, H, candidates=True)) for T in p.test]
    dates = [
        int(day_number(d))
        for d in month_ends(pd.Timestamp(p.eval_train[0], unit="D"), pd.Timestamp(p.final_cut, unit="D"))
    ]
    dates = [d for d in dates if d + PERIOD_DAYS * WEEKS <= p.final_cut][-6:]
    px = plan(book, cfg, H, last=pd.Timestamp(dates[0], unit="D"))
    cash_rows = rows_of(ledger, px, H, n_max, base.seed, final=True) if cash_too else None
    t1 = time.perf_counter()
    result = {
        "book": label,
        "plan": p.describe(),
        "cash_plan": px.describe(),
        "cash_dates": [str(pd.Timestamp(d, unit="D").date()) for d in dates],
        "train_rows": int(len(eval_rows)),
        "fits": {},
    }
    arrays = {}
    fitted: dict = {}
    for name in names:
        c = CANDIDATES[name]
        params = base.model_copy(update=c["params"]) if c["params"] else base
        feats = c["features"]
        key = (feats, json.dumps(c["params"], sort_keys=True))
        if key not in fitted:
            held = fit_hazard(eval_rows, params, feats)
            fitted[key] = (
                held,
                [cdf_weeks(predict_hazards(held, inv, T, H, features=feats)) for T, inv in tests],
            )
        held, cdfs = fitted[key]
        cdfs = [carried(F, inv, c.get("carry")) for F, (T, inv) in zip(cdfs, tests, strict=True)]
        own = c.get("own")
        levels = [
            own_residual_levels(ledger, held, T, H, feats, **own)[inv["code"].to_numpy(dtype=np.int64)]
            if own
            else 0.5
            for T, inv in tests
        ]
        metrics, _, _ = evaluate(
            held,
            tests,
            H,
            WEEKS,
            features=feats,
            cdfs=cdfs,
            interval=params.interval,
            shape=fit_day_shape(eval_rows),
        )
        if own:
            metrics["mae_days"] = float(
                np.mean(
                    np.concatenate(
                        [
                            np.abs(
                                np.where(np.isnan(m := median_at_level(F, q)), float(H * PERIOD_DAYS), m)
                                - inv["actual_days"].to_numpy(dtype=np.float64)
                            )[~np.isnan(inv["actual_days"].to_numpy(dtype=np.float64))]
                            for F, q, (T, inv) in zip(cdfs, levels, tests, strict=True)
                        ]
                    )
                )
            )
        errs, codes, days, qs, pits = [], [], [], [], []
        for F, q, (T, inv) in zip(cdfs, levels, tests, strict=True):
            pred = median_at_level(F, q)
            actual = inv["actual_days"].to_numpy(dtype=np.float64)
            paid = ~np.isnan(actual)
            pred = np.where(np.isnan(pred), float(H * PERIOD_DAYS), pred)
            errs.append(np.abs(pred[paid] - actual[paid]))
            codes.append(inv["code"].to_numpy(dtype=np.int64)[paid])
            days.append(np.full(int(paid.sum()), T, dtype=np.int64))
            qs.append(np.broadcast_to(q, actual.shape)[paid])
            pits.append(residual_pits(F, actual, float(H * PERIOD_DAYS))[paid])
        err = np.concatenate(errs)
        if own:
            arrays[f"{name}_q"] = np.concatenate(qs)
        arrays["pit"] = np.concatenate(pits)
        assert abs(err.mean() - metrics["mae_days"]) < 1e-9, (err.mean(), metrics["mae_days"])
        arrays[f"{name}_err"] = err
        arrays["code"] = np.concatenate(codes)
        arrays["T"] = np.concatenate(days)
        better = min(metrics["due_date_mae_days"], metrics["due_plus_lateness_mae_days"])
        result["fits"][name] = {
            "mae_days": metrics["mae_days"],
            "within_7d": None if own else metrics["within_7d"],
            "coverage_80": metrics["coverage_80"],
            "due_date_mae_days": metrics["due_date_mae_days"],
            "due_plus_lateness_mae_days": metrics["due_plus_lateness_mae_days"],
            "vs_better_baseline": metrics["mae_days"] / better - 1.0,
            "paid_invoices": int(len(err)),
            "invoices": int(metrics["invoices"]),
        }
        if not cash_too:
            print(
                label,
                name,
                json.dumps({k: v if v is None else round(v, 5) for k, v in result["fits"][name].items()}),
                flush=True,
            )
            continue
        if "final" not in fitted.setdefault(key + ("final",), {}):
            fitted[key + ("final",)]["final"] = fit_hazard(cash_rows, params, feats)
        final = fitted[key + ("final",)]["final"]
        cash = cash_backtest(cash_inputs_with(final, ledger, dates, H, feats, c.get("carry")), 0.0)
        seen = cash["actual_cash"] > 0
        arrays[f"{name}_cash_f"] = cash.loc[seen, "expected_cash"].to_numpy()
        arrays[f"{name}_cash_a"] = cash.loc[seen, "actual_cash"].to_numpy()
        result["fits"][name]["cash_mean_ape"] = float(cash.loc[seen, "ape"].mean())
        result["fits"][name]["cash_weeks"] = int(seen.sum())
        print(
            label,
            name,
            json.dumps({k: v if v is None else round(v, 5) for k, v in result["fits"][name].items()}),
            flush=True,
        )
    result["seconds"] = {"rows": round(t1 - t0, 1), "fits": round(time.perf_counter() - t1, 1)}
    np.savez(out / f"{label}.npz", **arrays)
    (out / f"{label}.json").write_text(json.dumps(result, indent=2))
    return result


def cash_inputs_with(
    booster, ledger, dates: list[int], H: int, feats: tuple[str, ...], carry: dict | None = None
):
    """``benchmarks.paydate.cash_inputs`` with the fit's own input columns (candidate features) and
    the candidate's ``carry`` shift."""
    if tuple(feats) == FEATURES and not carry:
        return cash_inputs(booster, ledger, dates, H)
    out = []
    from models.paydate import cash_actuals

    for T in dates:
        inv = evaluation_invoices(ledger, T, T + PERIOD_DAYS * WEEKS, WEEKS, candidates=True)
        F = carried(cdf_weeks(predict_hazards(booster, inv, T, H, features=feats)), inv, carry)
        cash, days = cash_actuals(inv)
        out.append((T, inv["open_amount"].to_numpy(), days, F, cash))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("books", nargs="+", help="regime:seed (ews generate 2,000 x 36) or unseen:FOLDER")
    ap.add_argument("--work", type=Path, required=True, help="folder of the generated books")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--candidate",
        required=True,
        nargs="+",
        choices=sorted(set(CANDIDATES) - {"shipped"}),
        help="one or more",
    )
    ap.add_argument("--only", action="store_true", help="fit the candidates only (exploring; no decision)")
    ap.add_argument("--no-cash", action="store_true", help="skip the cash backtest (and its final fits)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in args.books:
        r = run_book(
            spec,
            args.work,
            args.out,
            ([] if args.only else ["shipped"]) + args.candidate,
            cash_too=not args.no_cash,
        )
        print("#", r["book"], r["seconds"], flush=True)


if __name__ == "__main__":
    main()
