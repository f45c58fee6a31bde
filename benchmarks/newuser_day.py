"""A new user's first day with a pip-installed ews, each step timed: wall, CPU, peak RSS.

Runs, in a fresh project folder, what the README and `ews --help` walk a new user through:
``ews init``, ``ews generate`` (a synthetic book), the ``ews ingest`` command that generate prints,
``ews train``, a first night's ``ews score``, two ``ews watchlist override`` (clear the lowest-PD and
escalate the highest-PD watchlist row), a second night's score, ``ews watchlist history``,
``ews backtest`` over the last 12 month-ends, ``ews models list`` / ``history`` and
``ews models promote 1``. Each step is a child process; its CPU (user + system) and peak RSS come
from ``os.wait4``. Prints a Markdown table and writes ``--json``.

Session 25 (s25-newuser), BENCHMARKS.md, hostile-inputs section:

    python benchmarks/newuser_day.py --ews ~/venv/bin/ews --dir /tmp/day150 --debtors 150 --months 30 --seed 25150
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run(step: str, cmd: list[str], cwd: Path, log: Path) -> dict:
    """One step as a child process: its wall seconds, CPU seconds, peak RSS (MiB) and exit code."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        start = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    row = {
        "step": step,
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
        "exit": code,
        "command": " ".join(cmd[1:]),
    }
    print(f"{step:<14} wall {row['wall_s']:>7} s  cpu {row['cpu_s']:>6} s  rss {row['peak_rss_mib']:>5} MiB  "
          f"exit {code}", file=sys.stderr, flush=True)  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ews", default="ews", help="the ews executable of the installation to time")
    parser.add_argument("--dir", type=Path, required=True, help="project folder to create (must not exist)")
    parser.add_argument("--debtors", type=int, default=150)
    parser.add_argument("--months", type=int, default=30)
    parser.add_argument("--seed", type=int, default=25150)
    parser.add_argument("--json", type=Path, help="write the rows here (default: DIR/day.json)")
    args = parser.parse_args()
    ews, folder = args.ews, args.dir.resolve()
    if folder.exists():
        parser.error(f"{folder} exists: give a new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    log = folder.parent / f"{folder.name}.log"
    rows = [run("init", [ews, "init", str(folder)], folder.parent, log)]
    gen = [
        ews,
        "generate",
        "--debtors",
        str(args.debtors),
        "--months",
        str(args.months),
        "--seed",
        str(args.seed),
    ]
    rows.append(run("generate", [*gen, "--out", "data/generated"], folder, log))
    text = log.read_text(encoding="utf-8")
    history = next(line for line in text.splitlines() if line.startswith("history "))
    last = history.split(" .. ")[1].split(":")[0]  # the history's last day: the second night
    ingest = next(line for line in text.splitlines() if line.startswith("next: ews ingest "))
    rows.append(run("ingest", [ews, *ingest.removeprefix("next: ews ").split()], folder, log))
    rows.append(run("train", [ews, "train", "--data", "data/ingested"], folder, log))
    import datetime as dt

    night1 = (dt.date.fromisoformat(last) - dt.timedelta(days=1)).isoformat()
    rows.append(
        run("score night 1", [ews, "score", "--data", "data/ingested", "--as-of", night1], folder, log)
    )
    import pandas as pd

    watch = pd.read_parquet(folder / "data" / "runs" / night1 / "watchlist.parquet")
    top, low = str(watch["debtor_id"].iloc[0]), str(watch["debtor_id"].iloc[-1])
    rows.append(run("override", [ews, "watchlist", "override", low, "--status", "cleared", "--reason",
                                 "paid in full, remittance seen", "--by", "A. Jansen"], folder, log))  # fmt: skip
    rows.append(run("override", [ews, "watchlist", "override", top, "--status", "escalated", "--reason",
                                 "insolvency rumours", "--by", "A. Jansen"], folder, log))  # fmt: skip
    rows.append(run("score night 2", [ews, "score", "--data", "data/ingested", "--as-of", last], folder, log))
    rows.append(run("history", [ews, "watchlist", "history", low], folder, log))
    start = (dt.date.fromisoformat(last).replace(day=1) - pd.DateOffset(months=11)).date().isoformat()
    bt = [ews, "backtest", "--data", "data/ingested", "--from", start, "--to", last, "--out", "data/backtest"]
    rows.append(run("backtest", bt, folder, log))
    rows.append(run("models list", [ews, "models", "list"], folder, log))
    rows.append(run("models history", [ews, "models", "history"], folder, log))
    rows.append(
        run("promote", [ews, "models", "promote", "1", "--reason", "reviewed by credit risk"], folder, log)
    )
    (args.json or folder / "day.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print("| step | wall s | CPU s | peak RSS MiB | exit |\n|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['step']} | {r['wall_s']} | {r['cpu_s']} | {r['peak_rss_mib']} | {r['exit']} |")
    print(f"| total | {sum(r['wall_s'] for r in rows):.1f} | {sum(r['cpu_s'] for r in rows):.1f} | "
          f"{max(r['peak_rss_mib'] for r in rows)} | |")  # fmt: skip


if __name__ == "__main__":
    main()
