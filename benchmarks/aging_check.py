"""Does the PD fall when a debtor simply pays nothing for 15 more days? A consistent aging check.

For each book (``ews generate --regime`` books, ``benchmarks/unseen_book.py``, ``benchmarks/third_book.py``;
generated and cached under ``--work``) the harness trains ews's model as ``benchmarks/regimes.py`` does
(``models.train.train_pd_model`` with ``conf/train.yaml`` on the rows a user had at the cut, the
``--forward``-th observed month-end before the last) and takes the model it ships
(``final_estimator``). Then, at each of the ``--forward`` month-ends T after the cut:

- the debtors live at T (not in default) from the modelling frame, with their features as of T;
- the same debtors' features as of T + ``--days``, built by the production feature code
  (``features.build.build_features``) from the ledger cut at T: every invoice issued, payment made,
  event, statement, plan or master-data row dated after T is removed, so nothing happens in
  (T, T + days] and every feature ages consistently (aging amounts move between buckets, invoices
  falling due in the gap become overdue, windows slide, the days since the last payment grow);
- both scored with the shipped model, plus T + days with the calendar features (catalog
  ``calendar``: ``tenure_days``, ``st_months_observed``) held at their value at T, and session 37's
  partial check (only the days-past-due columns of the row at T moved by ``--days``) for comparison.

Rows whose oldest invoice reaches the default threshold by T + days leave the early-warning
population (recovery queue) and are counted apart. Reported per state at T (past due 1-30, 31-60,
61-89 days by ``dpd_current_max``; "current": 0 days past due with an open invoice): rows, share whose
PD falls, share falling by more than ``--material`` PD points, the median and 90th percentile of the
fall among falling rows (PD points), the same with the calendar features held; and which features
carry the fall of the raw score (log-odds) of the falling past-due rows (all, and those falling by
more than ``--material``): the change when one feature alone takes its T + days value, and for a
LightGBM model the change of each feature's TreeSHAP contribution. A sanity check rebuilds the features at T from the cut ledger and reports the
largest difference from the modelling frame's (0 when the point-in-time rule holds).

    nice -n 10 .venv/bin/python benchmarks/aging_check.py --book stress:3352 --book third:48 \\
        --book unseen-large:232 --work /tmp/ews-aging [--days 15] [--json out.json]

``--book KIND:SEED[:DEBTORSxMONTHS]``: KIND a regime of ``ews generate`` (at the regime's own size
unless given), ``unseen-large`` (or another ``unseen_book`` variant, at its own size) or ``third``
(2,000 x 36 unless given). Prints one table row per book and state and the attribution, then one JSON
line per book; ``--json`` writes them all. ``--models DIR`` keeps each book's trained model (joblib)
and reuses it on a rerun.

``--scores-dir DIR --score-name NAME``: also writes the model's forward scores (the ``--forward``
month-ends' rows with a label: ``debtor_id``, ``as_of``, ``y``, ``oracle``, and the PD as column NAME)
to ``DIR/BOOK.parquet``, adding the column when the file already holds the same rows. Run at two
commits with two names into one folder (a feature change: main and the candidate), then compare the
forward figures paired by debtor with ``benchmarks/pooled_scores.py --a NEW --b OLD DIR/*.parquet``
(session 39, s39-window).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import regimes  # noqa: E402
import third_book  # noqa: E402
import unseen  # noqa: E402
from train_forward import as_of_cut  # noqa: E402

from features.build import build_features  # noqa: E402
from features.catalog import CATALOG  # noqa: E402
from features.tables import Portfolio  # noqa: E402
from models.train import train_pd_model  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
DEFINITION = ProjectConfig().default_definition
CALENDAR = [name for name, spec in CATALOG.items() if spec.calendar]
STATES = {"current": (0, 0), "1-30": (1, 30), "31-60": (31, 60), "61-89": (61, 89)}
PAST_DUE = ("1-30", "31-60", "61-89")
DATED = {
    "invoices": "issue_date",
    "payments": "paid_on",
    "events": "event_date",
    "statements": "period_end",
    "payment_plans": "agreed_on",
    "debtor_history": "valid_from",
}
"""The date that puts a row of each table in the ledger: rows dated after T are cut."""


def parse_book(spec: str) -> tuple[str, int, int | None, int | None]:
    """``KIND:SEED[:DEBTORSxMONTHS]`` -> (kind, seed, debtors, months); no size: (kind, seed, None, None)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[1].isdigit():
        raise ValueError(
            f"--book {spec!r}: expected KIND:SEED or KIND:SEED:DEBTORSxMONTHS, e.g. third:64:2000x36"
        )
    if len(parts) == 2:
        return parts[0], int(parts[1]), None, None
    size = parts[2].lower().split("x")
    if len(size) != 2 or not all(s.isdigit() for s in size):
        raise ValueError(f"--book {spec!r}: the size must read DEBTORSxMONTHS, e.g. 1000x24")
    if parts[0].startswith("unseen-"):
        raise ValueError(f"--book {spec!r}: unseen books have their variant's size (drop :{parts[2]})")
    return parts[0], int(parts[1]), int(size[0]), int(size[1])


def book_name(kind: str, seed: int, debtors: int | None, months: int | None) -> str:
    """``KIND-sSEED``, with ``-DxM`` before the seed when a size was given."""
    return f"{kind}-s{seed}" if debtors is None else f"{kind}-{debtors}x{months}-s{seed}"


def book_dir(kind: str, seed: int, work: Path, debtors: int | None = None, months: int | None = None) -> Path:
    """The book's folder under ``work`` (generated on first use)."""
    if kind == "third":
        d, m = debtors or 2000, months or 36
        out = work / "third" / f"third-{d}x{m}-s{seed}"
        if not (out / "generate-summary.json").exists():
            third_book.write_book(d, m, seed, out)
        return out
    if kind.startswith("unseen-"):
        return unseen.book(kind.removeprefix("unseen-"), seed, work / "unseen", None, None)[0]
    return regimes.book(kind, seed, work / "regimes", debtors, months)[0]


def write_scores(path: Path, rows: pd.DataFrame, name: str) -> pd.DataFrame:
    """Write ``rows`` (``debtor_id``, ``as_of``, ``y``, ``oracle``, ``name``) to ``path``; when ``path``
    exists, add column ``name`` to it (same rows in the same order, else ``ValueError``). Returns
    what was written."""
    keys = ["debtor_id", "as_of", "y"]
    if path.exists():
        old = pd.read_parquet(path)
        same = len(old) == len(rows) and (old[keys].to_numpy() == rows[keys].to_numpy()).all()
        if not same:
            raise ValueError(
                f"{path}: other forward rows than this run's ({len(old)} against {len(rows)}); "
                "the books or --forward differ, write to another --scores-dir"
            )
        rows = old.assign(**{name: rows[name].to_numpy()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    rows.to_parquet(tmp)
    tmp.replace(path)
    return rows


def forward_scores(
    data: Path, frame: pd.DataFrame, model: Any, ends: list[pd.Timestamp], name: str
) -> pd.DataFrame:
    """The model's PD on the rows of the month-ends ``ends`` with a label, with the simulator's exact PD
    (``truth.parquet``, NaN where it has none) as ``oracle``."""
    test = frame[frame["as_of"].isin(ends) & frame["label"].notna()]
    truth = pd.read_parquet(data / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    truth = truth.assign(debtor_id=truth["debtor_id"].astype(str), as_of=pd.to_datetime(truth["month_end"]))
    out = test[["debtor_id", "as_of"]].merge(truth[["debtor_id", "as_of", "oracle_pd"]], on=KEYS, how="left")
    return out.assign(
        y=test["label"].astype(int).to_numpy(),
        oracle=out.pop("oracle_pd").clip(0, 1).to_numpy(),
        **{name: model.predict_proba(test)[:, 1]},
    )


def ledger_until(portfolio: Portfolio, t: pd.Timestamp) -> Portfolio:
    """``portfolio`` with every row dated after ``t`` removed (the debtors table stays)."""
    tables: dict[str, Any] = {}
    for name, frame in portfolio.present().items():
        column = DATED.get(name)
        if column is None or frame is None:
            tables[name] = frame
            continue
        tables[name] = frame[pd.to_datetime(frame[column]) <= t]
        if name == "payments" and "allocated_on" in frame:
            late = pd.to_datetime(tables[name]["allocated_on"]) > t
            tables[name] = tables[name].assign(allocated_on=tables[name]["allocated_on"].where(~late))
            tables[name].loc[late, "invoice_id"] = pd.NA  # allocated after t: still unallocated cash
    return Portfolio(**tables)


def state_of(dpd: pd.Series, open_count: pd.Series) -> pd.Series:
    """The state at T of each row (``STATES``); None for 0 days past due with nothing open."""
    out = pd.Series(None, index=dpd.index, dtype="object")
    for name, (lo, hi) in STATES.items():
        hit = dpd.between(lo, hi)
        if name == "current":
            hit &= open_count > 0
        out[hit] = name
    return out


def train_model(frame: pd.DataFrame, cfg: TrainConfig, forward: int, store: Path | None) -> tuple[Any, Any]:
    """The shipped model of a user who trained at the cut; ``(final_estimator, cut)``."""
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    cut = pd.Timestamp(observed[-forward - 1])
    if store is not None and store.exists():
        import joblib

        return joblib.load(store), cut
    outcome = train_pd_model(as_of_cut(frame, cut, DEFINITION.horizon_days), cfg.to_params())
    if store is not None:
        import joblib

        store.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(outcome.final_estimator, store)
    return outcome.final_estimator, cut


def pd_points(x: np.ndarray, q: float) -> float | None:
    return round(float(np.quantile(x, q)) * 100, 3) if len(x) else None


def summarise(pd_t: np.ndarray, pd_up: np.ndarray, material: float) -> dict[str, Any]:
    """Share of rows whose PD falls (any, and by more than ``material``), median and p90 of the fall."""
    fall = pd_t - pd_up
    falling = fall[fall > 1e-12]
    n = len(fall)
    return {
        "rows": n,
        "falls": round(len(falling) / n, 4) if n else None,
        "falls_material": round(float((fall > material).sum()) / n, 4) if n else None,
        "fall_median_pts": pd_points(falling, 0.5),
        "fall_p90_pts": pd_points(falling, 0.9),
        "rises": round(float((fall < -1e-12).sum()) / n, 4) if n else None,
    }


def attribution(model: Any, x_t: pd.DataFrame, x_up: pd.DataFrame, top: int = 8) -> dict[str, Any]:
    """Which features carry the fall of the raw score (log-odds) from T to T + days, summed over the
    rows. ``swap``: the change when one feature alone takes its T + days value (every model kind);
    ``treeshap`` (LightGBM): the change of each feature's TreeSHAP contribution (a feature that does
    not move can change its contribution through interactions). Largest falls first, with their
    share of the total fall."""
    calibrated = model.named_steps["calibrated"]
    prep = model.named_steps["prepare"]
    a, b = prep.transform(x_t), prep.transform(x_up)
    names = list(a.columns)
    base = calibrated.raw_score(a)
    total = float(calibrated.raw_score(b).sum() - base.sum())
    deltas = {}
    swap = np.zeros(len(names))
    for j, name in enumerate(names):
        if np.array_equal(a[name].to_numpy(), b[name].to_numpy()):
            continue
        swapped = a.copy()
        swapped[name] = b[name].to_numpy()
        swap[j] = float((calibrated.raw_score(swapped) - base).sum())
    deltas["swap"] = swap
    if calibrated.kind == "lightgbm":
        booster = calibrated.scorer.booster_
        ca = booster.predict(a, pred_contrib=True)[:, :-1]
        cb = booster.predict(b, pred_contrib=True)[:, :-1]
        deltas["treeshap"] = (cb - ca).sum(axis=0)
    out: dict[str, Any] = {"rows": len(a), "raw_fall_total": round(-total, 4)}
    for how, delta in deltas.items():
        order = np.argsort(delta)[:top]
        out[how] = [
            {
                "feature": names[j],
                "fall": round(-float(delta[j]), 4),
                "share": round(float(delta[j]) / total, 3),
            }
            for j in order
            if delta[j] < 0 and total < 0
        ]
    return out


def dpd_only(rows: pd.DataFrame, days: int) -> pd.DataFrame:
    """Session 37's partial check: only the days-past-due columns of the past-due rows move (current and
    mean + ``days``, the 90/180/365-day maxima to at least the new current); amounts, counts and
    windows stay, so some rows are combinations no ledger produces."""
    out = rows.copy()
    late = out["dpd_current_max"].fillna(0) > 0
    for c in ("dpd_current_max", "dpd_mean_overdue"):
        out.loc[late, c] = out.loc[late, c] + days
    for c in ("dpd_max_90d", "dpd_max_180d", "dpd_max_365d"):
        out.loc[late, c] = np.maximum(out.loc[late, c].fillna(0), out.loc[late, "dpd_current_max"])
    return out


def aging_rows(
    portfolio: Portfolio, frame: pd.DataFrame, model: Any, ends: list[pd.Timestamp], days: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, float]:
    """One row per debtor live at each T of ``ends`` in a state of :data:`STATES`: ``state``,
    ``dpd_up`` (days past due at T + days), ``pd_t``, ``pd_up``, ``pd_up_held`` (calendar features
    held at T), ``pd_dpd_only`` (:func:`dpd_only`). Also the model inputs at T and at T + days (same
    rows) and the largest difference between the frame's features at T and those rebuilt from the cut
    ledger (the sanity check)."""
    gap = pd.Timedelta(days=days)
    parts, frames_t, frames_up, sanity = [], [], [], 0.0
    for t in ends:
        at_t = frame[(frame["as_of"] == t) & ~frame["in_default_at_asof"].astype(bool)]
        state = state_of(at_t["dpd_current_max"], at_t["open_invoice_count"])
        at_t = at_t[state.notna()].assign(state=state[state.notna()])
        both = build_features(ledger_until(portfolio, t), [t, t + gap])
        both = both.assign(debtor_id=both["debtor_id"].astype(str))
        again = both[both["as_of"] == t].set_index("debtor_id")
        ids = at_t["debtor_id"].to_numpy()
        feats = [c for c in again.columns if c in CATALOG and pd.api.types.is_numeric_dtype(again[c])]
        rebuilt = again.loc[ids, feats].to_numpy(float)
        mine = at_t.set_index("debtor_id")[feats].to_numpy(float)
        diff = np.where(np.isnan(rebuilt) & np.isnan(mine), 0.0, np.abs(rebuilt - mine))
        sanity = max(sanity, float(np.nanmax(np.where(np.isnan(diff), np.inf, diff), initial=0.0)))
        up = both[both["as_of"] == t + gap].set_index("debtor_id").loc[ids].reset_index()
        partial = dpd_only(at_t, days)
        held = up.copy()
        for c in CALENDAR:
            if c in held:
                held[c] = at_t[c].to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "debtor_id": ids,
                    "as_of": t,
                    "state": at_t["state"].to_numpy(),
                    "dpd_up": up["dpd_current_max"].to_numpy(),
                    "pd_t": model.predict_proba(at_t)[:, 1],
                    "pd_up": model.predict_proba(up)[:, 1],
                    "pd_up_held": model.predict_proba(held)[:, 1],
                    "pd_dpd_only": model.predict_proba(partial)[:, 1],
                }
            )
        )
        frames_t.append(at_t)
        frames_up.append(up)
    rows = pd.concat(parts, ignore_index=True)
    return rows, pd.concat(frames_t, ignore_index=True), pd.concat(frames_up, ignore_index=True), sanity


def state_figures(rows: pd.DataFrame, material: float) -> dict[str, Any]:
    """:func:`summarise` per state and over the past-due states, on the rows still out of default at
    T + days; with the calendar features held at T under ``calendar_held``."""
    live = rows[rows["dpd_up"] < DEFINITION.dpd_threshold]
    out: dict[str, Any] = {}
    groups = {**{s: live["state"] == s for s in STATES}, "past_due": live["state"].isin(PAST_DUE)}
    for name, mask in groups.items():
        sub = live[mask]
        one = summarise(sub["pd_t"].to_numpy(), sub["pd_up"].to_numpy(), material)
        held = summarise(sub["pd_t"].to_numpy(), sub["pd_up_held"].to_numpy(), material)
        part = summarise(sub["pd_t"].to_numpy(), sub["pd_dpd_only"].to_numpy(), material)
        one["dpd_only"] = {k: part[k] for k in ("falls", "falls_material", "fall_median_pts", "fall_p90_pts")}
        one["calendar_held"] = {
            k: held[k] for k in ("falls", "falls_material", "fall_median_pts", "fall_p90_pts")
        }
        out[name] = one
    return out


def forward_ends(frame: pd.DataFrame, forward: int) -> list[pd.Timestamp]:
    """The ``forward`` latest month-ends whose horizon is observed (the forward test's)."""
    observed = sorted(frame.loc[frame["horizon_observed"], "as_of"].unique())
    return [pd.Timestamp(t) for t in observed[-forward:]]


def check_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    t0 = time.perf_counter()
    kind, seed, debtors, months = parse_book(spec)
    name = book_name(kind, seed, debtors, months)
    data = book_dir(kind, seed, args.work, debtors, months)
    portfolio, frame = regimes.modelling_frame(data, cfg)
    frame = frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    store = args.models / f"{name}.joblib" if args.models else None
    model, cut = train_model(frame, cfg, args.forward, store)
    ends = forward_ends(frame, args.forward)
    if args.scores_dir:
        scores = forward_scores(data, frame, model, ends, args.score_name)
        write_scores(args.scores_dir / f"{name}.parquet", scores, args.score_name)
    rows, x_t, x_up, sanity = aging_rows(portfolio, frame, model, ends, args.days)
    defaulted = rows["dpd_up"] >= DEFINITION.dpd_threshold
    result: dict[str, Any] = {
        "book": name,
        "kind": model.named_steps["calibrated"].kind,
        "cut": str(cut.date()),
        "month_ends": [str(t.date()) for t in ends],
        "days": args.days,
        "sanity_max_abs_diff": round(sanity, 9),
        "to_default_by_t_plus_days": int(defaulted.sum()),
        "states": state_figures(rows, args.material),
    }
    keep = (
        ~defaulted.to_numpy()
        & rows["state"].isin(PAST_DUE).to_numpy()
        & (rows["pd_up"].to_numpy() < rows["pd_t"].to_numpy() - 1e-12)
    )
    if keep.any():  # which features carry the fall of the falling past-due rows
        result["attribution"] = attribution(model, x_t[keep], x_up[keep])
    keep &= rows["pd_t"].to_numpy() - rows["pd_up"].to_numpy() > args.material
    if keep.any():  # ... of those falling by more than --material
        result["attribution_material"] = attribution(model, x_t[keep], x_up[keep])
    result["seconds"] = round(time.perf_counter() - t0, 1)
    if args.rows_dir:
        args.rows_dir.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(args.rows_dir / f"{name}.parquet")
    return result


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def table(results: list[dict[str, Any]]) -> str:
    """One markdown row per book and state: the consistent check, calendar held, session 37's partial one."""
    lines = [
        "| book | kind | state at T | rows | PD falls | falls > material | median / p90 fall (PD points) "
        "| calendar held: falls / > material | DPD columns only (s37): falls / > material |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, s in r["states"].items():
            h, d = s["calendar_held"], s["dpd_only"]
            lines.append(
                f"| {r['book']} | {r['kind']} | {name} | {s['rows']:,} | {_pct(s['falls'])} | {_pct(s['falls_material'])} "
                f"| {s['fall_median_pts']} / {s['fall_p90_pts']} | {_pct(h['falls'])} / {_pct(h['falls_material'])} "
                f"| {_pct(d['falls'])} / {_pct(d['falls_material'])} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--book", action="append", required=True, help="KIND:SEED[:DxM], e.g. stress:3352, third:64:2000x36"
    )
    ap.add_argument("--work", type=Path, required=True, help="books are generated and cached here")
    ap.add_argument("--days", type=int, default=15, help="days with nothing happening after T")
    ap.add_argument("--forward", type=int, default=6, help="observed month-ends after the cut")
    ap.add_argument(
        "--material", type=float, default=0.005, help="a material fall, as a PD (0.005 = 0.5 points)"
    )
    ap.add_argument("--models", type=Path, help="keep (and reuse) each book's trained model here")
    ap.add_argument("--rows-dir", type=Path, help="write each book's rows (PD at T, T + days) here")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--scores-dir", type=Path, help="write each book's forward scores here (module doc)")
    ap.add_argument("--score-name", default="ews", help="the score's column in --scores-dir's files")
    args = ap.parse_args()
    for spec in args.book:
        try:
            parse_book(spec)
        except ValueError as exc:
            ap.error(str(exc))
    cfg = load_config(ROOT / "conf" / "train.yaml", expect=TrainConfig)
    results = []
    for spec in args.book:
        r = check_book(spec, args, cfg)
        results.append(r)
        print(json.dumps(r), flush=True)
    print(table(results))
    for r in results:
        for which in ("attribution", "attribution_material"):
            for how in ("swap", "treeshap"):
                top = r.get(which, {}).get(how)
                if top:
                    words = ", ".join(f"{t['feature']} {t['share']:.0%}" for t in top)
                    print(f"{r['book']} {which} ({how}): {words}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
