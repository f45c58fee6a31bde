"""Hostile probes of the streamed ``--keep-history`` ingest against the in-memory one
(BENCHMARKS.md "Session 29 (s29-review)").

master FEEDS WORK [--share 0.6] [--defect dup|limit] [--modes memory,stream]
    FEEDS holds two nights of ``rolling_scale.py feeds`` (Parquet). In BOTH nights a share of the
    debtors (by a hash of the id) has a master-data defect the ERP keeps: ``dup`` (default) a second
    row with another segment (both rows rejected under the default config), ``limit`` a negative
    credit_limit (rejected only under ``rules.optional_attributes: quarantine``; by default the
    value is cleared and the debtor kept).
    Night 1 is ingested in memory with --keep-history into WORK/base (those debtors and their
    invoices quarantined); night 2 is then ingested on a copy of WORK/base in each mode. The
    history has never held the invoices of the quarantined debtors: an honest night, both nights
    of the same ledger.
empty FEEDS WORK [--modes memory,stream]
    night 2 with its payments table emptied (header only), and night 2 with its debtors table
    emptied, each with --keep-history on WORK/base (made by ``master`` with --share 0, or here).

Modes: ``memory`` (as shipped); ``stream`` (``review_probes_s28.py drive``: STREAM_ROWS 1,000, 4
partitions). Prints exit code, wall seconds, the last lines, whether the folder is unchanged and
whether a traceback was printed; for runs that passed in both modes, whether every published
table is the same bytes.

OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/review_probes_s29.py master \
    /work/bench/s29-review/feeds /work/bench/s29-review/master --share 0.6
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
S28 = ROOT / "benchmarks" / "review_probes_s28.py"


def _bad(ids: list[str | None], share: float) -> list[bool]:
    return [int(hashlib.sha256((s or "").encode()).hexdigest()[:8], 16) % 1000 < share * 1000 for s in ids]


def _copy_night(
    night: Path, out: Path, share: float = 0.0, empty: str | None = None, defect: str = "dup"
) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        src = night / f"{name}.parquet"
        if not src.is_file():
            continue
        t = pq.read_table(src)
        if name == "debtors" and share > 0:
            bad = pa.array(_bad(t["debtor_id"].to_pylist(), share))
            if defect == "limit":
                lim = pc.if_else(bad, pc.negate(t["credit_limit"]), t["credit_limit"])
                t = t.set_column(t.schema.get_field_index("credit_limit"), "credit_limit", lim)
            else:
                twin = t.filter(bad)
                seg = pa.array(["other"] * len(twin), type=t.schema.field("segment").type)
                twin = twin.set_column(t.schema.get_field_index("segment"), "segment", seg)
                t = pa.concat_tables([t, twin])
        if name == empty:
            t = t.slice(0, 0)
        pq.write_table(t, out / f"{name}.parquet")


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.name not in (".ingest.lock", "manifest.json")
        and not str(p.relative_to(folder)).startswith((".spill", ".staging", "logs"))
    }


def _ingest(night: Path, out: Path, as_of: str, mode: str) -> tuple[int, float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = [f"--{t}={night / (t + '.parquet')}" for t in TABLES if (night / f"{t}.parquet").is_file()]
    args += ["--out", str(out), "--as-of", as_of, "--keep-history", "--no-docs"]
    if mode == "memory":
        cmd = [str(Path(sys.executable).with_name("ews")), "ingest", *args]
    else:
        cmd = [sys.executable, str(S28), "drive", "ingest", *args]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return p.returncode, time.monotonic() - t0, p.stdout + p.stderr


def _run(label: str, night: Path, base: Path, work: Path, as_of: str, modes: list[str]) -> None:
    before = _tree(base)
    outs = {}
    for mode in modes:
        out = work / f"{label}_{mode}"
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(base, out)
        rc, secs, said = _ingest(night, out, as_of, mode)
        lines = [s for s in said.strip().splitlines() if s.strip()]
        last = re.sub(r"\s+", " ", " ".join(lines[-3:]))
        print(
            f"{label} {mode}: rc={rc} {secs:.1f} s unchanged={_tree(out) == before} "
            f"traceback={'Traceback' in said}\n   said: {last[-600:]}",
            flush=True,
        )
        if rc == 0:
            outs[mode] = _tree(out)
    if len(outs) == 2:
        a, b = outs.values()
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        print(f"{label}: {len(a)} files, same bytes in both modes: {not diff} {diff[:6]}", flush=True)


def _base(feeds: Path, work: Path, share: float, defect: str) -> tuple[Path, str, str]:
    nights = sorted(p.name for p in feeds.iterdir() if p.name[:2] == "20")[:2]
    base = work / "base"
    if not (base / "manifest.json").is_file():
        shutil.rmtree(base, ignore_errors=True)
        n1 = work / "night1"
        _copy_night(feeds / nights[0], n1, share, defect=defect)
        rc, secs, said = _ingest(n1, base, nights[0], "memory")
        print(f"base {nights[0]} (share {share}): rc={rc} {secs:.1f} s", flush=True)
        if rc:
            print(said)
            raise SystemExit(1)
    return base, nights[0], nights[1]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in ("master", "empty"):
        print(__doc__)
        return 0
    opts = {"--share": "0.6", "--modes": "memory,stream", "--defect": "dup"}
    for k in opts:
        if k in argv:
            opts[k] = argv[argv.index(k) + 1]
    feeds, work = Path(argv[1]), Path(argv[2])
    modes = opts["--modes"].split(",")
    share = float(opts["--share"]) if argv[0] == "master" else 0.0
    base, _n1, n2 = _base(feeds, work, share, opts["--defect"])
    if argv[0] == "master":
        night = work / "night2"
        _copy_night(feeds / n2, night, share, defect=opts["--defect"])
        _run("master", night, base, work, n2, modes)
    else:
        for table in ("payments", "debtors"):
            night = work / f"night2_no_{table}"
            _copy_night(feeds / n2, night, empty=table)
            _run(f"empty_{table}", night, base, work, n2, modes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
