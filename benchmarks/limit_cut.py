"""Does the training's "limit looks cut after trouble" check fire? (s32-master; issue 9, ``features.master.limit_cut_check``)

Per book, ews's modelling frame (``benchmarks/regimes.modelling_frame``: every month-end, as ``ews train``
builds it from the debtors snapshot) or a saved frame (``frame:PATH``, e.g. ``benchmarks/master_history.py``'s
``frame-snapshot.parquet``), its labelled rows: the median of ``credit_limit / (invoice_amount_365d / 6)`` of
the rows whose debtor defaults within the horizon against the others', and whether the check fires (share
below ``LIMIT_CUT_RATIO`` with at least ``LIMIT_CUT_MIN_DEBTORS`` defaulting debtors). Honest books (limits
set at onboarding: ``ews generate``, a point-in-time history) should not fire; a snapshot whose limits were
cut after the default (``third_book.py``'s default whole-history limit, or ``--limit-history``'s last day)
should.

Books: ``gen:REGIME:DEBTORSxMONTHS:SEED``, ``third:DEBTORSxMONTHS:SEED`` (cached under ``--work/books``) or
``frame:PATH``.

    nice -n 10 .venv/bin/python benchmarks/limit_cut.py --books gen:base:2000x36:3145,third:2000x36:15 \\
        --work /work/bench/s32-master --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
from model_decide import data_dir  # noqa: E402

from features.master import LIMIT_CUT_MIN_DEBTORS, LIMIT_CUT_RATIO, limit_cut_check  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

COLS = ["debtor_id", "as_of", "label", "credit_limit", "invoice_amount_365d"]


def frame_of(spec: str, work: Path, cfg: TrainConfig) -> pd.DataFrame:
    if spec.startswith("frame:"):
        return pd.read_parquet(spec.split(":", 1)[1], columns=COLS)
    return regimes.modelling_frame(data_dir(spec, work), cfg)[1][COLS]


def medians(frame: pd.DataFrame) -> dict:
    """The figures behind the check, whether it fires or not."""
    d = frame[frame["label"].notna() & frame["credit_limit"].notna() & (frame["invoice_amount_365d"] > 0)]
    r = d["credit_limit"] / (d["invoice_amount_365d"] / 6)
    pos = (d["label"] == 1).to_numpy()
    return {
        "defaulting": round(float(np.median(r[pos])), 3) if pos.any() else None,
        "others": round(float(np.median(r[~pos])), 3) if (~pos).any() else None,
        "defaulting_debtors": int(d.loc[pos, "debtor_id"].nunique()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", required=True)
    ap.add_argument("--work", type=Path, default=Path("/tmp/limit-cut"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cfg = load_config(args.config, expect=TrainConfig)
    out = {"ratio": LIMIT_CUT_RATIO, "min_debtors": LIMIT_CUT_MIN_DEBTORS, "books": []}
    for spec in args.books.split(","):
        frame = frame_of(spec, args.work, cfg)
        m = medians(frame)
        fired = limit_cut_check(frame) is not None
        share = m["defaulting"] / m["others"] if m["defaulting"] is not None and m["others"] else None
        row = {"book": spec, "fires": fired, **m, "share": None if share is None else round(share, 3)}
        out["books"].append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
