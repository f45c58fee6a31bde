"""What the queue's oracle knows that the ledger does not show at T (session 32, issue 11).

    nice python benchmarks/queue_ceiling.py BT:REGIME [BT:REGIME ...] [--json out.json]

Each ``BT`` is an ``ews backtest --model 1 --rows --out BT`` folder of an ``ews generate`` book (its
``generate-summary.json`` beside the truth file named in the backtest's settings); ``REGIME`` the book's
regime. The generator's oracle PD is 1 for a debtor that has already stopped paying at T (a distress stop
on day S <= T, default on D = S + lag > T; ``pipelines/synthetic/oracle.py``). Whether the ledger shows that
stop at T is recomputed here by re-running the generator's chunk with the book's parameters (same seed,
same rows: the truth's ``oracle_pd`` is checked equal) and reading its internal arrays: the stop is
**visible** at T when at least one payment the debtor would have made without the stop (an invoice's
scheduled settlement, or the first part of a part payment, on a day in (S, T]) is missing from the payments
by T; else the ledger up to T is the one the debtor would have had without the stop (invoices stop after
S too, but only a missing invoice of a regular volume says so).

Orders of the same live queue rows (``benchmarks/rank_order.py``'s ``queue_rows``), pooled
``queue_capture_top20`` per book:

- ``shipped``: the backtest's key x open balance x LGD x (1 + DPD / 90);
- ``oracle``: true PD x open balance (the backtest's ceiling);
- ``stop_blind``: the oracle with every stopped debtor's PD replaced by the PD the oracle gives a performing
  debtor of the same health, class, segment and seasoning (it knows the health, not the stop);
- ``observable``: the same replacement only for stops that the ledger does not show at T (the rest keep 1):
  an oracle that knows the latent health but only the stops a ledger could reveal. Generous: a visible stop
  is still ambiguous to a model (a late payer leaves the same missing payment).
- ``state_blind`` (unseen books only): every row's PD as the simulator's formula gives it to a healthy debtor
  (state H) at the same month-end: the oracle that knows neither the distress (state D) nor the stop, only the
  debtor's own hazard, season and macro path. How much of the oracle's capture is its knowledge of the latent
  state.

And who the shipped top 20 % misses, against the oracle's: the defaulted rows in the oracle's top 20 % and
not in the shipped one, split into stopped-at-T (visible / not) and performing at T, with their share of the
queue's bad balance, the days since the stop, DPD state.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

EPOCH = dt.date(1970, 1, 1)


def _capture_locals(func, *args):
    """Call ``func(*args)`` and return (its result, its local variables at return)."""
    seen: dict = {}

    def hook(frame, event, arg):
        if event == "return" and frame.f_code is func.__code__:
            seen.update(frame.f_locals)

    sys.setprofile(hook)
    try:
        res = func(*args)
    finally:
        sys.setprofile(None)
    return res, seen


def stop_table(summary: Path, regime: str) -> pd.DataFrame:
    """Per debtor and month-end of the book: oracle PD, the performing PD at its health, stopped at T, the
    stop visible at T, days since the stop."""
    from pipelines.synthetic import regime_params
    from pipelines.synthetic.core import simulate_chunk
    from pipelines.synthetic.writer import build_economy

    p = json.loads(summary.read_text())["params"]
    params = regime_params(
        regime,
        debtors=p["debtors"],
        months=p["months"],
        seed=p["seed"],
        start=dt.date.fromisoformat(p["start"]),
        annual_default_rate=p["annual_default_rate"],
        volume_scale=p["volume_scale"],
    )
    eco = build_economy(params)
    frames = []
    n_chunks = -(-params.debtors // params.chunk_debtors)
    for chunk in range(n_chunks):
        lo = chunk * params.chunk_debtors
        hi = min(params.debtors, lo + params.chunk_debtors)
        res, v = _capture_locals(simulate_chunk, params, chunk, lo, hi, eco)
        t_d, t_m, T, h_t = v["t_d"], v["t_m"], v["T"], v["h_t"]
        perf = eco.oracle.lookup(t_m, v["seg"][t_d], v["klass"][t_d], v["season_left"], h_t)
        stopped = v["is_stopped"]
        # missing payments per invoice: (day it would have come, debtor); a stop is visible at T when one of
        # its debtor's missing payments was due to come on or before T
        di, paid, day1 = v["di"], v["paid"], v["day1"]
        miss_full = ~v["full_paid"]
        miss_first = v["partial"] & ~v["first_paid"]
        n = hi - lo
        first_miss = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(first_miss, di[miss_full], paid[miss_full])
        np.minimum.at(first_miss, di[miss_first], day1[miss_first])
        visible = stopped & (first_miss[t_d] <= T)
        gid = v["gid"]
        frames.append(
            pd.DataFrame(
                {
                    "debtor_id": [f"D{g:07d}" for g in gid[t_d]],
                    "as_of": pd.to_datetime(T, unit="D"),
                    "oracle_check": np.asarray(v["pd_"], dtype=np.float32),
                    "perf_pd": perf,
                    "stopped": stopped,
                    "visible": visible,
                    "days_since_stop": np.where(stopped, T - v["St"], -1),
                    "days_to_default": np.where(stopped, v["Dt"] - T, -1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def stop_table_unseen(summary: Path) -> pd.DataFrame:
    """The same for a ``benchmarks/unseen_book.py`` book: its oracle PD is 1 (or 0) in the stopped state S; the
    stop-blind PD is the one its formula gives the distressed state D (the state before S) at the same month-end;
    route A's stop is visible at T when an invoice's planned payment on or after the stop day fell on or
    before T (route B's bust-out pays everything open on the stop day: visible)."""
    import unseen_book as ub

    s = json.loads(summary.read_text())
    v = ub.Variant(**s["variant"])
    laws: list[tuple] = []
    calls: list[tuple] = []
    stop_of: dict[str, tuple] = {}

    def hook(frame, event, arg):
        if event != "call":
            return
        if frame.f_code is ub._law_row.__code__:
            f = frame.f_locals
            x = f["x"]
            stop_of[x["debtor_id"]] = (f["stop_day"], f["route"])
            for _share, late in x["pieces"]:
                laws.append((x["debtor_id"], max(x["due_date"] + dt.timedelta(days=late), x["issue_date"])))
        elif frame.f_code is ub._truth_rows.__code__:
            f = frame.f_locals
            calls.append(
                tuple(f[k] for k in ("v", "did", "hazard_of", "path", "q", "default_day", "onboard", "spell"))
            )

    sys.setprofile(hook)
    try:
        tables = ub.simulate(v, int(s["seed"]))
    finally:
        sys.setprofile(None)
    truth = tables["truth"]
    stops = pd.DataFrame.from_dict(stop_of, orient="index", columns=["stop_day", "route"])
    stops["stop_day"] = pd.to_datetime(stops["stop_day"])
    rows = []
    for vv, did, hz, path, q, dday, onboard, spell in calls:
        blind = [(m, "D" if st == "S" else st) for m, st in path]
        healthy = [(m, "H") for m, _st in path]
        b_rows = ub._truth_rows(vv, did, hz, blind, q, dday, onboard, spell)
        h_rows = ub._truth_rows(vv, did, hz, healthy, q, dday, onboard, spell)
        for r, h in zip(b_rows, h_rows, strict=True):
            rows.append((did, r["month_end"], r["oracle_pd"], h["oracle_pd"]))
    perf = pd.DataFrame(rows, columns=["debtor_id", "as_of", "perf_pd", "healthy_pd"])
    perf["as_of"] = pd.to_datetime(perf["as_of"])
    lw = pd.DataFrame(laws, columns=["debtor_id", "pay_day"])
    lw["pay_day"] = pd.to_datetime(lw["pay_day"])
    lw = lw.merge(stops, left_on="debtor_id", right_index=True, how="inner")
    first_miss = lw.loc[lw["pay_day"] >= lw["stop_day"]].groupby("debtor_id")["pay_day"].min()
    t = truth.rename(columns={"month_end": "as_of"})[["debtor_id", "as_of", "state", "oracle_pd"]]
    t = t.merge(perf, on=["debtor_id", "as_of"], how="left", validate="one_to_one")
    t = t.merge(stops, left_on="debtor_id", right_index=True, how="left")
    t["first_miss"] = t["debtor_id"].map(first_miss)
    stopped = (t["state"] == "S").to_numpy()
    vis_b = (t["route"] == "B").to_numpy()
    vis_a = (t["first_miss"] <= t["as_of"]).to_numpy()
    return pd.DataFrame(
        {
            "debtor_id": t["debtor_id"].astype(str),
            "as_of": t["as_of"],
            "oracle_check": t["oracle_pd"].astype("float64"),
            "perf_pd": np.where(stopped, t["perf_pd"], t["oracle_pd"]).astype("float64"),
            "stopped": stopped,
            "visible": stopped & (vis_b | vis_a),
            "days_since_stop": np.where(stopped, (t["as_of"] - t["stop_day"]).dt.days.fillna(-1), -1),
            "days_to_default": -1,
            "healthy_pd": t["healthy_pd"].astype("float64"),
        }
    )


def who(q: pd.DataFrame, gap: np.ndarray, held: np.ndarray, truth: Path) -> dict:
    """The oracle-only defaulters (``gap``) against the queue's own top-20 % non-defaulters that the oracle
    leaves out (``held``): balance percentile in the month-end, model PD, pay_pd, true PD, DPD (medians);
    the latent state (generator: health; unseen: state and distress mechanism)."""
    t = pd.read_parquet(truth)
    t = t.rename(columns={"month_end": "as_of", "state": "latent"})
    t["as_of"] = pd.to_datetime(t["as_of"])
    t["debtor_id"] = t["debtor_id"].astype(str)
    cols = [c for c in ("latent", "mechanism", "health") if c in t.columns]
    x = q.merge(t[["debtor_id", "as_of", *cols]], on=["debtor_id", "as_of"], how="left")
    x["balance_pct"] = x.groupby("as_of")["open_balance"].rank(pct=True)
    out = {}
    for name, m in (("oracle_only", gap), ("queue_top_nondefaulted", held)):
        g = x.loc[m]
        d = {
            "rows": int(m.sum()),
            **{
                c: float(g[c].median()) if len(g) else float("nan")
                for c in ("balance_pct", "pd", "pay_pd", "oracle_pd", "dpd")
            },
        }
        if "health" in cols:
            d["health"] = float(g["health"].median()) if len(g) else float("nan")
        for c in ("latent", "mechanism"):
            if c in cols:
                d[c] = {str(k): int(v) for k, v in g[c].fillna("-").value_counts().items()}
        out[name] = d
    return out


def book(bt: Path, regime: str) -> dict:
    from rank_order import arrays, queue_rows

    from models.queue_key import queue_orders, weighted_capture

    q, meta = queue_rows(bt)
    truth = Path(meta["settings"]["truth"])
    found = [
        p
        for p in (
            truth.parent / "generate-summary.json",
            truth.parent.parent / "gen" / "generate-summary.json",
        )
        if p.exists()
    ]
    summary = found[0] if found else truth.parent / "generate-summary.json"
    if not found:
        raise SystemExit(f"{bt}: no generate-summary.json beside {truth}")
    st = stop_table_unseen(summary) if regime == "unseen" else stop_table(summary, regime)
    q["debtor_id"] = q["debtor_id"].astype(str)
    q = q.merge(st, on=["debtor_id", "as_of"], how="left", validate="one_to_one")
    if q["oracle_check"].isna().any():
        raise SystemExit(f"{bt}: {int(q['oracle_check'].isna().sum())} queue rows not in the re-run")
    diff = np.abs(q["oracle_check"].astype("float64") - q["oracle_pd"].astype("float64"))
    if float(diff.max()) > 1e-6:
        raise SystemExit(f"{bt}: the re-run's oracle PD differs from the truth file's (max {diff.max():.3g})")
    ob, lgd, dpd, k, tpd, el, y, bad, state = arrays(q)
    stopped = q["stopped"].to_numpy(bool)
    visible = q["visible"].to_numpy(bool)
    perf = q["perf_pd"].to_numpy("float64")
    blind = np.where(stopped, perf, tpd)
    observable = np.where(stopped & ~visible, perf, tpd)
    keys = {
        "shipped": (k * ob * lgd * (1.0 + dpd / 90.0), el),
        "oracle": (tpd * ob, None),
        "stop_blind": (blind * ob, None),
        "observable": (observable * ob, None),
        "observable_dpd": (observable * ob * lgd * (1.0 + dpd / 90.0), None),
    }
    if "healthy_pd" in q.columns:  # unseen: the oracle that knows neither the distress nor the stop
        keys["state_blind"] = (q["healthy_pd"].to_numpy("float64") * ob, None)
    orders = {name: queue_orders(q, key_, tie) for name, (key_, tie) in keys.items()}
    ones = np.ones(len(q))
    cap = {name: weighted_capture(o, bad, ones) for name, o in orders.items()}

    def top(o) -> np.ndarray:
        m = np.zeros(len(q), dtype=bool)
        for idx in o:
            m[idx[: int(np.ceil(0.2 * len(idx)))]] = True
        return m

    ship_top, or_top = top(orders["shipped"]), top(orders["oracle"])
    tb = bad.sum()
    groups = {
        "stopped_hidden": stopped & ~visible,
        "stopped_visible": stopped & visible,
        "performing": ~stopped,
    }
    out_groups = {}
    for name, g in groups.items():
        gap = g & y & or_top & ~ship_top  # the oracle catches it, the queue does not
        won = g & y & ship_top & ~or_top
        out_groups[name] = {
            "rows": int(g.sum()),
            "defaulted": int((g & y).sum()),
            "bad_share": float(bad[g & y].sum() / tb) if tb else float("nan"),
            "oracle_only_rows": int(gap.sum()),
            "oracle_only_bad_share": float(bad[gap].sum() / tb) if tb else float("nan"),
            "shipped_only_bad_share": float(bad[won].sum() / tb) if tb else float("nan"),
            "oracle_only_states": [int((gap & (state == s)).sum()) for s in (1, 2, 3)],
            "median_days_since_stop": float(np.median(q["days_since_stop"].to_numpy()[g & y]))
            if name != "performing" and (g & y).any()
            else float("nan"),
            "in_shipped_top": float(ship_top[g & y].mean()) if (g & y).any() else float("nan"),
        }
    return {
        "book": bt.parent.parent.name if bt.parent.name in ("main",) or bt.name == "bt" else bt.name,
        "folder": str(bt),
        "key": meta["settings"].get("queue_key", "pd"),
        "queue_rows": int(len(q)),
        "queue_defaulted": int(y.sum()),
        "capture": cap,
        "check_shipped": meta["figures"].get("queue_capture_top20"),
        "check_oracle": meta["figures"].get("oracle_capture_top20"),
        "groups": out_groups,
        "oracle_only": who(q, y & or_top & ~ship_top, ~y & ship_top & ~or_top, truth),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "books", nargs="+", help="BT:REGIME (an ews backtest --rows folder and its book's regime)"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    res = []
    for spec in args.books:
        bt, _, regime = spec.rpartition(":")
        r = book(Path(bt), regime)
        res.append(r)
        c, g = r["capture"], r["groups"]
        print(
            f"{r['book']:<28} {r['key']:<5} rows {r['queue_rows']:>5} bad {r['queue_defaulted']:>3} | "
            f"shipped {c['shipped']:.4f} oracle {c['oracle']:.4f} (check {r['check_oracle']}) "
            f"stop_blind {c['stop_blind']:.4f} observable {c['observable']:.4f} "
            f"observable_dpd {c['observable_dpd']:.4f} state_blind {c.get('state_blind', float('nan')):.4f} | shipped/oracle {c['shipped'] / c['oracle']:.3f} "
            f"shipped/observable {c['shipped'] / c['observable']:.3f}"
        )
        for name, x in g.items():
            print(
                f"    {name:<16} rows {x['rows']:>5} defaulted {x['defaulted']:>3} bad {x['bad_share']:.3f} "
                f"oracle-only {x['oracle_only_rows']:>3} ({x['oracle_only_bad_share']:.3f}, states "
                f"{x['oracle_only_states']}) shipped-only {x['shipped_only_bad_share']:.3f} "
                f"in shipped top {x['in_shipped_top']:.2f} days since stop {x['median_days_since_stop']}"
            )
        for name, x in r["oracle_only"].items():
            print(
                f"    {name:<24} "
                + " ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in x.items())
            )
    out = {"books": res}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
