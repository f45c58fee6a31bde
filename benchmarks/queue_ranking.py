"""What lifts the live collections queue's ranking, and what the watchlist's flagging rules trade.

Two steps, so that one replay (the slow part) serves every candidate:

1. ``panel``: ``pipelines.backtest.replay`` of one ingested book with one registered version
   (``--model V``) or walk-forward refits (``--refit-every N``, as ``ews backtest``), carrying a
   few extra feature columns; written to ``--out`` (Parquet, one row per debtor and month-end).
2. ``table``: for each panel, the queue capture (``queue_capture_top20``, pooled over the month-ends
   with an observed horizon, as ``ews backtest``) of each ranking key, and the watchlist figures
   (precision, recall, the three lead times, list size) of each flagging rule. Prints the tables
   and ends with one JSON line.

Ranking keys (all on the same live queue: overdue > ``queue.min_overdue``, not in default):

- ``el``: PD x open balance x LGD (the key shipped until session 4);
- ``lgd_cov``: LGD lowered by the debtor's payment coverage: LGD x (1 - paid/invoiced over 365
  days, clipped to 0..1, floored at 0.1);
- ``shrunk``: the PD shrunk towards its segment's mean PD at T for thin histories:
  (m x PD + k x segment mean) / (m + k), m = tenure in months, k = 6;
- ``dpd90`` / ``dpd30``: PD x open balance x LGD x (1 + DPD / s) with s = the default definition's
  ``dpd_threshold`` (90; shipped since as ``queue.dpd_weight_days: 90``) or 30 days (a sensitivity);
- ``pd_x_dpd_rank``: PD x open balance x LGD x the DPD's percentile in that night's queue;
- ``shrunk_dpd90``: ``shrunk`` and ``dpd90`` together;
- ``dpd_order``: days past due, then overdue amount (``dpd_capture_top20``);
- ``balance``: open balance (``balance_capture_top20``; ties by overdue amount here);
- ``ead_inv_dpd90``: ``dpd90`` with the exposure over the horizon: open balance + the invoicing of
  the last 90 days (the pace expected over the 90-day horizon; panels from session 5 on);
- ``oracle``: the generator's true PD x open balance (the ceiling).

The exposure "overdue + amount falling due within the horizon" is the open balance itself whenever
every open invoice falls due within the horizon (generated books: terms 30-60 days < 90), so it is
reported from the terms, not as a key.

Flagging rules: ``today`` (the config), ``stay_band C``, ``threshold C`` (an earlier band),
``threshold C + stay_band B``, PD-trend triggers: flagged also where PD >= factor x the PD ``runs``
month-ends earlier and PD >= ``floor``; and (session 5) the ``rank`` trigger (PD among the top
``triggers.rank.top_share`` of the night's live debtors and >= ``min_pd``) with the rank hysteresis
``watchlist.stay_top_share``, alone and with ``stay_band``.

    nice python benchmarks/queue_ranking.py panel --data /tmp/ing_stress1 --model 1 --out p_stress1.parquet
    nice python benchmarks/queue_ranking.py panel --data /tmp/ing_stress1 --refit-every 1 \\
        --train-config train_cut.yaml --out p_stress1_wf1.parquet
    nice python benchmarks/queue_ranking.py table p_stress1.parquet p_base1.parquet ... [--oracle-pd]
    nice python benchmarks/queue_ranking.py misses p_stress1.parquet p_base1.parquet ...

``table --oracle-pd`` drives every flagging rule by the generator's true PD (the rules' ceiling);
``misses`` says what the queue's misses have in common (days past due, exposure size, PD
percentiles, days to default, balance after T, recent invoicing) and how early the model's and the
true PD rank the defaulters in their top 10 % (session 5).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

EXTRA = [
    "tenure_days",
    "paid_to_invoiced_365d",
    "payment_amount_90d",
    "invoice_amount_90d",
    "invoice_amount_365d",
    "invoice_count_90d",
    "payment_terms_mean_365d",
]
SHRINK_MONTHS = 6.0


def build_panel(args: argparse.Namespace) -> None:
    from pipelines.adapters.files import read_portfolio
    from pipelines.backtest import model_scorer, month_end_dates, replay
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.config.project import ProjectConfig

    t0 = time.perf_counter()
    cfg = load_config(args.config, expect=NightlyConfig)
    project = load_config(cfg.project, expect=ProjectConfig)
    definition = project.default_definition.to_params()
    dates = month_end_dates(dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end))
    portfolio = read_portfolio(args.data)
    if args.refit_every:
        from pipelines.backtest_refit import walk_forward, walk_forward_scorer
        from pipelines.config.train import TrainConfig

        train_cfg = load_config(args.train_config, expect=TrainConfig)
        refits, _ = walk_forward(portfolio, dates, args.refit_every, train_cfg, project)
        score = walk_forward_scorer(refits, cfg)
        model = f"walk-forward every {args.refit_every}: " + ", ".join(
            f"{r.on.date()} {r.kind}" for r in refits
        )
    else:
        from pipelines.adapters.registry import load_model_version

        loaded = load_model_version(args.model, cfg.model_name, project.paths.mlflow_tracking_uri)
        score, model = model_scorer(loaded, cfg), f"v{loaded.version} {loaded.kind}"
    panel = replay(portfolio, dates, score, cfg, definition, cfg.partition_rows, extra=EXTRA)
    panel = with_oracle(panel, Path(args.data))
    panel.attrs = {}
    out = Path(args.out)
    panel.to_parquet(out, index=False)
    (out.with_suffix(".json")).write_text(json.dumps({"model": model, "data": str(args.data)}) + "\n")
    print(f"{out}: {len(panel):,} rows, {model}, {time.perf_counter() - t0:.1f} s")


def with_oracle(panel: pd.DataFrame, data: Path) -> pd.DataFrame:
    """The panel with the generator's true PD (``oracle_pd`` of ``truth.parquet``) when the book has one."""
    truth = data / "truth.parquet"
    if not truth.exists():
        return panel
    t = pd.read_parquet(truth, columns=["debtor_id", "month_end", "oracle_pd"])
    t = t.rename(columns={"month_end": "as_of"}).assign(
        debtor_id=lambda x: x["debtor_id"].astype("string"), as_of=lambda x: pd.to_datetime(x["as_of"])
    )
    return panel.merge(t, on=["debtor_id", "as_of"], how="left")


def queue_keys(q: pd.DataFrame, lgd: pd.Series, dpd_threshold: float) -> dict[str, pd.Series]:
    """Each ranking key on the queue rows ``q`` (same index)."""
    ob = q["open_balance"].clip(lower=0)
    dpd = q["dpd"].fillna(0.0).clip(lower=0)
    base = q["pd"] * ob * lgd
    cover = q["paid_to_invoiced_365d"].astype("float64").fillna(0.0).clip(0, 1)
    months = (q["tenure_days"].astype("float64").fillna(0.0) / 30.4).clip(lower=0)
    seg = q["segment_mean_pd"]
    shrunk = (months * q["pd"] + SHRINK_MONTHS * seg) / (months + SHRINK_MONTHS)
    dpd_rank = dpd.groupby(q["as_of"]).rank(pct=True)
    keys = {
        "el": base,
        "lgd_cov": base * (1 - cover).clip(lower=0.1),
        "shrunk": shrunk * ob * lgd,
        "dpd90": base * (1 + dpd / dpd_threshold),
        "dpd30": base * (1 + dpd / 30.0),
        "pd_x_dpd_rank": base * dpd_rank,
        "shrunk_dpd90": shrunk * ob * lgd * (1 + dpd / dpd_threshold),
        "dpd_order": dpd,  # ties by overdue amount in capture()
        "balance": ob,  # balance_capture_top20
    }
    if "invoice_amount_90d" in q:  # panels built before session 5 lack it
        # EAD over the horizon: the open balance plus the invoicing expected in the next 90 days at the
        # pace of the last 90 (the horizon and the window are both 90 days)
        new = q["invoice_amount_90d"].astype("float64").fillna(0.0).clip(lower=0)
        keys["ead_inv_dpd90"] = q["pd"] * (ob + new) * lgd * (1 + dpd / dpd_threshold)
    if "oracle_pd" in q:
        keys["oracle"] = q["oracle_pd"].astype("float64").fillna(0.0) * ob
    return keys


def capture(q: pd.DataFrame, key: pd.Series) -> float:
    """Pooled share of the bad open balance held by the top 20 % (rounded up) of each month's queue,
    ties by overdue amount then debtor_id (as ``ews backtest``)."""
    top = tot = 0.0
    frame = q.assign(_k=key.round(2))
    for _, g in frame.groupby("as_of"):
        g = g.sort_values(
            ["_k", "overdue_amount", "debtor_id"], ascending=[False, False, True], kind="stable"
        )
        bad = g["bad_balance"].to_numpy()
        top += bad[: math.ceil(0.2 * len(g))].sum()
        tot += bad.sum()
    return top / tot if tot else float("nan")


def queue_auc(q: pd.DataFrame, key: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    y = (q["label"].fillna(0).astype(int) == 1).astype(int)
    return float(roc_auc_score(y, key)) if 0 < y.sum() < len(y) else float("nan")


def trend_flags(panel: pd.DataFrame, runs: int, factor: float, floor: float) -> pd.Series:
    """PD >= factor x the PD ``runs`` month-ends earlier (debtor scored then, live now), PD >= floor."""
    p = panel.sort_values(["debtor_id", "as_of"])
    dates = sorted(panel["as_of"].unique())
    pos = p["as_of"].map({d: i for i, d in enumerate(dates)})
    prev = p.groupby("debtor_id")["pd"].shift(runs)
    prev_pos = p.assign(_i=pos).groupby("debtor_id")["_i"].shift(runs)
    same_gap = (pos - prev_pos) == runs
    prev_live = ~p.groupby("debtor_id")["in_default"].shift(runs).fillna(True).astype(bool)
    fired = same_gap & prev_live & ~p["in_default"] & (p["pd"] >= floor) & (p["pd"] >= factor * prev)
    return fired.reindex(panel.index).fillna(False).astype(bool)


def with_changes(cfg: Any, **changes: Any) -> Any:
    """A copy of the config ``cfg`` with dotted keys changed (``**{"triggers.rank": 0.1}``)."""
    data = cfg.model_dump()
    for path, value in changes.items():
        node = data
        *head, last = path.split(".")
        for h in head:
            node = node[h]
        node[last] = value
    return type(cfg).model_validate(data)


def watch_rows(panel: pd.DataFrame, cfg: Any) -> list[tuple[str, pd.Series]]:
    from pipelines.backtest import flag_panel

    dates = [pd.Timestamp(d) for d in sorted(panel["as_of"].unique())]

    with_ = partial(with_changes, cfg)

    from pipelines.scoring.watchlist import assign_bands

    today = flag_panel(panel, dates, cfg)
    out = [("today", today)]
    stay_c = flag_panel(panel, dates, with_(**{"watchlist.stay_band": "C"}))
    out.append(("stay_band C", stay_c))
    out.append(
        ("threshold C (early band)", flag_panel(panel, dates, with_(**{"triggers.threshold.band": "C"})))
    )
    loose = with_(
        **{"triggers.threshold.band": "C", "triggers.new_entrant.band": "C", "watchlist.stay_band": "B"}
    )
    out.append(("threshold C + stay_band B", flag_panel(panel, dates, loose)))
    for runs, factor, floor in [(2, 2.0, 0.01), (3, 2.0, 0.01), (3, 3.0, 0.01), (3, 2.0, 0.03)]:
        out.append(
            (
                f"today + trend x{factor:g}/{runs} runs, PD >= {floor:g}",
                today | trend_flags(panel, runs, factor, floor),
            )
        )
    # session 5: the rank trigger (PD among the top share of the night's live debtors, PD >= 0.01)
    # and the rank hysteresis (stay while in a wider top share), both from conf (triggers.rank,
    # watchlist.stay_top_share), alone and with the band hysteresis
    for top, stay, band in [(0.05, None, None), (0.05, 0.10, None), (0.05, 0.15, None), (0.05, None, "C"),
                            (0.10, 0.20, None), (None, 0.10, None), (None, 0.20, None)]:  # fmt: skip
        changes: dict[str, Any] = {"watchlist.stay_top_share": stay, "watchlist.stay_band": band}
        if top is not None:
            changes |= {"triggers.rank.enabled": True, "triggers.rank.top_share": top}
        name = " + ".join(
            ([f"rank top {top:g}"] if top else ["today"])
            + ([f"stay_top_share {stay:g}"] if stay else [])
            + ([f"stay_band {band}"] if band else [])
        )
        out.append((name, flag_panel(panel, dates, with_(**changes))))
    # trend entries held on the list while the band stays at or above C (as stay_band does)
    band_ok = assign_bands(panel["pd"], cfg).isin(["C", "D", "E"]) & ~panel["in_default"]
    trend = trend_flags(panel, 3, 2.0, 0.01)
    held = _hold(panel, stay_c | trend, band_ok)
    out.append(("stay_band C + trend x2/3 runs (held while >= C)", held))
    return out


def _hold(panel: pd.DataFrame, entered: pd.Series, band_ok: pd.Series) -> pd.Series:
    """Flags kept on from one month-end to the next while ``band_ok`` (per debtor, in date order)."""
    p = panel.assign(_e=entered, _b=band_ok).sort_values(["debtor_id", "as_of"])
    on = np.zeros(len(p), dtype=bool)
    e, b = p["_e"].to_numpy(), p["_b"].to_numpy()
    ids = p["debtor_id"].to_numpy()
    for i in range(len(p)):
        on[i] = e[i] or (i > 0 and ids[i] == ids[i - 1] and on[i - 1] and b[i])
    return pd.Series(on, index=p.index).reindex(panel.index)


def table(args: argparse.Namespace) -> None:
    from pipelines.backtest import backtest_figures
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.queue import lgd_for

    cfg = load_config(args.config, expect=NightlyConfig)
    result: dict[str, Any] = {}
    key_rows, watch = [], []
    for path in args.panels:
        name = Path(path).stem
        panel = pd.read_parquet(path)
        panel["debtor_id"] = panel["debtor_id"].astype("string")
        live = ~panel["in_default"]
        if args.oracle_pd:  # the rules' ceiling: every rule driven by the generator's true PD
            from pipelines.scoring.watchlist import assign_bands

            panel["pd"] = panel["oracle_pd"].astype("float64").fillna(0.0).where(live, 1.0)
            panel["band"] = assign_bands(panel["pd"], cfg).where(live, "default").astype("string")
        seg_mean = panel.loc[live].groupby(["as_of", "segment"])["pd"].mean().rename("segment_mean_pd")
        panel = panel.merge(seg_mean.reset_index(), on=["as_of", "segment"], how="left")
        panel["bad_balance"] = np.where(
            panel["label"].fillna(0).astype(int) == 1, panel["open_balance"].clip(lower=0), 0.0
        )
        q = panel.loc[
            panel["horizon_observed"] & live & (panel["overdue_amount"].fillna(0.0) > cfg.queue.min_overdue)
        ]
        keys = queue_keys(q, lgd_for(q["segment"], cfg.queue), float(args.dpd_threshold))
        row = {"book": name}
        for k, v in keys.items():
            row[k] = round(capture(q, v), 4)
            row[f"auc_{k}"] = round(queue_auc(q, v), 4)
        if "oracle_pd" in q:
            row["pd_auc"] = round(queue_auc(q, q["pd"]), 4)
            row["oracle_pd_auc"] = round(queue_auc(q, q["oracle_pd"].fillna(0.0)), 4)
            row["dpd_auc"] = round(queue_auc(q, q["dpd"].fillna(0.0)), 4)
        key_rows.append(row)
        live_per_month = live.groupby(panel["as_of"]).sum().mean()
        for rule, flags in [] if args.keys_only else watch_rows(panel, cfg):
            f = backtest_figures(panel.assign(flagged=flags.to_numpy()), cfg)["figures"]
            size = (flags & live).groupby(panel["as_of"]).sum().mean()
            watch.append(
                {
                    "book": name,
                    "rule": rule,
                    "precision": f["watchlist_precision"],
                    "recall": f["watchlist_recall"],
                    "lead_strict": f["lead_time_median_days"],
                    "strict_share": f["lead_time_flagged_share"],
                    "lead_episode": f["lead_time_episode_median_days"],
                    "lead_first": f["lead_time_first_flag_median_days"],
                    "list": round(float(size), 1),
                    "live": round(float(live_per_month), 1),
                }
            )
    keys_df = pd.DataFrame(key_rows).set_index("book")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    names = [c for c in keys_df.columns if not c.endswith("_auc") and not c.startswith("auc_")]
    print("queue_capture_top20 by ranking key (and / oracle):")
    print(keys_df[names].to_string())
    if "oracle" in keys_df:
        print((keys_df[names].div(keys_df["oracle"], axis=0)).round(3).to_string())
    print("AUC inside the queue by key:")
    print(keys_df[[c for c in keys_df.columns if c.startswith("auc_") or c.endswith("_auc")]].to_string())
    wdf = pd.DataFrame(watch)
    if len(wdf):
        print(wdf.round(3).to_string(index=False))
    result = {"keys": key_rows, "watch": wdf.round(4).to_dict(orient="records")}
    if args.json:
        Path(args.json).write_text(json.dumps(result, default=str, indent=1) + "\n")
    print(
        json.dumps({"books": len(key_rows), "keys": {r["book"]: {k: r[k] for k in names} for r in key_rows}})
    )


def _top_rows(q: pd.DataFrame, key: pd.Series) -> pd.Series:
    """True for the rows in the top 20 % (rounded up) of their month's queue, ordered as capture()."""
    out = pd.Series(False, index=q.index)
    frame = q.assign(_k=key.round(2))
    for _, g in frame.groupby("as_of"):
        g = g.sort_values(
            ["_k", "overdue_amount", "debtor_id"], ascending=[False, False, True], kind="stable"
        )
        out.loc[g.index[: math.ceil(0.2 * len(g))]] = True
    return out


def misses(args: argparse.Namespace) -> None:
    """What the queue's misses have in common, and how early the PD ranks the defaulters high.

    Queue: the defaulted balance the shipped order (``dpd90``) leaves out of its top 20 % but the
    oracle's top 20 % holds, by days past due at T, by open-balance quintile, its model / oracle PD
    percentile in the queue, its days from T to the default, the growth of its open balance to the
    next month-end (EAD after T) and its invoicing of the last 90 days / open balance.
    Watchlist: for the defaults seen live, at the last (k = 0), second-last (k = 1) and third-last
    (k = 2) month-end before the default: flagged by the config, in the model's / the oracle's top
    10 % of the live PDs."""
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.queue import lgd_for

    cfg = load_config(args.config, expect=NightlyConfig)
    out = {}
    for path in args.panels:
        name = Path(path).stem
        p = pd.read_parquet(path).sort_values(["debtor_id", "as_of"])
        p["ob_next"] = p.groupby("debtor_id")["open_balance"].shift(-1)
        p["bad_balance"] = np.where(
            p["label"].fillna(0).astype(int) == 1, p["open_balance"].clip(lower=0), 0.0
        )
        live = ~p["in_default"]
        q = p.loc[p["horizon_observed"] & live & (p["overdue_amount"].fillna(0.0) > cfg.queue.min_overdue)]
        keys = queue_keys(q.assign(segment_mean_pd=q["pd"]), lgd_for(q["segment"], cfg.queue), 90.0)
        tq, to = _top_rows(q, keys["dpd90"]), _top_rows(q, keys["oracle"])
        bad = q["bad_balance"]
        miss = ~tq & to & (bad > 0)
        caught = tq & (bad > 0)
        dpd_bin = pd.cut(q["dpd"].fillna(0.0), [-1, 30, 60, 1e9], labels=["0-30", "31-60", "61+"])
        missed = float(bad[miss].sum())

        def share(m: pd.Series, bad: pd.Series = bad, missed: float = missed) -> float | None:
            return round(float(bad[m].sum()) / missed, 3) if missed else None

        def pct(col: str, q: pd.DataFrame = q) -> pd.Series:
            return q[col].astype("float64").fillna(0.0).groupby(q["as_of"]).rank(pct=True)

        grow = q["ob_next"] / q["open_balance"].where(q["open_balance"] > 0)
        inv = q["invoice_amount_90d"].astype("float64") / q["open_balance"].where(q["open_balance"] > 0)
        days = (q["first_default_date"] - q["as_of"]).dt.days
        big = q["open_balance"].groupby(q["as_of"]).rank(pct=True) > 0.8
        r: dict[str, Any] = {
            "missed_share_of_bad": round(float(bad[miss].sum() / bad.sum()), 4),
            "miss_by_dpd": {str(k): share(miss & (dpd_bin == k)) for k in dpd_bin.cat.categories},
            "bad_by_dpd": {
                str(k): round(float(bad[dpd_bin == k].sum() / bad.sum()), 3) for k in dpd_bin.cat.categories
            },
            "miss_in_top_balance_quintile": share(miss & big),
            "bad_in_top_balance_quintile": round(float(bad[big].sum() / bad.sum()), 3),
            "miss_pd_pct_median": round(float(pct("pd")[miss].median()), 3),
            "miss_oracle_pd_pct_median": round(float(pct("oracle_pd")[miss].median()), 3),
            "days_to_default_median_missed_caught": [
                float(days[miss].median()),
                float(days[caught].median()),
            ],
            "balance_growth_next_month_median_missed_caught_good": [
                round(float(grow[m].median()), 3) for m in (miss, caught, bad == 0)
            ],
            "invoiced_90d_over_balance_median_missed_caught_good": [
                round(float(inv[m].median()), 3) for m in (miss, caught, bad == 0)
            ],
        }
        rank = p["pd"].where(live).groupby(p["as_of"]).rank(pct=True, ascending=False)
        orank = (
            p["oracle_pd"].astype("float64").where(live).groupby(p["as_of"]).rank(pct=True, ascending=False)
        )
        d = p.assign(_r=rank, _o=orank).loc[live & (p["first_default_date"] > p["as_of"])]
        d = d.assign(
            k=d.groupby(["debtor_id", "first_default_date"])["as_of"].rank(ascending=False).astype(int) - 1
        )
        by_k = (
            d.loc[d["k"] <= 2]
            .groupby("k")
            .agg(
                n=("pd", "size"),
                flagged=("flagged", "mean"),
                model_top10=("_r", lambda x: (x <= 0.1).mean()),
                oracle_top10=("_o", lambda x: (x <= 0.1).mean()),
            )
        )
        r["defaults_by_month_end_before"] = by_k.round(3).reset_index().to_dict(orient="records")
        out[name] = r
        print(name, json.dumps(r))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({name: {"missed_share_of_bad": r["missed_share_of_bad"]} for name, r in out.items()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("panel", help="replay one book and write its panel")
    p.add_argument("--data", required=True)
    p.add_argument("--model", help="registered version (with MLFLOW_TRACKING_URI or the project's registry)")
    p.add_argument("--refit-every", type=int, default=0)
    p.add_argument("--train-config", default="conf/train.yaml")
    p.add_argument("--config", default="conf/nightly.yaml")
    p.add_argument("--from", dest="start", default="2024-10-01")
    p.add_argument("--to", dest="end", default="2025-09-30")
    p.add_argument("--out", required=True)
    t = sub.add_parser("table", help="ranking keys and flagging rules on panels")
    t.add_argument("panels", nargs="+")
    t.add_argument("--config", default="conf/nightly.yaml")
    t.add_argument("--dpd-threshold", type=float, default=90.0)
    t.add_argument("--json")
    t.add_argument("--keys-only", action="store_true", help="ranking keys only, no flagging rules")
    t.add_argument(
        "--oracle-pd",
        action="store_true",
        help="drive the flagging rules by the true PD (truth.parquet's oracle_pd)",
    )
    m = sub.add_parser(
        "misses", help="what the queue's misses have in common; how early the PD ranks defaulters"
    )
    m.add_argument("panels", nargs="+")
    m.add_argument("--config", default="conf/nightly.yaml")
    m.add_argument("--json")
    args = ap.parse_args()
    if args.cmd == "misses":
        misses(args)
    elif args.cmd == "panel":
        if bool(args.model) == bool(args.refit_every):
            ap.error("give exactly one of --model and --refit-every")
        build_panel(args)
    else:
        table(args)


if __name__ == "__main__":
    main()
