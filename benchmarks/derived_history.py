"""What a team without an ERP change log gains by running ews nightly (s33-history; issue 9).

``ews ingest --keep-history`` dates the master data from each night's debtors table
(``pipelines.ingest.history.with_derived``: a ``debtor_history`` row valid from the as-of date for each
debtor whose limit, segment or country changed; every debtor on the first night). On a
``benchmarks/third_book.py --limit-history`` book (the credit team's true dated limits: opening,
yearly reviews, a cut to 0 on the default day), this replays that derivation night by night from a
start date (``--starts``: months before the cut) to the cut, each night on the debtors table as a
master-data export of that day holds it (the debtors onboarded by then, each limit valid then), and
trains ews (``fit_pd``, ``conf/train.yaml``) with the cut of ``benchmarks/master_history.py`` on:

- ``snapshot``: the cut day's debtors table at every past month-end (no history);
- ``derived-K``: the derived history of nights from K months before the cut; month-ends before its
  first night read the cut day's table (as ews does for a month-end without a dated row);
- ``derived-K-early`` (``--early``; NOT what ews does): the same with the first night's rows dated
  at the book's start, so month-ends before it read the first night's values: what the choice of
  ``valid_from`` for the first night costs or gains;
- ``history``: the simulator's true dated history up to the cut.

All arms score the same forward month-ends, whose features read the limit valid at each (what the
nightly of that day saw; the derived history equals the true one from its first night on). Printed
per arm: in-sample and forward AUC / log-loss / capture@5 %, the SHAP rank and defaulting - other
SHAP of credit_limit and utilisation; then paired debtor-bootstrap 95 % intervals of each arm minus
``snapshot`` and ``history`` minus each derived arm, per book and pooled. ``--cli-check``: the same
derivation through ``ingest_files(..., keep_history=True)`` on month-end nights of the first book,
compared with the function replayed on those nights (same rows or not). Ends with one JSON line.

    nice -n 10 .venv/bin/python benchmarks/derived_history.py --books 2000x36:21,2000x36:22 \\
        --starts 12,24 --early --work /work/bench/s33-history --json /work/bench/s33-history/derived.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from master_history import KEYS, MET, auc_by_route, book_dir, shap_ranks, snapshot_on  # noqa: E402
from model_decide import shipped_pd  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402
from pipelines.flows.train import build_dataset, fit_pd, snapshot_dates  # noqa: E402
from pipelines.ingest import ingest_dir  # noqa: E402
from pipelines.ingest.history import with_derived  # noqa: E402


def export_on(debtors: pd.DataFrame, truth: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """The debtors table a master-data export of ``day`` holds: the debtors onboarded by then, each
    limit valid then."""
    known = debtors.loc[debtors["onboarded_on"].isna() | (debtors["onboarded_on"] <= day)]
    return snapshot_on(known.reset_index(drop=True), truth, day)


def replay(debtors: pd.DataFrame, truth: pd.DataFrame, nights: pd.DatetimeIndex) -> pd.DataFrame:
    """The ``debtor_history`` that ``--keep-history`` ingests of ``nights`` derive, night by night."""
    hist = None
    for night in nights:
        hist, _n = with_derived(hist, export_on(debtors, truth, night), night.date())
    return hist


def cut_of_frame(frame: pd.DataFrame, forward: int) -> pd.Timestamp:
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    return pd.Timestamp(observed[-forward - 1])


def cli_check(
    book: Path, debtors: pd.DataFrame, truth: pd.DataFrame, nights: pd.DatetimeIndex, work: Path
) -> dict:
    """``ingest_files(..., keep_history=True)`` on ``nights`` (each night's export: the ledger rows dated
    by then, the debtors table of that day) against :func:`replay` of the same nights."""
    from pipelines.adapters.files import read_portfolio
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    out = work / f"cli-{book.name}"
    src = work / f"cli-{book.name}-src"
    src.mkdir(parents=True, exist_ok=True)
    tables = {t: pd.read_parquet(book / f"{t}.parquet") for t in ("invoices", "payments", "events")}
    dates = {"invoices": "issue_date", "payments": "paid_on", "events": "event_date"}
    t0, cpu0 = time.perf_counter(), time.process_time()
    for night in nights:
        files = {}
        for t, f in tables.items():
            files[t] = src / f"{t}.parquet"
            f.loc[pd.to_datetime(f[dates[t]]) <= night].to_parquet(files[t], index=False)
        files["debtors"] = src / "debtors.parquet"
        export_on(debtors, truth, night).to_parquet(files["debtors"], index=False)
        ingest_files(files, out, as_of=night.date(), keep_history=True, settings=RulesConfig(data_docs=False))
    got = read_portfolio(out).debtor_history
    want = replay(debtors, truth, nights)
    cols = ["debtor_id", "valid_from", "credit_limit", "segment", "country"]
    a = got[cols].astype({"debtor_id": str}).sort_values(cols[:2], ignore_index=True)
    b = want[cols].astype({"debtor_id": str}).sort_values(cols[:2], ignore_index=True)
    same = a.astype(str).equals(b.astype(str))
    return {
        "nights": len(nights),
        "rows_cli": len(a),
        "rows_replay": len(b),
        "same_rows": bool(same),
        "wall_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(time.process_time() - cpu0, 1),
    }


def one_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> tuple[dict, dict]:
    t0 = time.perf_counter()
    book = book_dir(spec, args.work)
    definition = ProjectConfig().default_definition
    project = ProjectConfig()
    portfolio = ingest_dir(book, None).portfolio
    truth = pd.read_parquet(book / "debtor_history.parquet")
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str))
    dates = snapshot_dates(portfolio, cfg)
    pit = build_dataset(
        dataclasses.replace(
            portfolio, debtor_history=truth.assign(debtor_id=truth["debtor_id"].astype("string"))
        ),
        dates,
        project,
    )
    cut = cut_of_frame(pit, args.forward)
    early = [d for d in dates if d <= cut]
    snap = snapshot_on(portfolio.debtors, truth, cut)
    arms = {
        "snapshot": build_dataset(
            dataclasses.replace(portfolio, debtors=snap, debtor_history=None), early, project
        )
    }
    start_book = pd.Timestamp(portfolio.invoices["issue_date"].min()).normalize()
    info: dict = {}
    debtors = portfolio.debtors.assign(debtor_id=portfolio.debtors["debtor_id"].astype(str))
    for k in args.starts:
        first = (cut - pd.DateOffset(months=k)).normalize()
        c0 = time.process_time()
        derived = replay(debtors, truth, pd.date_range(first, cut, freq="D"))
        info[f"derived-{k}"] = {
            "first_night": str(first.date()),
            "rows": len(derived),
            "first_night_rows": int((derived["valid_from"] == first).sum()),
            "replay_cpu_s": round(time.process_time() - c0, 1),
        }
        variants = {f"derived-{k}": derived}
        if args.early:
            variants[f"derived-{k}-early"] = derived.assign(
                valid_from=derived["valid_from"].where(derived["valid_from"] != first, start_book)
            )
        for name, h in variants.items():
            h = h.assign(debtor_id=h["debtor_id"].astype("string"))
            arms[name] = build_dataset(
                dataclasses.replace(portfolio, debtors=snap, debtor_history=h), early, project
            )
    arms["history"] = pit
    observed = sorted(pit.loc[pit["horizon_observed"], "as_of"].unique())
    fwd = pit[pit["as_of"].isin(observed[-args.forward :]) & pit["label"].notna()].reset_index(drop=True)
    sim = pd.read_parquet(book / "truth.parquet")
    sim = sim.assign(debtor_id=sim["debtor_id"].astype("string"), as_of=pd.to_datetime(sim["month_end"]))
    sim = sim[[*KEYS, "route", "oracle_pd"]]
    y = fwd["label"].astype(int).to_numpy()
    r: dict = {
        "book": spec,
        "cut": str(cut.date()),
        "forward_rows": len(fwd),
        "forward_defaults": int(y.sum()),
    }
    r["derived"] = info
    pds = {}
    for arm, frame in arms.items():
        past = as_of_cut(frame, cut, definition.horizon_days)
        outcome = fit_pd(past, cfg, definition.horizon_days, definition)
        seen = past[past["label"].notna()].reset_index(drop=True)
        p_in = shipped_pd(outcome, seen)
        p = shipped_pd(outcome, fwd)
        pds[arm] = p
        m = classification_metrics(y, p)
        r[arm] = {
            "kind": outcome.kind,
            "trees": getattr(outcome, "best_iteration", None),
            "in_sample_auc": round(float(roc_auc_score(seen["label"].astype(int), p_in)), 4),
            "forward": {k: round(float(m[k]), 5) for k in MET},
            "forward_by_route": auc_by_route(fwd, p, sim),
            "shap": shap_ranks(outcome, seen),
        }
        print(f"  {spec} {arm}: {json.dumps(r[arm])}", flush=True)
    oracle = fwd[KEYS].merge(sim, on=KEYS, how="left")["oracle_pd"].clip(0, 1).to_numpy()
    ok = ~np.isnan(oracle)
    r["oracle_forward_auc"] = round(float(roc_auc_score(y[ok], oracle[ok])), 4)
    groups = (spec + "|" + fwd["debtor_id"].astype(str)).to_numpy()
    r["differences"] = differences(y, pds, groups, args.n_boot)
    if args.cli_check and spec == args.books[0]:
        nights = pd.date_range(cut - pd.DateOffset(months=args.cli_months), cut, freq="ME")
        r["cli_check"] = cli_check(book, debtors, truth, nights, args.work)
        print(f"  cli check: {json.dumps(r['cli_check'])}", flush=True)
    r["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"== {spec} cut {r['cut']}: {json.dumps(r['differences'])}", flush=True)
    return r, {"y": y, "g": groups, **pds}


def pairs_of(names: list[str]) -> list[tuple[str, str]]:
    derived = [n for n in names if n.startswith("derived-")]
    return [(n, "snapshot") for n in [*derived, "history"]] + [("history", n) for n in derived]


def differences(y: np.ndarray, pds: dict, groups: np.ndarray, n_boot: int) -> dict:
    pairs = pairs_of(list(pds))
    ci = bootstrap_intervals(y, pds, groups, pairs=pairs, n_boot=n_boot)
    m = {k: classification_metrics(y, p) for k, p in pds.items()}
    return {
        f"{a}-{b}": {
            k: {"point": round(float(m[a][k] - m[b][k]), 5), "ci": [round(v, 5) for v in ci[f"{a}-{b}"][k]]}
            for k in MET
        }
        for a, b in pairs
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", default="", help="comma-separated DEBTORSxMONTHS:SEED (third simulator)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/derived-history"))
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--starts", default="12", help="comma-separated months before the cut of the first night")
    ap.add_argument(
        "--early", action="store_true", help="also the derived arms with the first night dated early"
    )
    ap.add_argument("--cli-check", action="store_true")
    ap.add_argument("--cli-months", type=int, default=12)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--save", type=Path, default=None, help="also each book's forward PDs (BOOK.npz) in this folder"
    )
    ap.add_argument(
        "--pool", nargs="*", type=Path, default=None, help="pool saved .npz files only (books run apart)"
    )
    args = ap.parse_args()
    if args.pool:
        saved = [dict(np.load(f, allow_pickle=True)) for f in args.pool]
        names = [k for k in saved[0] if k not in ("y", "g")]
        cat = {k: np.concatenate([s[k] for s in saved]) for k in ["y", "g", *names]}
        pooled = differences(cat["y"], {k: cat[k] for k in names}, cat["g"], args.n_boot)
        print(json.dumps({"pooled": pooled, "files": [str(f) for f in args.pool]}))
        if args.json:
            args.json.write_text(json.dumps({"pooled": pooled}, indent=1) + "\n")
        return
    args.books = args.books.split(",")
    args.starts = [int(v) for v in args.starts.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    cfg = load_config(args.config, expect=TrainConfig)
    results, pooled = [], []
    for spec in args.books:
        r, rows = one_book(spec, args, cfg)
        results.append(r)
        pooled.append(rows)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            np.savez(args.save / f"{spec.replace(':', '-s')}.npz", **rows)
    out: dict = {"books": results, "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if len(pooled) > 1:
        cat = {k: np.concatenate([p[k] for p in pooled]) for k in pooled[0]}
        pds = {k: v for k, v in cat.items() if k not in ("y", "g")}
        out["pooled"] = differences(cat["y"], pds, cat["g"], args.n_boot)
        print(f"== pooled {json.dumps(out['pooled'])}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
