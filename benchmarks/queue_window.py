"""The queue key of short books with and without the test window's payment-date model (session 26,
issue 11): ``paydate.window_min_snapshots`` 0 (main until session 26) against N >= 1.

    nice python benchmarks/queue_window.py BASE:CAND [BASE:CAND ...] [--reps 400] [--seed 0] [--out DIR]

Each ``BASE:CAND`` pair names two folders of one book (``-:CAND``: no baseline training, its key
derived with ``--train-config``, :func:`derived_base_key`; checked against real baseline trainings): ``BASE`` trained by ``ews train`` with the
baseline settings, ``CAND`` with the candidate's (``paydate.window_min_snapshots``), each with its own
MLflow registry ``mlflow.db`` (SQLite) holding version 1 of ``ews-pd``, and ``CAND/bt`` the output of
``ews backtest --model 1 --compare-keys --rows --train-config CAND_CONFIG`` (``pay_pd`` on every row
from the cut payment-date model of the candidate's settings; the PD column is the same model's as the
baseline's: checked with ``ews.model_sha256`` of both versions). The key each version chose at
training (tag ``ews.queue_key``) and why (``ews.queue_key.reason``) are read from the registries; the
forward ``queue_capture_top20`` of both keys on the same backtest rows, their paired difference
(candidate - baseline, Poisson bootstrap of debtors: ``benchmarks/queue_key.py``'s ``new - after``)
and the mean over the books (replicate-wise) follow. The rule pre-registered in session 26
(``/work/bench/s26-queue/prereg.txt``): the candidate ships when (a) no book is significantly worse
(the interval's upper end below 0), (b) the mean difference is above 0 in point and (c) the keys differ
on at least one book. Writes ``DIR/base.json``, ``DIR/cand.json`` (book -> key) and
``DIR/queue_key.json`` (``queue_key.py --json``); ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def version_tags(book: Path, name: str = "ews-pd", version: str = "1") -> dict[str, str]:
    """The tags of ``name`` version ``version`` in ``book/mlflow.db`` (read-only SQLite)."""
    con = sqlite3.connect(f"file:{book / 'mlflow.db'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "select key, value from model_version_tags where name = ? and version = ?", (name, int(version))
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def window_cut(book: Path) -> str | None:
    """The first month-end of the rows ``ews train`` chose the key on (the test window, or a small
    book's inner folds), read from ``book/train.log``; None when it is not there."""
    log = book / "train.log"
    if not log.exists():
        return None
    text = " ".join(log.read_text(errors="replace").split())
    for pattern in (r"test month-ends (\d{4}-\d\d-\d\d)\.\.", r"evaluated (\d{4}-\d\d-\d\d)\.\."):
        found = re.search(pattern, text)
        if found:
            return found.group(1)
    return None


def derived_base_key(cand: Path, train_config: Path) -> tuple[str, str]:
    """The baseline's key (``window_min_snapshots`` 0) for a book trained only with the candidate's
    settings: the candidate's key when it chose on pooled folds (their payment-date models do not read
    the setting) or when ``ews train``'s payment-date plan accepts the window's cut (the setting then
    changes nothing); the PD, with the plan's refusal, when the plan refuses that cut (the baseline's
    ``keep_pd``)."""
    from pipelines.adapters.files import read_portfolio
    from pipelines.config import load_config
    from pipelines.config.train import TrainConfig
    from pipelines.engine import Book
    from pipelines.flows.train import DataError
    from pipelines.flows.train_paydate import plan

    tags = version_tags(cand)
    if "pooled rolling-origin folds" in tags.get("ews.queue_key.reason", ""):
        return tags["ews.queue_key"], "pooled folds: as the candidate"
    cut = window_cut(cand)
    if cut is None:
        raise SystemExit(f"{cand}: no window cut in train.log; train the baseline instead")
    cfg = load_config(train_config, expect=TrainConfig)
    book = Book.in_memory(read_portfolio(cand / "ing"), 4_000_000)
    try:
        plan(book, cfg, cfg.paydate.horizon_weeks, last=pd.Timestamp(cut))
    except DataError as exc:
        return "pd", f"derived: the plan refuses the window's cut {cut}: {exc}"
    return tags["ews.queue_key"], f"derived: the plan accepts the window's cut {cut}: as the candidate"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", nargs="+", help="BASE:CAND book folders (see above)")
    ap.add_argument("--reps", type=int, default=400, help="bootstrap replicates (400)")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    ap.add_argument("--out", type=Path, default=Path("."), help="folder for the JSON files (.)")
    ap.add_argument(
        "--train-config",
        type=Path,
        default=None,
        help="the train config of the books given as -:CAND (no baseline training): the baseline's key "
        "is derived (derived_base_key)",
    )
    args = ap.parse_args(argv)
    import queue_key  # benchmarks/queue_key.py, beside this file

    base_keys, cand_keys, folders, notes = {}, {}, [], []
    for pair in args.pairs:
        base_s, cand_s = pair.split(":", 1)
        cand = Path(cand_s)
        tc = version_tags(cand)
        if base_s == "-":
            key, why = derived_base_key(cand, args.train_config)
            tb = {
                "ews.queue_key": key,
                "ews.queue_key.reason": why,
                "ews.model_sha256": tc.get("ews.model_sha256"),
            }
        else:
            tb = version_tags(Path(base_s))
        name = cand.name  # queue_key.py names a book by the folder above its backtest
        base_keys[name], cand_keys[name] = tb["ews.queue_key"], tc["ews.queue_key"]
        same_model = tb.get("ews.model_sha256") == tc.get("ews.model_sha256")
        notes.append(
            {
                "book": name,
                "base_key": tb["ews.queue_key"],
                "cand_key": tc["ews.queue_key"],
                "same_pd_model": same_model,
                "base_reason": tb.get("ews.queue_key.reason", ""),
                "cand_reason": tc.get("ews.queue_key.reason", ""),
            }
        )
        folders.append(str(cand / "bt"))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "base.json").write_text(json.dumps(base_keys, indent=1) + "\n")
    (args.out / "cand.json").write_text(json.dumps(cand_keys, indent=1) + "\n")
    for n in notes:
        print(
            f"{n['book']}: base {n['base_key']}, candidate {n['cand_key']}, same PD model {n['same_pd_model']}"
        )
        print(f"  base: {n['base_reason'][:300]}")
        print(f"  candidate: {n['cand_reason'][:300]}")
    out = args.out / "queue_key.json"
    queue_key.main(
        [
            *folders,
            "--reps",
            str(args.reps),
            "--seed",
            str(args.seed),
            "--chosen",
            str(args.out / "cand.json"),
            "--today",
            str(args.out / "base.json"),
            "--json",
            str(out),
        ]
    )
    res = json.loads(out.read_text())
    s = res["summary"]["new-after"]
    differ = sum(n["base_key"] != n["cand_key"] for n in notes)
    rule = {
        "a_no_book_significantly_worse": s["sig_behind"] == 0,
        "b_mean_above_0": s["mean"] > 0,
        "c_keys_differ_somewhere": differ > 0,
    }
    print(
        f"candidate - baseline over {len(notes)} books: mean {s['mean']:+.4f} [{s['mean_ci'][0]:+.4f}, "
        f"{s['mean_ci'][1]:+.4f}]; ahead {s['ahead']}, equal {s['equal']}, behind {s['behind']}; significantly "
        f"behind {s['sig_behind']}, ahead {s['sig_ahead']}; keys differ on {differ}; rule met: {all(rule.values())}"
    )
    print(
        json.dumps(
            {"books": notes, "summary": s, "keys_differ": differ, "rule": rule, "met": all(rule.values())}
        )
    )


if __name__ == "__main__":
    main()
