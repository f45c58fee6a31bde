"""Another ledger numbered as the kept history's, for ``ews ingest --keep-history``'s other-ledger
check (BENCHMARKS.md, "Session 26 (s26-history)").

    clash NIGHT_DIR...
        nightly exports (folders with invoices.csv, in date order): for each night, its invoices
        whose ids an earlier night exported, and how many of them differ from the latest earlier
        row in issue date AND amount at once (the share ``pipelines.ingest.history._clashes``
        refuses above 0.5), and in each of debtor, issue date and amount
    renumber HISTORY FOREIGN_EXPORT OUT
        another book's export (FOREIGN_EXPORT) renumbered as the history's: per debtor, its invoices
        in (issue_date, invoice_id) order take the ids of HISTORY's invoices of the same debtor in
        that order, from its oldest, as many as both have (two books both numbered INV-0001... per
        customer); its other invoices keep their ids; payments follow their invoice. HISTORY: an
        export folder or an ingested one (`ews ingest --out`). OUT holds the four CSVs (debtors and
        events copied)

    python benchmarks/foreign_ledger.py clash /work/bench/s25-history/nights12/*
    python benchmarks/foreign_ledger.py renumber nights12/2025-12-31 foreign/nights12/2025-12-31 foreign/renumbered
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd


def _inv(folder: Path) -> pd.DataFrame:
    """The invoices of an export (invoices.csv) or of an ingested folder (its buckets), as text."""
    if (folder / "invoices.csv").is_file():
        return pd.read_csv(folder / "invoices.csv", dtype=str, keep_default_na=False)
    frame = pd.read_parquet(folder / "invoices", columns=["invoice_id", "debtor_id", "issue_date", "amount"])
    frame["issue_date"] = frame["issue_date"].dt.strftime("%Y-%m-%d")
    return frame.astype({"invoice_id": str, "debtor_id": str, "amount": str})


def clash(nights: list[Path]) -> list[dict]:
    seen: pd.DataFrame | None = None
    rows = []
    for night in nights:
        inv = _inv(night)
        if seen is not None:
            m = inv.merge(seen, on="invoice_id", suffixes=("", "_kept"))
            diff = {c: m[c] != m[f"{c}_kept"] for c in ("debtor_id", "issue_date", "amount")}
            both = diff["issue_date"] & diff["amount"]
            row = {
                "night": night.name,
                "invoices": len(inv),
                "found": len(m),
                "clash": int(both.sum()),
                "clash_share": round(float(both.mean()), 4) if len(m) else None,
                **{f"{c}_differs": int(d.sum()) for c, d in diff.items()},
            }
            rows.append(row)
            print(row)
        cols = ["invoice_id", "debtor_id", "issue_date", "amount"]
        seen = (
            inv[cols]
            if seen is None
            else pd.concat([seen, inv[cols]]).drop_duplicates("invoice_id", keep="last")
        )
    return rows


def renumber(history: Path, foreign: Path, out: Path) -> dict:
    mine, theirs = _inv(history), _inv(foreign)
    mine = mine.sort_values(["debtor_id", "issue_date", "invoice_id"], kind="stable")
    theirs = theirs.sort_values(["debtor_id", "issue_date", "invoice_id"], kind="stable")
    mine["k"] = mine.groupby("debtor_id").cumcount()
    theirs["k"] = theirs.groupby("debtor_id").cumcount()
    ids = theirs.merge(
        mine[["debtor_id", "k", "invoice_id"]], on=["debtor_id", "k"], how="left", suffixes=("", "_new")
    )
    mapping = dict(zip(ids["invoice_id"], ids["invoice_id_new"].fillna(ids["invoice_id"]), strict=True))
    renamed = int(ids["invoice_id_new"].notna().sum())
    out.mkdir(parents=True, exist_ok=True)
    inv = _inv(foreign)
    inv["invoice_id"] = inv["invoice_id"].map(mapping)
    inv.to_csv(out / "invoices.csv", index=False)
    pay = pd.read_csv(foreign / "payments.csv", dtype=str, keep_default_na=False)
    pay["invoice_id"] = pay["invoice_id"].map(lambda i: mapping.get(i, i))
    pay.to_csv(out / "payments.csv", index=False)
    for name in ("debtors.csv", "events.csv"):
        shutil.copy2(foreign / name, out / name)
    taken = set(mapping.values())
    collide = len(taken & set(_inv(history)["invoice_id"]))
    return {"invoices": len(inv), "renumbered": renamed, "ids_in_history_export": collide}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("clash", help="the clash share of each nightly export against the earlier nights")
    c.add_argument("nights", type=Path, nargs="+")
    r = sub.add_parser("renumber", help="another book's export renumbered as the history's")
    r.add_argument("history", type=Path)
    r.add_argument("foreign", type=Path)
    r.add_argument("out", type=Path)
    args = ap.parse_args()
    if args.cmd == "clash":
        rows = clash(sorted(args.nights))
        print(json.dumps({"benchmark": "foreign_ledger.clash", "nights": rows}))
    else:
        print(
            json.dumps(
                {"benchmark": "foreign_ledger.renumber", **renumber(args.history, args.foreign, args.out)}
            )
        )


if __name__ == "__main__":
    main()
