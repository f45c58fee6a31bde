"""Cost of `ews ingest` reading Excel workbooks (.xlsx) against the same data saved as CSV.

    PYTHONPATH=$PWD nice -n 10 .venv/bin/python benchmarks/xlsx_ingest.py WORK_DIR [--debtors N] [--seed S]

Generates a book with ``ews generate`` (base regime, 36 months; 2,100 debtors give about 100,000
invoices and as many payments), writes each table as a one-sheet workbook the way a spreadsheet holds
it (dates as date cells, numbers as numbers, TRUE/FALSE as booleans; openpyxl write-only mode) and as
the CSV Excel's "Save As CSV UTF-8" writes for it, then ingests both, in memory and streamed
(``ingest_source(stream=True)``), no Data Docs, one process each. Prints one Markdown row per case:
wall seconds, CPU seconds, peak RSS of the child process, and whether the Parquet tables and the
quarantine (but its source_file column) are the same bytes as from the CSV.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import filecmp
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

TABLES = ("invoices", "payments", "debtors", "events")
AS_OF = "2025-12-31"

ONE = """
import sys, time, resource, datetime as dt
from pathlib import Path
from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source
folder, suffix, out, stream = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4] == "1"
source = SourceConfig(name="files", rules=RulesConfig(data_docs=False),
    tables={t: FileSource(path=folder / f"{t}.{suffix}") for t in TABLES_HERE})
t0 = time.perf_counter()
ingest_source(source, out, as_of=dt.date.fromisoformat(AS_OF_HERE), stream=stream, workers=1)
rss = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(time.perf_counter() - t0, rss / 1024)
""".replace("TABLES_HERE", repr(TABLES)).replace("AS_OF_HERE", repr(AS_OF))


def _typed(v: str, header: bool) -> object:
    if header:
        return v
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        try:
            return dt.datetime.fromisoformat(v)
        except ValueError:  # a defect such as 2023-02-30 stays text, as Excel keeps it
            return v
    if v in ("true", "false"):
        return v == "true"
    if re.fullmatch(r"-?\d+(\.\d+)?", v) and not re.fullmatch(r"-?0\d+", v):
        return float(v) if "." in v else int(v)
    return v


def _excel_text(v: object) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.15g}"  # Excel shows and saves 15 significant digits
    return str(v)


def write_both(src: Path, xlsx_dir: Path, csv_dir: Path) -> dict[str, float]:
    """Each generated CSV as a workbook and as Excel's CSV of that workbook; seconds to write each workbook."""
    import openpyxl

    xlsx_dir.mkdir(parents=True, exist_ok=True)
    csv_dir.mkdir(parents=True, exist_ok=True)
    took = {}
    for table in TABLES:
        t0 = time.perf_counter()
        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet(table)
        with (
            open(src / f"{table}.csv", newline="") as fh,
            open(csv_dir / f"{table}.csv", "w", newline="") as out,
        ):
            writer = csv.writer(out, lineterminator="\n")
            for k, row in enumerate(csv.reader(fh)):
                cells = [_typed(v, k == 0) for v in row]
                ws.append(cells)
                writer.writerow([_excel_text(v) for v in cells])
        wb.save(xlsx_dir / f"{table}.xlsx")
        took[table] = time.perf_counter() - t0
    return took


def run(folder: Path, suffix: str, out: Path, stream: bool) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", ONE, str(folder), suffix, str(out), "1" if stream else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": wall,
        "ingest": float(res.stdout.strip().splitlines()[-1].split()[0]),
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "rss_mib": float(res.stdout.strip().splitlines()[-1].split()[1]),
    }


def same(a: Path, b: Path) -> bool:
    import pandas as pd

    for p in sorted(a.rglob("*.parquet")):
        if not filecmp.cmp(p, b / p.relative_to(a), shallow=False):
            return False
    for p in sorted((a / "quarantine").glob("*.csv")):
        qa, qb = (pd.read_csv(x, dtype=str) for x in (p, b / "quarantine" / p.name))
        if not qa.drop(columns="source_file").equals(qb.drop(columns="source_file")):
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--debtors", type=int, default=2100)
    ap.add_argument("--seed", type=int, default=3361)
    args = ap.parse_args()
    work = args.work
    gen = work / "gen"
    if not (gen / "invoices.csv").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.cli",
                "generate",
                "--debtors",
                str(args.debtors),
                "--months",
                "36",
                "--seed",
                str(args.seed),
                "--format",
                "csv",
                "--defects",
                "0.01",
                "--out",
                str(gen),
            ],
            check=True,
            capture_output=True,
        )
    took = write_both(gen, work / "xlsx", work / "csv")
    rows = {}
    for t in TABLES:
        with open(work / "csv" / f"{t}.csv") as fh:
            rows[t] = sum(1 for _ in fh) - 1
    sizes = {
        t: ((work / "xlsx" / f"{t}.xlsx").stat().st_size, (work / "csv" / f"{t}.csv").stat().st_size)
        for t in TABLES
    }
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    print(
        "sizes MB (xlsx / csv): "
        + ", ".join(f"{t} {x / 1e6:.1f} / {c / 1e6:.1f}" for t, (x, c) in sizes.items())
    )
    print(
        "seconds to write each workbook (openpyxl, not ews): "
        + ", ".join(f"{t} {s:.1f}" for t, s in took.items())
    )
    print("| input | path | wall s | of which ingest s | CPU s | peak RSS MiB | same bytes as CSV |")
    print("|---|---|---|---|---|---|---|")
    figures = {}
    for stream in (False, True):
        outs = {}
        for suffix in ("csv", "xlsx"):
            out = work / f"out_{suffix}_{'stream' if stream else 'mem'}"
            f = run(work / suffix, suffix, out, stream)
            outs[suffix] = out
            figures[f"{suffix}_{'stream' if stream else 'mem'}"] = f
            eq = "-" if suffix == "csv" else ("yes" if same(outs["csv"], out) else "NO")
            print(
                f"| {suffix} | {'streamed' if stream else 'in memory'} | {f['wall']:.1f} | {f['ingest']:.1f} | "
                f"{f['cpu']:.1f} | {f['rss_mib']:.0f} | {eq} |",
                flush=True,
            )
    (work / "xlsx_ingest.json").write_text(json.dumps({"rows": rows, "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
