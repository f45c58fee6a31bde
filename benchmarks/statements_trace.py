"""Where a statements book's 61-89 -> default roll comes from (issue 9; BENCHMARKS.md "Session 26
(s26-level)").

Per book of ``pd_level.py``'s cache (``--work``: ``REGIME-DEBTORSxMONTHS-sSEED-statements/`` with its
``frame.parquet`` and ``truth.parquet``), the invoice ledger of the same book is generated again (same
seed, in a temporary folder) and read by ingest's own ledger (``features.ledger``), and:

1. ``ledger``: per debtor and month-end, the statement's ``days_past_due`` and ``balance`` against the
   ledger's (oldest open overdue invoice, open amount); how many differ, how many statements are 90+
   days past due on each side;
2. ``states``: per month-end, for the 31-60 and 61-89 days-past-due states, rows, moves into default at
   the next month-end (the monthly roll the roll-rate matrix counts), the 90-day label's rate, the
   truth table's label rate and the oracle's mean PD, split by whether the debtor pays without invoice
   references (the generator's unallocated payers); month-ends up to the cut of ``pd_level.py`` (the
   7th-last observed) are the history, later ones the forward window;
3. ``labels``: default labels of the statements book that the truth table does not have, and whose.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/statements_trace.py --work W \\
        --books base:300:24:20,stress:300:24:20 [--by-month]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from features.ledger import day_number, ledger_state, prepare_ledger  # noqa: E402
from features.statements import with_statement_dpd  # noqa: E402
from models.rollrate import RollRateParams, assign_states, next_states, state_names  # noqa: E402
from pipelines.ingest import ingest_dir  # noqa: E402
from pipelines.synthetic import generate, regime_params  # noqa: E402

NAMES = state_names(RollRateParams())
DEFAULT = len(NAMES) - 1
STATES = ("31-60 days past due", "61-89 days past due")


def ledger_of(spec: str, tmp: str) -> tuple[pd.DataFrame, set[str], pd.DatetimeIndex]:
    """Per debtor and month-end, ingest's ledger DPD and balance of the invoice version of ``spec``,
    the debtors paying without invoice references, the month-ends."""
    regime, debtors, months, seed = spec.split(":")[:4]
    summary = generate(regime_params(regime, seed=int(seed), debtors=int(debtors), months=int(months)), tmp)
    pay = pd.read_parquet(f"{tmp}/payments.parquet")
    unalloc = set(pay.loc[pay["invoice_id"].isna(), "debtor_id"].astype(str))
    ends = pd.date_range(pd.Timestamp(summary["params"]["start"]), periods=int(months), freq="ME")
    led = prepare_ledger(ingest_dir(Path(tmp), None).portfolio)
    rows = []
    for e in ends:
        s = ledger_state(led, int(day_number(pd.Timestamp(e))))
        open_ = s.inv_remaining > 0.005
        over = open_ & (s.inv_due < s.T)
        dpd = np.zeros(s.n, dtype=np.int64)
        if over.any():
            m = pd.Series(s.inv_due[over]).groupby(s.inv_code[over]).min()
            dpd[m.index.to_numpy()] = s.T - m.to_numpy()
        bal = np.bincount(s.inv_code[open_], weights=s.inv_remaining[open_], minlength=s.n)
        rows.append(
            pd.DataFrame(
                {
                    "debtor_id": led.debtor_ids.astype(str),
                    "period_end": e,
                    "dpd_l": dpd,
                    "bal_l": np.round(bal, 2),
                }
            )
        )
    return pd.concat(rows, ignore_index=True), unalloc, ends


def book_frame(folder: Path) -> tuple[pd.DataFrame, pd.Timestamp]:
    f = pd.read_parquet(folder / "frame.parquet")
    f = f.assign(debtor_id=f["debtor_id"].astype(str), as_of=pd.to_datetime(f["as_of"]))
    t = pd.read_parquet(folder / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd", "label"])
    t = t.assign(debtor_id=t["debtor_id"].astype(str), as_of=pd.to_datetime(t["month_end"]))
    t = t.rename(columns={"label": "truth_label"})[["debtor_id", "as_of", "oracle_pd", "truth_label"]]
    f = with_statement_dpd(f.merge(t, on=["debtor_id", "as_of"], how="left"))
    f["code"] = assign_states(f, RollRateParams())
    f["nxt"] = next_states(f, f["code"].to_numpy())
    f["state"] = np.asarray(NAMES, dtype=object)[f["code"]]
    observed = sorted(f.loc[f["horizon_observed"].astype(bool), "as_of"].unique())
    return f, pd.Timestamp(observed[-7])


def summarise(part: pd.DataFrame) -> dict[str, float]:
    moved = part[part["nxt"] >= 0]
    lab = part[part["label"].notna()]
    return {
        "rows": len(part),
        "moves": len(moved),
        "to_default": int((moved["nxt"] == DEFAULT).sum()),
        "roll": round(float((moved["nxt"] == DEFAULT).mean()), 4) if len(moved) else float("nan"),
        "label_rows": len(lab),
        "label_rate": round(float(lab["label"].astype(float).mean()), 4) if len(lab) else float("nan"),
        "truth_rate": round(float(lab["truth_label"].astype(float).mean()), 4) if len(lab) else float("nan"),
        "oracle": round(float(lab["oracle_pd"].mean()), 4) if len(lab) else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True, help="comma-separated REGIME:DEBTORS:MONTHS:SEED")
    ap.add_argument("--work", type=Path, required=True, help="pd_level.py's cache of statements books")
    ap.add_argument("--by-month", action="store_true", help="also print the per-month-end state tables")
    args = ap.parse_args()
    for spec in args.books.split(","):
        regime, debtors, months, seed = spec.split(":")[:4]
        folder = args.work / f"{regime}-{debtors}x{months}-s{seed}-statements"
        st = pd.read_parquet(folder / "statements.parquet")
        with tempfile.TemporaryDirectory() as tmp:
            ref, unalloc, _ = ledger_of(spec, tmp)
        got = st.assign(debtor_id=st["debtor_id"].astype(str)).merge(
            ref, on=["debtor_id", "period_end"], how="left"
        )
        print(
            f"== {spec} ({folder}): {len(got)} statements; days_past_due differs from ingest's ledger on "
            f"{int((got['days_past_due'] != got['dpd_l']).sum())}, balance on "
            f"{int((np.abs(got['balance'] - got['bal_l']) > 0.011).sum())}; 90+ days past due "
            f"{int((got['days_past_due'] >= 90).sum())} (ledger {int((got['dpd_l'] >= 90).sum())}); "
            f"{len(unalloc)} debtors pay without invoice references",
            flush=True,
        )
        f, cut = book_frame(folder)
        f["unalloc"] = f["debtor_id"].isin(unalloc)
        lab = f[f["label"].notna() & f["truth_label"].notna()]
        false = lab[(lab["label"] == 1) & (lab["truth_label"] == 0)]
        missed = lab[(lab["label"] == 0) & (lab["truth_label"] == 1)]
        print(
            f"  labels (rows with both): {len(lab)}; statements label 1: {int(lab['label'].sum())}, truth 1: "
            f"{int(lab['truth_label'].sum())}; label 1 where the truth is 0: {len(false)} (unallocated payers "
            f"{int(false['unalloc'].sum())}); label 0 where the truth is 1: {len(missed)}; cut {cut.date()}"
        )
        for state in STATES:
            s = f[f["state"] == state]
            for name, part in (("history", s[s["as_of"] <= cut]), ("forward", s[s["as_of"] > cut])):
                for u in (False, True):
                    print(
                        f"  {state:<20} {name:<8} unallocated={u!s:<5} {summarise(part[part['unalloc'] == u])}"
                    )
            if args.by_month:
                g = s.groupby("as_of").apply(lambda p: pd.Series(summarise(p)), include_groups=False)
                g["part"] = np.where(g.index <= cut, "history", "forward")
                print(g.to_string())


if __name__ == "__main__":
    main()
