"""Why a backtest's strict lead time misses 60 days, and what lead a flag could reach (s34-queue, issue 11).

Per stored backtest (backtest_rows.parquet + the book's truth.parquet and events), for every default seen
from a live month-end (pipelines.backtest._lead_times' population):
- shipped: the strict lead of the stored flags (reproduces backtest.json's lead_time_median_days);
- cap: the strict lead if the debtor were flagged at every month-end of the window it was live at
  (the longest any flag can get inside the replayed window: runs start at --from at the earliest);
- oracle: flags = the k live debtors with the highest true PD at each month-end, k = the shipped list's
  size that month-end (the same list size); and oracle_rules: the shipped rules (conf/nightly.yaml) applied
  to the true PD instead of the model's (its own list size);
- overdue: the first month-end of the window from which the debtor is overdue (dpd > 0) at every month-end
  up to its last live one, and that lead; route: event (an events row on the default day) or dpd;
- fast: defaulted within 60 days of the first window month-end it was live at (no flag can be 60 days ahead).
Prints one JSON line per book and writes per-default rows to --out (parquet).

    nice -n 10 .venv/bin/python benchmarks/lead_reach.py BOOK ... [--variant main] --json out.json

BOOK is a benchmarks/rank_book.sh folder (BOOK/ing with truth.parquet and events, BOOK/VARIANT/bt from
``ews backtest --rows``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("books", nargs="+", help="book folders (BOOK/ing, BOOK/V/bt)")
    ap.add_argument("--variant", default="main")
    ap.add_argument("--code", default=str(Path(__file__).resolve().parents[1]), help="the ews checkout")
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    sys.path.insert(0, a.code)
    from pipelines.backtest import _lead_times, flag_panel
    from pipelines.config import load_config
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.watchlist import assign_bands

    cfg = load_config(Path(a.code) / "conf/nightly.yaml", NightlyConfig)
    per, summary = [], []
    for b in a.books:
        B = Path(b)
        bt = B / a.variant / "bt"
        p = pd.read_parquet(bt / "backtest_rows.parquet")
        fig = json.loads((bt / "backtest.json").read_text())["figures"]
        truth = pd.read_parquet(B / "ing" / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
        truth = truth.rename(columns={"month_end": "as_of"}).assign(
            debtor_id=lambda t: t["debtor_id"].astype("string"), as_of=lambda t: pd.to_datetime(t["as_of"])
        )
        p = p.merge(truth, on=["debtor_id", "as_of"], how="left")
        p["oracle_pd"] = p["oracle_pd"].fillna(0.0)
        dates = [pd.Timestamp(d) for d in sorted(p["as_of"].unique())]
        live = ~p["in_default"]
        # oracle flags at the shipped list size, per month-end
        k = p.loc[live].groupby("as_of")["flagged"].sum()
        r = p.loc[live].groupby("as_of")["oracle_pd"].rank(ascending=False, method="first")
        p["flag_oracle"] = False
        p.loc[live, "flag_oracle"] = r <= p.loc[live, "as_of"].map(k)
        q = p.assign(pd=p["oracle_pd"].where(live, 1.0))
        q["band"] = assign_bands(q["pd"], cfg).where(live, "default").astype("string")
        p["flag_oracle_rules"] = flag_panel(q, dates, cfg).to_numpy()
        p["flag_all"] = live
        p["flag_overdue"] = live & (p["dpd"].fillna(0) > 0)
        out = {}
        for name, col in [
            ("shipped", "flagged"),
            ("cap", "flag_all"),
            ("oracle", "flag_oracle"),
            ("oracle_rules", "flag_oracle_rules"),
            ("overdue", "flag_overdue"),
        ]:
            lt = _lead_times(p.assign(flagged=p[col]), dates)
            out[name] = lt.set_index(["debtor_id", "default_date"])
        base = out["shipped"].reset_index()[["debtor_id", "default_date"]]
        ev = B / "ing" / "events"
        evs = pd.read_parquet(ev) if ev.exists() else pd.DataFrame(columns=["debtor_id", "event_date"])
        evkey = set(zip(evs["debtor_id"].astype(str), pd.to_datetime(evs["event_date"]), strict=True))
        rows = base.copy()
        for name, lt in out.items():
            rows[f"{name}_lead"] = lt["lead_days"].to_numpy()
            rows[f"{name}_last"] = lt["flagged_last"].to_numpy()
        rows["route"] = [
            "event" if (str(d), t) in evkey else "dpd"
            for d, t in zip(rows["debtor_id"], rows["default_date"], strict=True)
        ]
        rows["book"] = B.name
        # precision / recall of each list (debtor-months with an observed horizon)
        obs = p.loc[live & p["horizon_observed"]]
        bad = obs["label"] == 1
        prec = {
            n: float((obs[c] & bad).sum() / max(obs[c].sum(), 1))
            for n, c in [
                ("shipped", "flagged"),
                ("oracle", "flag_oracle"),
                ("oracle_rules", "flag_oracle_rules"),
            ]
        }
        rec = {
            n: float((obs[c] & bad).sum() / max(bad.sum(), 1))
            for n, c in [
                ("shipped", "flagged"),
                ("oracle", "flag_oracle"),
                ("oracle_rules", "flag_oracle_rules"),
            ]
        }
        share = {
            n: float(obs[c].mean())
            for n, c in [("shipped", "flagged"), ("oracle_rules", "flag_oracle_rules")]
        }
        n = len(rows)
        fl = rows["shipped_last"]
        first_live = p.loc[live].groupby("debtor_id")["as_of"].min()
        rows["first_live"] = rows["debtor_id"].map(first_live)
        rows["cap_days"] = (rows["default_date"] - rows["first_live"]).dt.days
        med = lambda s: float(np.median(s)) if len(s) else float("nan")  # noqa: E731
        s = {
            "book": B.name,
            "defaults": n,
            "events": int((rows["route"] == "event").sum()),
            "shipped_median": med(rows.loc[fl, "shipped_lead"]),
            "json_median": fig["lead_time_median_days"],
            "shipped_share": float(fl.mean()) if n else None,
            "cap_median": med(rows["cap_lead"].dropna()),
            "cap_below60": int((rows["cap_lead"] < 60).sum()),
            "oracle_median": med(rows.loc[rows["oracle_last"], "oracle_lead"]),
            "oracle_share": float(rows["oracle_last"].mean()) if n else None,
            "oracle_rules_median": med(rows.loc[rows["oracle_rules_last"], "oracle_rules_lead"]),
            "oracle_rules_share": float(rows["oracle_rules_last"].mean()) if n else None,
            "overdue_median": med(rows.loc[rows["overdue_last"], "overdue_lead"]),
            "overdue_share": float(rows["overdue_last"].mean()) if n else None,
            "precision": prec,
            "recall": rec,
            "list_share": share,
            # of the flagged-at-last defaults: how many have a lead shorter than the cap (flagged late)
            "shipped_at_cap": int((fl & (rows["shipped_lead"] == rows["cap_lead"])).sum()),
            "shipped_flagged": int(fl.sum()),
        }
        summary.append(s)
        per.append(rows)
        print(json.dumps(s), flush=True)
    if a.out:
        pd.concat(per, ignore_index=True).to_parquet(a.out)
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
