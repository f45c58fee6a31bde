"""Hostile probes of session 26's streamed ``--keep-history`` merge and ``more_files`` (BENCHMARKS.md
"Session 26 (s26-review)"). Each probe ingests hand-built ledgers (the books of
``tests/pipelines/test_history_s26.py``) in memory and streamed and prints what it found:

- ``foreign``: another ledger numbered as the history's, streamed (2 partitions): refused, folder unchanged?
- ``removed``: an export lacking 30 of the 60 kept invoices inside its span: refused in memory and streamed?
- ``statements``: a history with statements, tonight's streamed export without: same bytes as in memory?
- ``first``: night 1 streamed, night 2 in memory: same bytes as both in memory?
- ``nodebtors``: tonight without a debtors table (rows readmitted through the history): same as in memory?
- ``sample``: the other-ledger check on a sample (``SAMPLE_ROWS`` made ``--sample-rows``): its line;
- ``morefiles``: payments from three files (a 6-field line and a duplicate in the second, the third
  header-only): rows in = accepted + quarantined per file, streamed bytes.

Run from the repository root (it imports the test books):

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/review_probes.py --work /tmp/probes [--only foreign,first]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.config import load_config  # noqa: E402
from pipelines.config.source import FileSource, SourceConfig  # noqa: E402
from pipelines.ingest import TableError, ingest_source  # noqa: E402
from tests.pipelines.test_history_s26 import (  # noqa: E402
    NIGHT1,
    NIGHT2,
    SMALL,
    _book1,
    _book2,
    _files,
    _kept,
    _ledger,
    _other,
    _outputs,
    _tree,
)

STREAM = {"stream": True, "partitions": 2, "chunk_rows": 3}


def _src(files: dict[str, Path]) -> SourceConfig:
    return SourceConfig(name="files", rules=SMALL, tables={t: FileSource(path=p) for t, p in files.items()})


def foreign(d: Path, _: argparse.Namespace) -> Any:
    out = d / "out"
    ingest_source(_src(_files(d / "n1", _kept())), out, as_of=NIGHT1, keep_history=True)
    before = _tree(out)
    try:
        ingest_source(_src(_files(d / "n2", _other(25))), out, as_of=NIGHT2, keep_history=True, **STREAM)
    except TableError as e:
        dots = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
        return {"refused": str(e)[:120], "unchanged": _tree(out) == before, "dot entries": dots}
    return "NOT refused"


def removed(d: Path, _: argparse.Namespace) -> Any:
    inv = "".join(
        f"I{k},D{1 + k % 6},2024-03-{1 + k % 28:02d},2024-04-30,{100 + k}.00,EUR\n" for k in range(1, 61)
    )
    inv2 = "".join(
        f"I{k},D{1 + k % 6},2024-03-{1 + k % 28:02d},2024-04-30,{100 + k}.00,EUR\n" for k in range(31, 61)
    )
    inv2 += "".join(
        f"J{k},D{1 + k % 6},2024-04-{1 + k % 28:02d},2024-05-30,{10 + k}.00,EUR\n" for k in range(1, 61)
    )
    res = {}
    for mode, kw in (("memory", {}), ("streamed", {**STREAM, "chunk_rows": 7})):
        o = d / mode
        ingest_source(_src(_ledger(d / "n1", inv, "")), o, as_of=NIGHT1, keep_history=True)
        b = _tree(o)
        try:
            ingest_source(_src(_ledger(d / "n2", inv2, "")), o, as_of=NIGHT2, keep_history=True, **kw)
            res[mode] = "taken"
        except TableError as e:
            res[mode] = f"refused, unchanged {_tree(o) == b}: {str(e)[:100]}"
    return res


def _two_ways(d: Path, night1: dict[str, Path], night2: dict[str, Path], first_streamed: bool = False) -> Any:
    got = {}
    for mode in ("memory", "streamed"):
        o = d / mode
        kw1 = STREAM if (first_streamed and mode == "streamed") else {}
        ingest_source(_src(night1), o, as_of=NIGHT1, keep_history=True, **kw1)
        kw2 = {} if first_streamed else (STREAM if mode == "streamed" else {})
        m = ingest_source(_src(night2), o, as_of=NIGHT2, keep_history=True, **kw2).manifest
        got[mode] = (m["history"], _outputs(o))
    return {
        "history sections equal": got["memory"][0] == got["streamed"][0],
        "tables and quarantine bytes equal": got["memory"][1] == got["streamed"][1],
        "readmitted": got["memory"][0].get("readmitted"),
    }


def statements(d: Path, _: argparse.Namespace) -> Any:
    night1 = _book1(d / "n1")
    (d / "n1" / "st.csv").write_text(
        "debtor_id,period_end,balance,amount_due,amount_paid,days_past_due,credit_limit\n"
        "D1,2024-01-31,100.00,0.00,0.00,0,1000\nD2,2024-02-29,50.00,50.00,0.00,10,500\n"
        "D5,2024-02-29,60.00,0.00,0.00,0,500\n"
    )
    night1["statements"] = d / "n1" / "st.csv"
    return _two_ways(d, night1, _book2(d / "n2"))


def first(d: Path, _: argparse.Namespace) -> Any:
    return _two_ways(d, _book1(d / "n1"), _book2(d / "n2"), first_streamed=True)


def nodebtors(d: Path, _: argparse.Namespace) -> Any:
    night2 = _book2(d / "n2")
    night2.pop("debtors")
    return _two_ways(d, _book1(d / "n1"), night2)


def sample(d: Path, args: argparse.Namespace) -> Any:
    import pipelines.ingest.history_stream as history_stream

    history_stream.SAMPLE_ROWS = args.sample_rows
    kept = "".join(f"X{k},D1,2024-03-{1 + k % 28:02d},2024-04-30,{100 + k}.00,EUR\n" for k in range(1, 201))
    other = "".join(f"X{k},D9,2024-04-{1 + k % 28:02d},2024-05-30,{500 + k}.00,EUR\n" for k in range(1, 201))
    ingest_source(_src(_files(d / "n1", kept)), d / "out", as_of=NIGHT1, keep_history=True)
    try:
        ingest_source(_src(_files(d / "n2", other)), d / "out", as_of=NIGHT2, keep_history=True, **STREAM)
    except TableError as e:
        return "refused: " + str(e)[:160]
    return "taken"


def morefiles(d: Path, _: argparse.Namespace) -> Any:
    (d / "inv.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount,currency\nI1,D1,2024-01-05,2024-02-04,100.00,EUR\n"
        "I2,D2,2024-01-10,2024-02-09,50.00,EUR\nI3,D1,2024-02-01,2024-03-02,70.00,EUR\n"
    )
    (d / "deb.csv").write_text("debtor_id,name\nD1,A\nD2,B\n")
    head = "payment_id,debtor_id,invoice_id,paid_on,amount\n"
    (d / "pay_a.csv").write_text(head + "P1,D1,I1,2024-02-01,100.00\nP2,D2,I2,2024-02-05,20.00\n")
    (d / "pay_b.csv").write_text(
        head + "P3,D2,I2,2024-02-20,30.00\nP4,D1,I3,2024-02-25,10.00,EXTRA\nP2,D2,I2,2024-02-05,20.00\n"
        "P5,D1,I3,2024-02-26,5.00\n"
    )
    (d / "pay_c.csv").write_text(head)
    (d / "src.yaml").write_text(
        f"kind: source\nname: mf\ntables:\n  invoices:\n    path: {d / 'inv.csv'}\n  debtors:\n"
        f"    path: {d / 'deb.csv'}\n  payments:\n    path: {d / 'pay_a.csv'}\n    more_files:\n"
        f"      - {{path: {d / 'pay_b.csv'}}}\n      - {{path: {d / 'pay_c.csv'}}}\n"
    )
    source = load_config(d / "src.yaml", SourceConfig)
    as_of = dt.date(2024, 3, 31)
    result = ingest_source(source, d / "memory", as_of=as_of, stream=False)
    pay = result.manifest["tables"]["payments"]
    ingest_source(source, d / "streamed", as_of=as_of, stream=True, chunk_rows=2, partitions=2, workers=1)
    q = result.quarantine["payments"]
    return {
        "table in = accepted + quarantined": (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]),
        "per file": [
            (Path(f["input"]).name, f["rows_in"], f["rows_accepted"], f["rows_quarantined"])
            for f in pay["files"]
        ],
        "quarantine": [
            (Path(f).name, int(r), why)
            for f, r, why in q[["source_file", "source_row", "reason"]].values.tolist()
        ],
        "streamed same bytes": _outputs(d / "memory") == _outputs(d / "streamed"),
    }


PROBES = {f.__name__: f for f in (foreign, removed, statements, first, nodebtors, sample, morefiles)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="probes: " + ", ".join(PROBES)
    )
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (emptied per probe)")
    parser.add_argument("--only", default="", help="comma-separated probe names (default: all)")
    parser.add_argument("--sample-rows", type=int, default=100, help="SAMPLE_ROWS for the 'sample' probe")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(PROBES)
    for name in names:
        d = args.work / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        print(f"{name}: {PROBES[name](d, args)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
