"""The shipped ews, run as a user runs it, on books of ``benchmarks/third_book.py`` (session 30, issue 9 part 1).

Per book (generated and cached under ``--work``):

1. label check: the label ews computes from the whole book (``regimes.modelling_frame``, the train
   flow's frame) against the simulator's own first default day, on every row with an observed horizon;
2. the forward cut: the month-end ``--forward`` observed month-ends before the last one;
3. as a user on the cut day, in a fresh ``ews init`` project (default ``conf/``, its own MLflow
   SQLite): ``ews ingest --as-of CUT`` (rows dated after the cut are quarantined: the export of that
   day), ``ews train --data`` (default ``conf/train.yaml``); then ``ews ingest`` of the whole book,
   ``ews backtest --model 1 --rows --truth`` over the forward month-ends (the nightly scoring replayed
   with the model trained at the cut, the queue against the oracle and DPD order, lead time) and one
   ``ews score --as-of`` the last forward month-end (its PDs are checked against the backtest's);
4. on the forward rows (the train flow's rows with a label, as in ``benchmarks/regimes.py``): ews's PD
   from the backtest rows, ``benchmarks/baseline.py`` fitted on the rows a user had at the cut (labels
   whose horizon ended after the cut masked), and the oracle PD: AUC, capture@5 %, Brier, ECE, mean PD
   / realised, with 200-draw debtor-bootstrap 95 % intervals (AUC, capture, the paired ews - baseline,
   mean PD / realised).

Every CLI step's wall time, exit code and console are kept in ``BOOK/cli/``.

    nice -n 19 .venv/bin/python benchmarks/third.py --debtors 2000 --months 36 --seed 1 \
        --work /work/bench/s30-third/books [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
import third_book  # noqa: E402
from baseline import BASELINE_FEATURES, baseline_features, fit_baseline  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from models.evaluate import bootstrap_intervals, classification_metrics  # noqa: E402
from models.train import prepare_matrix  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
EWS = Path(sys.executable).with_name("ews")


def cli(name: str, args: list[str], proj: Path, logdir: Path) -> dict:
    """One ``ews`` command in the project, niced, console to logdir/NAME.log."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120", "PYTHONPATH": str(ROOT)}
    cmd = ["nice", "-n", "19", str(EWS), "--project", str(proj), *args]
    t0 = time.perf_counter()
    with open(logdir / f"{name}.log", "w") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=proj).returncode
    row = {"step": name, "exit": rc, "wall_s": round(time.perf_counter() - t0, 1)}
    print(f"  {name:12s} exit {rc} {row['wall_s']:7.1f} s", flush=True)
    return row


def label_check(frame: pd.DataFrame, truth: pd.DataFrame) -> dict:
    rows = frame[frame["horizon_observed"] & frame["label"].notna()].merge(
        truth[[*KEYS, "default_day", "oracle_pd", "route", "state"]], on=KEYS, how="left", indicator=True
    )
    d = rows["default_day"]
    sim = (d.notna() & (d > rows["as_of"]) & (d <= rows["as_of"] + pd.Timedelta(days=90))).astype(int)
    ews = rows["label"].astype(int)
    # truth check: the summed exact PD against the realised defaults, by route and by latent state
    rows["sim"] = sim
    part = rows["state"].where(rows["state"].isin(["X", "I"]), rows["route"] + "_live")
    check = {
        g: {"rows": len(r), "sum_pd": round(float(r["oracle_pd"].sum()), 1), "realised": int(r["sim"].sum())}
        for g, r in rows.groupby(part)
    }
    return {
        "truth_check": check,
        "rows": len(rows),
        "no_truth_row": int((rows["_merge"] != "both").sum()),
        "ews_1": int(ews.sum()),
        "sim_1": int(sim.sum()),
        "disagree": int((ews != sim).sum()),
    }


def ratio_ci(y: np.ndarray, p: np.ndarray, groups: np.ndarray, n_boot: int, seed: int = 0) -> list[float]:
    """Debtor-bootstrap 95 % interval of mean PD / realised rate."""
    codes, _ = pd.factorize(pd.Series(groups))
    n = codes.max() + 1
    ys, ps = np.bincount(codes, y, n), np.bincount(codes, p, n)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n)
        r = (w * ys).sum()
        out.append((w * ps).sum() / r if r > 0 else np.nan)
    return [round(float(x), 3) for x in np.nanpercentile(out, [2.5, 97.5])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debtors", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/third"))
    ap.add_argument("--forward", type=int, default=6)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    name = f"third-{args.debtors}x{args.months}-s{args.seed}"
    book = args.work / name
    if not (book / "generate-summary.json").exists():
        t0 = time.perf_counter()
        third_book.write_book(args.debtors, args.months, args.seed, book)
        print(f"generated {name} in {time.perf_counter() - t0:.1f} s", flush=True)
    summary = json.loads((book / "generate-summary.json").read_text())
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    portfolio, frame = regimes.modelling_frame(book, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    truth = pd.read_parquet(book / "truth.parquet")
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    labels = label_check(frame, truth)
    print("labels:", labels, flush=True)
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-args.forward - 1])
    fwd = [pd.Timestamp(t) for t in observed[-args.forward :]]
    end = str(truth["month_end"].max().date())
    print(f"cut {cut.date()}, forward {fwd[0].date()}..{fwd[-1].date()}, data end {end}", flush=True)
    # --- the CLI, as a user
    proj, logs = book / "proj", book / "cli"
    logs.mkdir(exist_ok=True)
    steps = []
    if not (proj / "conf" / "ews.yaml").exists():
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([str(EWS), "init", str(proj)], check=True, env=env, capture_output=True)
    tables = [f"--{t}={book / f'{t}.parquet'}" for t in ("invoices", "payments", "debtors", "events")]
    bt = proj / "bt"
    if not (bt / "backtest.json").exists():
        steps.append(cli("ingest_cut", ["ingest", *tables, "--as-of", str(cut.date()), "--no-docs",
                                        "--out", str(proj / "data" / "ing_cut")], proj, logs))  # fmt: skip
        steps.append(cli("train", ["train", "--data", str(proj / "data" / "ing_cut")], proj, logs))
        steps.append(cli("ingest_full", ["ingest", *tables, "--as-of", end, "--no-docs",
                                         "--out", str(proj / "data" / "ing_full")], proj, logs))  # fmt: skip
        steps.append(cli("backtest", ["backtest", "--data", str(proj / "data" / "ing_full"),
                                      "--from", str(fwd[0].date()), "--to", str(fwd[-1].date()),
                                      "--out", str(bt), "--model", "1", "--rows",
                                      "--truth", str(book / "truth.parquet")], proj, logs))  # fmt: skip
        steps.append(cli("score", ["score", "--data", str(proj / "data" / "ing_full"), "--as-of",
                                   str(fwd[-1].date()), "--out", str(proj / "runs")], proj, logs))  # fmt: skip
        (logs / "steps.json").write_text(json.dumps(steps, indent=1) + "\n")
    steps = json.loads((logs / "steps.json").read_text())
    result = {"book": name, "summary": summary, "labels": labels, "cut": str(cut.date()), "steps": steps}
    result["forward"] = [str(t.date()) for t in fwd]
    if not (bt / "backtest_rows.parquet").exists():
        result["error"] = "no backtest rows (see cli/)"
        print(json.dumps(result, default=str))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")
        return
    rows = pd.read_parquet(bt / "backtest_rows.parquet")
    rows = rows.assign(debtor_id=rows["debtor_id"].astype(str), as_of=pd.to_datetime(rows["as_of"]))
    result["backtest"] = json.loads((bt / "backtest.json").read_text())
    # --- forward rows: the train flow's labelled rows at the forward month-ends
    test = frame[frame["as_of"].isin(fwd) & frame["label"].notna()][[*KEYS, "label"]]
    test = test.merge(truth[[*KEYS, "oracle_pd", "route", "state"]], on=KEYS, how="left")
    pd_col = "pd" if "pd" in rows.columns else next(c for c in rows.columns if c.lower() in ("pd", "pd_12m"))
    test = test.merge(rows[[*KEYS, pd_col]].rename(columns={pd_col: "ews"}), on=KEYS, how="left")
    result["forward_rows"] = len(test)
    result["forward_rows_without_ews_pd"] = int(test["ews"].isna().sum())
    base = baseline_features(portfolio, sorted(frame["as_of"].unique()))
    past = as_of_cut(frame, cut, 90)
    before = past[past["label"].notna()]
    names = list(BASELINE_FEATURES)
    cats = {"segment": sorted(base["segment"].dropna().astype(str).unique())}
    b_train = before[[*KEYS, "label"]].merge(base, on=KEYS, how="inner")
    b_test = test[KEYS].merge(base, on=KEYS, how="left")
    model = fit_baseline(prepare_matrix(b_train, names, cats), b_train["label"].astype(int).to_numpy())
    test["baseline"] = model.predict_proba(prepare_matrix(b_test, names, cats))[:, 1]
    ok = test["ews"].notna() & test["oracle_pd"].notna()
    t = test[ok]
    y = t["label"].astype(int).to_numpy()
    result["test_rows"], result["test_defaults"] = len(t), int(y.sum())
    result["train_labels_at_cut"] = {"rows": len(before), "defaults": int(before["label"].astype(int).sum())}
    scores = {k: t[k].to_numpy(float) for k in ("ews", "baseline", "oracle_pd")}
    met = {}
    for k, p in scores.items():
        m = classification_metrics(y, p)
        met[k] = {x: round(float(m[x]), 5) for x in ("auc", "capture_5pct", "brier", "ece", "mean_pd")}
        met[k]["mean_over_realised"] = round(float(p.mean() / y.mean()), 3) if y.sum() else None
        met[k]["ratio_ci"] = ratio_ci(y, p, t["debtor_id"].to_numpy(), args.n_boot)
    o = met["oracle_pd"]
    for m in met.values():
        m["auc_ratio"] = round(m["auc"] / o["auc"], 3)
        m["capture_ratio"] = round(m["capture_5pct"] / o["capture_5pct"], 3) if o["capture_5pct"] else None
    result["metrics"] = met
    ci = bootstrap_intervals(y, scores, t["debtor_id"].to_numpy(), pairs=[("ews", "baseline")],
                             n_boot=args.n_boot, seed=0)  # fmt: skip
    result["ci"] = {k: {m: [round(x, 4) for x in v[m]] for m in ("auc", "capture_5pct", "brier") if m in v}
                    for k, v in ci.items()}  # fmt: skip
    # by route: defaults and how many ews / baseline / oracle put in their top 5 %
    top = {}
    for k, p in scores.items():
        thr = np.quantile(p, 0.95)
        top[k] = p >= thr
    by = {}
    for route in sorted(t["route"].unique()):
        idx = (t["route"] == route).to_numpy()
        by[route] = {"rows": int(idx.sum()), "defaults": int(y[idx].sum())}
        for k in scores:
            by[route][f"top5_defaults_{k}"] = int((top[k] & idx & (y == 1)).sum())
    result["by_route"] = by
    # the score run's PDs against the backtest's for the same date
    last = fwd[-1].date()
    sfile = proj / "runs" / str(last) / "scores.parquet"
    if sfile.exists():
        sc = pd.read_parquet(sfile).assign(debtor_id=lambda f: f["debtor_id"].astype(str))
        col = "pd"
        both = (
            sc.loc[~sc["in_default"], ["debtor_id", col]]
            .rename(columns={col: "score_pd"})
            .merge(rows.loc[rows["as_of"] == pd.Timestamp(last), ["debtor_id", pd_col]], on="debtor_id")
        )
        both = both.dropna()
        result["score_vs_backtest"] = {
            "rows": len(both),
            "max_abs_diff": float((both["score_pd"] - both[pd_col]).abs().max()) if len(both) else None,
        }
    print(json.dumps({k: result[k] for k in ("book", "labels", "cut", "test_rows", "test_defaults")}))
    for k, m in met.items():
        print(f"  {k:10s} " + " ".join(f"{x} {v}" for x, v in m.items()), flush=True)
    print("  CI:", json.dumps(result["ci"]))
    print("  by route:", json.dumps(by))
    b = result["backtest"]["figures"]
    keys = ("queue_capture_top20", "oracle_capture_top20", "dpd_capture_top20", "pd_key_capture_top20",
            "lead_time_median_days", "lead_time_flagged_share", "defaults_for_lead_time")  # fmt: skip
    print("  backtest:", json.dumps({x: b.get(x) for x in keys}))
    print("  score vs backtest:", json.dumps(result.get("score_vs_backtest")))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
