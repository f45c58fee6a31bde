"""Hostile probes of the kept history's other-ledger refusal (BENCHMARKS.md "Session 28 (s28-review)").

unknown FEEDS WORK [--variants ids,debtors,third] [--modes memory,stream,sample]
    FEEDS holds two nights of ``rolling_scale.py feeds`` (Parquet); night 1 is ingested into
    WORK/base (in memory, --keep-history). Each variant rewrites night 2 as another export:

    ids      every invoice id loses the zeros after its letter (I000000100004 -> I100004), in the
             invoices and the payments: an export whose ids were read as numbers somewhere;
    debtors  only the invoices issued after night 1, every debtor id without its zeros (D0000001 ->
             D1) in every table: no invoice of today's export was issued before the history's as-of
             date, so the debtors are compared;
    third    one invoice id in three (by hash) without its zeros: not another ledger, but a third of
             the span's kept invoices missing from today's export.
    junk     night 2 as exported, plus two copies of its invoices issued before night 1 under ids and
             debtor ids no table knows (prefixed Z and Y): 2 of 3 such invoices quarantined as
             unknown_debtor in memory; the accepted ones are the history's ledger.

    and runs ``ews ingest --keep-history --no-docs`` on a copy of WORK/base in each mode: ``memory``
    (as shipped), ``stream`` (the streaming threshold lowered: 4 partitions, the configured
    workers), ``sample`` (streamed, and the other-ledger check reading one id in 16 of a sample,
    SAMPLE_ROWS lowered). Prints exit code, wall seconds, the last line, whether the folder is
    unchanged and whether a traceback was printed.
drive [--sample N] ARGS...
    ``ews ARGS`` with the streaming threshold lowered (and SAMPLE_ROWS = N)

OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/review_probes_s28.py unknown \
    /work/bench/s28-review/feeds /work/bench/s28-review/unknown
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("invoices", "payments", "debtors", "events")


def drive(args: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    import pipelines.ingest as ingest
    import pipelines.ingest.history_stream as hs
    import pipelines.ingest.stream as st

    ingest.STREAM_ROWS = 1000
    st.spill_partitions = lambda source, estimated: 4
    if args and args[0] == "--sample":
        hs.SAMPLE_ROWS = int(args[1])
        args = args[2:]
    from pipelines.cli import main

    sys.argv = ["ews", *args]
    main()


def _unzero(col, prefix: str):  # noqa: ANN001 - a pyarrow string array
    import pyarrow.compute as pc

    return pc.replace_substring_regex(col, pattern=f"^{prefix}0+", replacement=prefix)


def rewrite(night: Path, out: Path, variant: str, after: str) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    t = {
        name: pq.read_table(night / f"{name}.parquet")
        for name in TABLES
        if (night / f"{name}.parquet").is_file()
    }
    if variant in ("ids", "third"):
        for name in ("invoices", "payments"):
            ids = t[name]["invoice_id"]
            new = _unzero(ids, "I")
            if variant == "third":
                h = np.array(
                    [int(hashlib.sha256((s or "").encode()).hexdigest()[:8], 16) % 3 for s in ids.to_pylist()]
                )
                new = pc.if_else(pa.array(h == 0), new, ids)
            t[name] = t[name].set_column(t[name].schema.get_field_index("invoice_id"), "invoice_id", new)
    elif variant == "debtors":
        inv = t["invoices"]
        keep = pc.greater(inv["issue_date"], pa.scalar(__import__("datetime").datetime.fromisoformat(after)))
        t["invoices"] = inv.filter(keep)
        kept_ids = t["invoices"]["invoice_id"]
        t["payments"] = t["payments"].filter(pc.is_in(t["payments"]["invoice_id"], value_set=kept_ids))
        for name, table in t.items():
            t[name] = table.set_column(
                table.schema.get_field_index("debtor_id"), "debtor_id", _unzero(table["debtor_id"], "D")
            )
    elif variant == "junk":
        inv = t["invoices"]
        seen = inv.filter(
            pc.less_equal(inv["issue_date"], pa.scalar(__import__("datetime").datetime.fromisoformat(after)))
        )
        extra = []
        for mark in ("Z", "Y"):
            x = seen
            for col in ("invoice_id", "debtor_id"):
                x = x.set_column(
                    x.schema.get_field_index(col), col, pc.binary_join_element_wise(mark, x[col], "")
                )
            extra.append(x)
        t["invoices"] = pa.concat_tables([inv, *extra])
    else:
        raise SystemExit(f"unknown variant {variant}")
    for name, table in t.items():
        pq.write_table(table, out / f"{name}.parquet")


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.name != ".ingest.lock"
        and not str(p.relative_to(folder)).startswith((".spill", ".staging"))
    }


def unknown(feeds: Path, work: Path, variants: list[str], modes: list[str]) -> None:
    nights = sorted(p.name for p in feeds.iterdir() if p.name[:2] == "20")[:2]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    def ingest(night: Path, out: Path, as_of: str, mode: str) -> tuple[int, float, str]:
        args = [f"--{t}={night / (t + '.parquet')}" for t in TABLES if (night / f"{t}.parquet").is_file()]
        args += ["--out", str(out), "--as-of", as_of, "--keep-history", "--no-docs"]
        if mode == "memory":
            cmd = [str(Path(sys.executable).with_name("ews")), "ingest", *args]
        else:
            cmd = [
                sys.executable,
                __file__,
                "drive",
                *(["--sample", "20000"] if mode == "sample" else []),
                "ingest",
            ]
            cmd += args
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        return p.returncode, time.monotonic() - t0, p.stdout + p.stderr

    base = work / "base"
    if not (base / "manifest.json").is_file():
        shutil.rmtree(base, ignore_errors=True)
        rc, secs, said = ingest(feeds / nights[0], base, nights[0], "memory")
        print(f"base {nights[0]}: rc={rc} {secs:.1f} s", flush=True)
        if rc:
            print(said)
            return
    before = _tree(base)
    for variant in variants:
        night = work / f"night_{variant}"
        rewrite(feeds / nights[1], night, variant, nights[0])
        for mode in modes:
            out = work / f"{variant}_{mode}"
            shutil.rmtree(out, ignore_errors=True)
            shutil.copytree(base, out)
            rc, secs, said = ingest(night, out, nights[1], mode)
            lines = [s for s in said.strip().splitlines() if s.strip()]
            last = re.sub(r"\s+", " ", " ".join(lines[-3:]))
            print(
                f"{variant} {mode}: rc={rc} {secs:.1f} s unchanged={_tree(out) == before} "
                f"traceback={'Traceback' in said}\n   said: {last[-700:]}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "drive":
        drive(argv[1:])
    elif argv[0] == "unknown":
        opts = {"--variants": "ids,debtors,third", "--modes": "memory,stream,sample"}
        for k in opts:
            if k in argv:
                opts[k] = argv[argv.index(k) + 1]
        unknown(Path(argv[1]), Path(argv[2]), opts["--variants"].split(","), opts["--modes"].split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
