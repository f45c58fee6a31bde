"""Hostile probes of session 27's streamed ``--keep-history`` merge (BENCHMARKS.md "Session 27 (s27-review)").

foreign NIGHT OUT
    another ledger numbered as the history's, from a rolling night of ``rolling_scale.py feeds``
    (Parquet): every invoice's issue and due date a day later AND its amount +1.00 (an ERP's
    revision changes one of them, not both); payments, debtors and events copied
kill FEEDS WORK [--probes main_kill,worker_kill,term,concurrent]
    FEEDS holds two nights (``rolling_scale.py feeds ... --nights N1,N2``); night 1 is ingested into
    WORK/base and night 2 uninterrupted into WORK/ref (streamed: the streaming threshold lowered, 4
    partitions, 2 workers; the merge step sleeps 4 s so that a kill lands in it); then each probe
    runs night 2 on a copy of WORK/base: kill -9 of ews, kill -9 of one merge worker, SIGTERM, a
    second ingest while the first merges. Prints exit codes, last lines, survivors, whether the
    tables are unchanged and whether the rerun publishes WORK/ref's bytes.
drive ARGS...
    ``ews ARGS`` with the streaming threshold lowered (what ``kill`` runs)

OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/review_probes_s27.py kill /work/bench/s27-review/feeds W
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def drive(args: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    import pipelines.ingest as ingest
    import pipelines.ingest.history_stream as hs
    import pipelines.ingest.stream as st

    ingest.STREAM_ROWS = 1000
    st.spill_partitions = lambda source, estimated: 4
    mark = os.environ.get("PROBE_MARK")
    if mark:
        real = hs.MergeJob.merge

        def slow(self, p):
            with open(mark, "a") as fh:
                fh.write(f"{os.getpid()} {os.getppid()} merge {p}\n")
            time.sleep(4)
            return real(self, p)

        hs.MergeJob.merge = slow
    from pipelines.cli import main

    sys.argv = ["ews", *args]
    main()


def foreign(night: Path, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    t = pq.read_table(night / "invoices.parquet")
    for c in ("issue_date", "due_date"):
        day = (
            pa.scalar(1, pa.int32())
            if pa.types.is_date32(t[c].type)
            else pa.scalar(86_400_000, pa.duration("ms"))
        )
        shifted = (
            pc.add(t[c], day)
            if not pa.types.is_date32(t[c].type)
            else pc.cast(pc.add(pc.cast(t[c], pa.int32()), day), pa.date32())
        )
        t = t.set_column(t.schema.get_field_index(c), c, pc.cast(shifted, t[c].type))
    t = t.set_column(
        t.schema.get_field_index("amount"), "amount", pc.add(t["amount"], pa.scalar(1.0, t["amount"].type))
    )
    pq.write_table(t, out / "invoices.parquet")
    for f in ("payments", "debtors", "events"):
        if (night / f"{f}.parquet").is_file():
            shutil.copy(night / f"{f}.parquet", out / f"{f}.parquet")


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.name != ".ingest.lock"
        and not str(p.relative_to(folder)).startswith((".spill", ".staging"))
    }


def kill(feeds: Path, work: Path, probes: list[str]) -> None:
    nights = sorted(p.name for p in feeds.iterdir() if p.name[:2] == "20")[:2]

    def start(night: str, out: Path, mark: Path | None = None) -> subprocess.Popen:
        f = feeds / night
        args = [f"--{t}={f / (t + '.parquet')}" for t in ("invoices", "payments", "debtors", "events")]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        if mark is not None:
            env["PROBE_MARK"] = str(mark)
        cmd = [sys.executable, __file__, "drive", "ingest", *args, "--out", str(out), "--as-of", night]
        cmd += ["--keep-history", "--no-docs"]
        return subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
        )

    def wait_mark(mark: Path) -> list[str]:
        while not (mark.exists() and mark.read_text().strip()):
            time.sleep(0.2)
        return mark.read_text().split("\n")

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    start(nights[0], work / "base").communicate()
    shutil.copytree(work / "base", work / "ref")
    start(nights[1], work / "ref").communicate()
    base, ref = _tree(work / "base"), _tree(work / "ref")
    for probe in probes:
        out, mark = work / probe, work / f"{probe}.mark"
        shutil.copytree(work / "base", out)
        p = start(nights[1], out, mark)
        worker, _parent = wait_mark(mark)[0].split()[:2]
        if probe == "concurrent":
            q = start(nights[1], out)
            said, _ = q.communicate()
            p.communicate()
            print(
                f"concurrent: second rc={q.returncode} '{said.strip().splitlines()[-1][:160]}'; first same as ref={_tree(out) == ref}"
            )
            continue
        os.kill(
            int(worker) if probe == "worker_kill" else p.pid,
            signal.SIGTERM if probe == "term" else signal.SIGKILL,
        )
        said, _ = p.communicate()
        time.sleep(3)
        left = subprocess.run(["pgrep", "-s", str(p.pid)], capture_output=True, text=True).stdout.split()
        print(
            f"{probe}: rc={p.returncode} survivors={left} unchanged={_tree(out) == base} traceback={'Traceback' in said}"
        )
        print("   said:", " | ".join(said.strip().splitlines()[-2:])[:300])
        for k in left:
            os.kill(int(k), signal.SIGKILL)
        r = start(nights[1], out)
        r.communicate()
        print(f"   rerun rc={r.returncode} same as ref={_tree(out) == ref}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "drive":
        drive(argv[1:])
    elif argv[0] == "foreign":
        foreign(Path(argv[1]), Path(argv[2]))
    elif argv[0] == "kill":
        probes = "main_kill,worker_kill,term,concurrent"
        if "--probes" in argv:
            probes = argv[argv.index("--probes") + 1]
        kill(Path(argv[1]), Path(argv[2]), probes.split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
