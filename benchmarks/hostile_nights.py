"""Feeds that are valid row by row but wrong as a whole, sent to the nightly (``ews ingest`` + ``ews
score``) of a small trained book (BENCHMARKS.md, "Session 30 (s30-hostile)").

    setup WORK [--seed 3030] [--nights 2024-12-29,2024-12-30,2024-12-31]
        WORK/proj: ``ews init``, ``ews generate --debtors 300 --months 24 --format csv`` (raw/), the
        nights' feeds as CSV: feeds/plain/D (the whole ledger cut at D) and feeds/keep/D (a 12-month
        rolling export of D with its open items, ``history_nights.export``). The model: the whole feed
        of the first night ingested and trained (``ews train``). The honest base: the first two nights
        ingested and scored, plain (ing/plain/D, runs/plain) and with --keep-history (ing/keep,
        runs/keep: the first night the whole ledger, the next ones rolling exports; the first night of
        a rolling export alone read 16.7 % of the debtors in default and was refused, default_share);
        the last night honest in each kind (the reference every attack is compared with).
    attack WORK NAME[,NAME...] [--kinds plain,keep] [--modes memory,stream]
        the last night's feed attacked (NAME below), ingested in each mode (``memory`` as shipped;
        ``stream``: ``review_probes_s28.py drive``, STREAM_ROWS 1,000, 4 partitions) on a copy of the
        base, then scored into a copy of the base runs when the ingest exits 0 (a streamed ingest whose
        folder is the in-memory one's bytes is not scored again; --no-score: ingest only). Prints per run: exit
        codes, rows in = accepted + quarantined per table, quarantine reasons, the console's error /
        warning lines, "Traceback" in the console or in the run's files, and when published: the
        debtors whose band differs from the honest night's, the watchlist and the queues' sizes, the
        mean PD.

Attacks (the last night, D3; D2 the night before):
    twice       D3's files ingested and scored twice into the same folders (the second run's bytes)
    yesterday   D2's files sent again as D3's
    pay_cut1    payments paid on D3 left out (one day); invoices complete
    pay_cut7    payments paid in the 7 days up to D3 left out
    pay_year    every payment date + 1 year
    date_mix    every date written d/m/Y (a source config says so); from the middle of the payments
                file on, m/d/Y
    ids_prefix  every debtor id prefixed "C-" in every table; ids_prefix_half: half the debtors
    ids_zeros   every debtor id without its leading zeros (D0000001 -> D1); ids_zeros_half
    currency    the invoices of one debtor in 10 (by hash) in USD (no fx rate configured)
    cents_inv / cents_pay / cents_deb   one file's amounts (credit_limit for debtors) x 100
    deb_drop    the debtors table without the debtor holding the most open balance (its invoices remain)
    deb_drop_def the debtors table without the debtors in default on D2 (their invoices remain)

OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/hostile_nights.py setup /work/bench/s30-hostile
OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/hostile_nights.py attack /work/bench/s30-hostile yesterday
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
TABLES = ("invoices", "payments", "debtors", "events")
DRIVE = ROOT / "benchmarks" / "review_probes_s28.py"
EWS = [sys.executable, "-m", "pipelines.cli"]
DATES = {"invoices": ("issue_date", "due_date"), "payments": ("paid_on",), "events": ("event_date",), "debtors": ("onboarded_on",)}  # fmt: skip


CODE = [ROOT]  # the code the commands run (--code: e.g. a `git archive` of main, for "before")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(CODE[0]), "OMP_NUM_THREADS": "1"}


def _run(cmd: list[str], cwd: Path) -> tuple[int, float, str]:
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=cwd)
    return p.returncode, time.monotonic() - t0, p.stdout + p.stderr


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    return {
        t: pd.read_csv(folder / f"{t}.csv", dtype=str, keep_default_na=False)
        for t in TABLES
        if (folder / f"{t}.csv").is_file()
    }


def _write(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)


def _ingest_cmd(feed: Path, out: Path, as_of: str, keep: bool, mode: str, source: Path | None) -> list[str]:
    if source is not None:
        args = ["ingest", "--source", str(source)]
        args += [f"--path={t}={feed / (t + '.csv')}" for t in TABLES if (feed / f"{t}.csv").is_file()]
    else:
        args = ["ingest", *[f"--{t}={feed / (t + '.csv')}" for t in TABLES if (feed / f"{t}.csv").is_file()]]
    args += ["--out", str(out), "--as-of", as_of, "--no-docs"] + (["--keep-history"] if keep else [])
    drive = CODE[0] / DRIVE.relative_to(ROOT)
    return [sys.executable, str(drive), "drive", *args] if mode == "stream" else [*EWS, *args]


def setup(work: Path, seed: int, nights: list[str], only: tuple[str, ...] = ("plain", "keep")) -> None:
    from history_nights import export

    proj = work / "proj"
    if not (proj / "conf").is_dir():
        _run([*EWS, "init", str(proj)], work)
    raw = proj / "raw"
    if not (raw / "invoices.csv").is_file():
        rc, secs, said = _run([*EWS, "generate", "--debtors", "300", "--months", "24", "--seed", str(seed), "--format", "csv", "--out", str(raw)], proj)  # fmt: skip
        print(f"generate rc={rc} {secs:.1f} s")
    book = _read(raw)
    for night in nights:
        cut = {
            "invoices": book["invoices"][book["invoices"].issue_date <= night],
            "payments": book["payments"][book["payments"].paid_on <= night],
            "events": book["events"][book["events"].event_date <= night],
            "debtors": book["debtors"],
        }
        _write(cut, proj / "feeds" / "plain" / night)
        _write(export(book, night, 12), proj / "feeds" / "keep" / night)
        print(
            night,
            {t: len(f) for t, f in cut.items()},
            {t: len(f) for t, f in export(book, night, 12).items()},
        )
    if not (proj / "trained.txt").is_file():
        ing = proj / "ing" / "train"
        rc, secs, said = _run(_ingest_cmd(proj / "feeds" / "plain" / nights[0], ing, nights[0], False, "memory", None), proj)  # fmt: skip
        print(f"ingest train rc={rc} {secs:.1f} s")
        rc, secs, said = _run([*EWS, "train", "--data", str(ing)], proj)
        print(f"train rc={rc} {secs:.1f} s\n{said[-1500:]}")
        if rc:
            raise SystemExit(1)
        (proj / "trained.txt").write_text(said)
    for kind in only:
        keep = kind == "keep"
        for i, night in enumerate(nights):
            ing = proj / "ing" / (kind if keep else f"{kind}_{night}")
            runs = proj / "runs" / kind
            if i == len(nights) - 1:  # the honest last night: on copies, as every attack
                ing_h, runs_h = _copies(proj, kind, "honest", "memory", nights)
                rc, secs, said = _run(_ingest_cmd(proj / "feeds" / kind / night, ing_h, night, keep, "memory", None), proj)  # fmt: skip
                print(f"{kind} {night} honest ingest rc={rc} {secs:.1f} s")
                rc, secs, said = _run([*EWS, "score", "--data", str(ing_h), "--as-of", night, "--out", str(runs_h)], proj)  # fmt: skip
                print(f"{kind} {night} honest score rc={rc} {secs:.1f} s {_tail(said)}")
                continue
            first = "plain" if i == 0 else kind  # a kept history starts from the whole ledger
            if keep and i == 0:
                shutil.rmtree(ing, ignore_errors=True)
                shutil.rmtree(runs, ignore_errors=True)
            rc, secs, said = _run(
                _ingest_cmd(proj / "feeds" / first / night, ing, night, keep, "memory", None), proj
            )
            print(f"{kind} {night} ingest rc={rc} {secs:.1f} s {_tail(said)}")
            rc, secs, said = _run(
                [*EWS, "score", "--data", str(ing), "--as-of", night, "--out", str(runs)], proj
            )
            print(f"{kind} {night} score rc={rc} {secs:.1f} s {_tail(said)}")


def _copies(proj: Path, kind: str, name: str, mode: str, nights: list[str]) -> tuple[Path, Path]:
    """A copy of the base ingested folder (keep: the kept history of D2; plain: a new folder) and
    of the base runs (D1, D2 published)."""
    tag = f"{kind}_{name}_{mode}"
    ing, runs = proj / "att" / "ing" / tag, proj / "att" / "runs" / tag
    for p in (ing, runs):
        shutil.rmtree(p, ignore_errors=True)
        p.parent.mkdir(parents=True, exist_ok=True)
    if kind == "keep":
        shutil.copytree(proj / "ing" / "keep", ing, symlinks=True)
    shutil.copytree(proj / "runs" / kind, runs, symlinks=True)
    return ing, runs


def _tail(said: str, n: int = 3) -> str:
    lines = [s for s in said.strip().splitlines() if s.strip() and "INFO" not in s]
    return re.sub(r"\s+", " ", " | ".join(lines[-n:]))[-700:]


def _hash(s: str, k: int) -> int:
    return int(hashlib.sha256(s.encode()).hexdigest()[:8], 16) % k


def _source(proj: Path, feed: Path, date_format: str) -> Path:
    """A source config reading the feed's canonical CSVs with ``date_format``."""
    lines = ["kind: source", "name: hostile_dates", "default_currency: EUR", "values:", f"  date_format: {date_format}", "tables:"]  # fmt: skip
    for t in TABLES:
        if (feed / f"{t}.csv").is_file():
            cols = pd.read_csv(feed / f"{t}.csv", nrows=0).columns
            lines += [f"  {t}:", f"    path: {feed / (t + '.csv')}", "    columns:"] + [
                f"      {c}: {c}" for c in cols
            ]
    path = feed / "source.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def attacked(proj: Path, kind: str, name: str, nights: list[str]) -> tuple[Path, Path | None]:
    """The last night's feed with attack ``name`` (module docstring), and a source config or None."""
    d2, d3 = nights[-2], nights[-1]
    feeds = proj / "feeds" / kind
    out = proj / "att" / "feeds" / f"{kind}_{name}"
    if name == "yesterday":
        _write(_read(feeds / d2), out)
        return out, None
    t = _read(feeds / d3)
    if name in ("twice", "honest"):
        pass
    elif name.startswith("pay_cut"):
        days = int(name[7:])
        last = (pd.Timestamp(d3) - pd.Timedelta(days=days - 1)).date().isoformat()
        t["payments"] = t["payments"][t["payments"].paid_on < last]
    elif name == "pay_year":
        t["payments"]["paid_on"] = (pd.to_datetime(t["payments"].paid_on) + pd.DateOffset(years=1)).dt.strftime("%Y-%m-%d")  # fmt: skip
    elif name == "date_mix":
        for table, cols in DATES.items():
            for c in cols:
                f = t[table][c]
                d = pd.to_datetime(f.where(f != ""), errors="coerce")
                text = d.dt.strftime("%d/%m/%Y").fillna("")
                if table == "payments":
                    half = len(f) // 2
                    text.iloc[half:] = d.iloc[half:].dt.strftime("%m/%d/%Y").fillna("")
                t[table][c] = text
        _write(t, out)
        return out, _source(proj, out, "d/m/Y")
    elif name.startswith("ids_"):
        half = name.endswith("_half")
        for f in t.values():
            ids = f["debtor_id"]
            new = "C-" + ids if name.startswith("ids_prefix") else ids.str.replace(r"^D0+", "D", regex=True)
            if half:
                new = new.where(ids.map(lambda s: _hash(s, 2) == 0), ids)
            f["debtor_id"] = new
    elif name == "currency":
        inv = t["invoices"]
        inv["currency"] = inv["currency"].where(inv.debtor_id.map(lambda s: _hash(s, 10) != 0), "USD")
    elif name.startswith("cents_"):
        table = {"inv": "invoices", "pay": "payments", "deb": "debtors"}[name[6:]]
        col = "credit_limit" if table == "debtors" else "amount"
        v = pd.to_numeric(t[table][col].replace("", None))
        t[table][col] = (v * 100).round(2).map(lambda x: "" if pd.isna(x) else f"{x:.2f}")
    elif name in ("deb_drop", "deb_drop_def"):
        drop = _dropped(proj, kind, d2, name)
        print(f"   {name}: {len(drop)} debtor(s) left out of debtors.csv: {sorted(drop)[:8]}")
        t["debtors"] = t["debtors"][~t["debtors"].debtor_id.isin(drop)]
    else:
        raise SystemExit(f"unknown attack {name}")
    _write(t, out)
    return out, None


def _dropped(proj: Path, kind: str, d2: str, name: str) -> set[str]:
    scores = pd.read_parquet(proj / "runs" / kind / d2 / "scores.parquet")
    if name == "deb_drop_def":
        return set(scores.loc[scores["in_default"], "debtor_id"])
    col = "exposure" if "exposure" in scores else "open_balance"
    return {str(scores.sort_values(col, ascending=False)["debtor_id"].iloc[0])}


def _manifest_rows(ing: Path) -> str:
    try:
        m = json.loads((ing / "manifest.json").read_text())
    except (OSError, ValueError):
        return "no manifest"
    parts = []
    for t, e in m.get("tables", {}).items():
        ok = e["rows_in"] == e["rows_accepted"] + e["rows_quarantined"]
        reasons = ",".join(f"{k}:{v}" for k, v in sorted(e.get("reasons", {}).items()))
        parts.append(
            f"{t} {e['rows_in']}={e['rows_accepted']}+{e['rows_quarantined']}{'' if ok else ' (!)'} {reasons}"
        )
    h = m.get("history", {}).get("tables", {})
    if h:
        parts.append("history " + ", ".join(f"{t} kept {e.get('kept')} rm {e.get('removed')} add {e.get('added')} rows {e.get('rows')}" for t, e in h.items()))  # fmt: skip
    return "; ".join(parts)


def _published(runs: Path, honest: Path, d3: str) -> str:
    run, ref = runs / d3, honest / d3
    if not (run / "scores.parquet").is_file():
        return "nothing published"
    a = pd.read_parquet(run / "scores.parquet").set_index("debtor_id")
    b = pd.read_parquet(ref / "scores.parquet").set_index("debtor_id")
    both = a.index.intersection(b.index)
    moved = int((a.loc[both, "band"].astype(str) != b.loc[both, "band"].astype(str)).sum())
    up = int((a.loc[both, "pd"] > b.loc[both, "pd"] + 1e-9).sum())
    down = int((a.loc[both, "pd"] < b.loc[both, "pd"] - 1e-9).sum())
    sizes = []
    for f in ("watchlist.csv", "collections_queue.csv", "recovery_queue.csv"):
        n = [
            len(p.read_text(encoding="utf-8-sig").splitlines()) - 1 if p.is_file() else -1
            for p in (run / f, ref / f)
        ]
        sizes.append(f"{f.split('.')[0]} {n[0]} vs {n[1]}")
    return (
        f"{len(a)} scored vs {len(b)} honest ({len(a.index.difference(b.index))} only here, "
        f"{len(b.index.difference(a.index))} only honest); band moved {moved} of {len(both)}; pd up {up} down {down}; "
        f"mean pd {a['pd'].mean():.4f} vs {b['pd'].mean():.4f}; default {int(a['in_default'].sum())} vs "
        f"{int(b['in_default'].sum())}; " + "; ".join(sizes)
    )


def _traceback_in(folder: Path) -> bool:
    for p in folder.rglob("*"):
        if (
            p.is_file()
            and p.suffix in (".log", ".txt", ".json", ".html", ".csv")
            and p.stat().st_size < 50_000_000
        ) and b"Traceback (most recent call last)" in p.read_bytes():
            return True
    return False


def attack(
    work: Path,
    names: list[str],
    kinds: list[str],
    modes: list[str],
    nights: list[str],
    score: bool = True,
    tag: str = "",
) -> None:
    proj = work / "proj"
    d3 = nights[-1]
    for name in names:
        for kind in kinds:
            feed, source = attacked(proj, kind, name, nights)
            honest = proj / "att" / "runs" / f"{kind}_honest_memory"
            for mode in modes:
                ing, runs = _copies(proj, kind, name + tag, mode, nights)
                rounds = 2 if name == "twice" else 1
                for r in range(rounds):
                    cmd = _ingest_cmd(feed, ing, d3, kind == "keep", mode, source)
                    rc, secs, said = _run(cmd, proj)
                    line = f"{name} {kind} {mode}{' #' + str(r + 1) if rounds > 1 else ''}: ingest rc={rc} {secs:.0f} s tb={'Traceback' in said}"  # fmt: skip
                    warn = [s for s in said.splitlines() if s.startswith(("warning", "error"))]
                    print(line + f"\n   rows: {_manifest_rows(ing) if rc == 0 else '-'}", flush=True)
                    for w in warn[:6]:
                        print(f"   | {w[:400]}", flush=True)
                    if rc:
                        continue
                    if mode != "memory" and modes[0] == "memory":  # the same folder: the same scores
                        ref = _tree(proj / "att" / "ing" / f"{kind}_{name}{tag}_memory")
                        mine = _tree(ing)
                        diff = sorted(k for k in set(ref) | set(mine) if ref.get(k) != mine.get(k))
                        print(f"   ingested folder the memory one's bytes: {not diff} {diff[:4]}", flush=True)
                        if not diff:
                            continue
                    if not score:
                        continue
                    before = _tree(runs)
                    rc, secs, said = _run([*EWS, "score", "--data", str(ing), "--as-of", d3, "--out", str(runs)], proj)  # fmt: skip
                    print(
                        f"   score rc={rc} {secs:.0f} s tb={'Traceback' in said} tb_files={_traceback_in(runs)}"
                        f" {_tail(said, 4)}\n   published: {_published(runs, honest, d3)}",
                        flush=True,
                    )
                    if r == 1:
                        print(f"   second run same bytes as first: {_tree(runs) == before}")


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.name not in ("manifest.json", ".ingest.lock")
        and not set(p.relative_to(folder).parts) & {".versions", ".spill", ".staging", "logs"}
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup", help="book, feeds, model, honest nights")
    s.add_argument("work", type=Path)
    s.add_argument("--seed", type=int, default=3030)
    s.add_argument("--nights", default="2024-12-29,2024-12-30,2024-12-31")
    s.add_argument("--kinds", default="plain,keep", help="the honest nights to (re)build")
    a = sub.add_parser("attack", help="attacked last nights against the honest one")
    a.add_argument("work", type=Path)
    a.add_argument("names")
    a.add_argument("--kinds", default="plain,keep")
    a.add_argument("--modes", default="memory,stream")
    a.add_argument("--nights", default="2024-12-29,2024-12-30,2024-12-31")
    a.add_argument("--no-score", action="store_true", help="ingest only")
    a.add_argument("--code", type=Path, help="run this tree's code (default: this script's)")
    a.add_argument("--tag", default="", help="suffix of the attack's folders (runs of other code)")
    args = ap.parse_args(argv)
    if getattr(args, "code", None):
        CODE[0] = args.code.resolve()
    nights = args.nights.split(",")
    if args.cmd == "setup":
        setup(args.work, args.seed, nights, tuple(args.kinds.split(",")))
    else:
        attack(
            args.work,
            args.names.split(","),
            args.kinds.split(","),
            args.modes.split(","),
            nights,
            not args.no_score,
            args.tag,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
