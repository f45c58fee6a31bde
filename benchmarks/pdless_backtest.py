"""``ews backtest`` without a PD model on small books, and the dpd_bucket trigger on material days (s43-pdless).

``run``: one ingested book, replayed as the nightly without a PD model (``pipelines.backtest.replay`` with
``no_model=True``, the credit policy of the nightly config for ``limit_breach``) from its 7th month-end to its
last: the figures ``ews backtest --no-model`` writes (``backtest_figures`` with the ``dpd`` key, intervals by
debtor bootstrap) and each trigger on its own. With ``--min-open-amount X`` it also replays the book with
``default_definition.min_open_amount`` X and fires the ``dpd_bucket`` trigger alone twice on those rows: on
``dpd_current_max`` (the oldest open overdue invoice of any size: what the trigger reads) and on the queue's
days (``dpd``: the oldest invoice with more than X open): rule M in /work/notes/s43-pdless.md.

``table``: pools the JSON files of ``run``.

    nice .venv/bin/python benchmarks/pdless_backtest.py run --data ING --name g1 --out DIR [--min-open-amount 50]
    nice .venv/bin/python benchmarks/pdless_backtest.py table DIR/*.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def _dates(data: Path, skip: int) -> list[pd.Timestamp]:
    from pipelines.backtest import month_end_dates
    from pipelines.scoring.data_window import data_window

    first, last = data_window(data)
    return month_end_dates(first, last)[skip:]


def _dpd_alone(panel: pd.DataFrame, dates: list[pd.Timestamp], cfg, days: str) -> dict:
    """The dpd_bucket trigger alone, fired on ``days`` (a column of ``panel``), each trigger's figures."""
    from pipelines.backtest import fire_panel, trigger_figures

    off = {"enabled": False}
    only = cfg.model_copy(
        update={
            "triggers": cfg.triggers.model_copy(
                update={
                    name: getattr(cfg.triggers, name).model_copy(update=off)
                    for name in (
                        "threshold",
                        "jump",
                        "migration",
                        "new_entrant",
                        "limit_breach",
                        "rank",
                        "event",
                    )
                }
            )
        }
    )
    p = panel.assign(dpd_current_max=panel[days])
    _, fired = fire_panel(p, dates, only, no_model=True)
    p = p.assign(trigger_dpd_bucket=fired["trigger_dpd_bucket"])
    live = p.loc[~p["in_default"].to_numpy(dtype=bool) & p["horizon_observed"].to_numpy(dtype=bool)]
    out = trigger_figures(p, dates, ["trigger_dpd_bucket"]).get(
        "dpd_bucket", {"fired": 0, "fired_defaulted": 0}
    )
    out["defaulted_live_months"] = int((live["label"] == 1).sum())
    return out


def run(args: argparse.Namespace) -> None:
    from pipelines.adapters.files import read_portfolio
    from pipelines.backtest import backtest_figures, replay
    from pipelines.config import load_config
    from pipelines.config.credit import load_credit_policy
    from pipelines.config.nightly import NightlyConfig
    from pipelines.config.project import ProjectConfig
    from pipelines.ingest.decimals import feed_currency, money_places

    t0, c0 = time.perf_counter(), time.process_time()
    cfg = load_config(args.config, expect=NightlyConfig)
    project = load_config(cfg.project, expect=ProjectConfig)
    policy = load_credit_policy(cfg.credit, [b.name for b in cfg.bands])
    definition = project.default_definition.to_params()
    portfolio = read_portfolio(args.data)
    manifest = json.loads((args.data / "manifest.json").read_text())
    currency = feed_currency(manifest, [portfolio.invoices], project.currency.reporting)
    dates = _dates(args.data, args.skip)

    def no_score(live: pd.DataFrame) -> pd.Series:
        raise AssertionError("no PD model: nobody is scored")

    panel = replay(portfolio, dates, no_score, cfg, definition, cfg.partition_rows, policy=policy,
                   currency=currency, no_model=True)  # fmt: skip
    truth = None
    tp = args.data / "truth.parquet"
    if tp.exists():
        t = pd.read_parquet(tp)
        if {"debtor_id", "month_end", "oracle_pd"} <= set(t.columns):
            truth = t[["debtor_id", "month_end", "oracle_pd"]]
    res = backtest_figures(panel, cfg, truth, "dpd", money_places(currency), n_boot=args.boot, seed=0)
    out = {
        "book": args.name,
        "data": str(args.data),
        "dates": [d.date().isoformat() for d in dates],
        "debtors": int(panel["debtor_id"].nunique()),
        "figures": res["figures"],
        "intervals": res["intervals"]["figures"],
        "triggers": res.get("triggers", {}),
    }
    if args.min_open_amount:
        material = dataclasses.replace(definition, min_open_amount=args.min_open_amount)
        mp = replay(portfolio, dates, no_score, cfg, material, cfg.partition_rows, policy=policy,
                    currency=currency, no_model=True)  # fmt: skip
        out["rule_m"] = {
            "min_open_amount": args.min_open_amount,
            "any": _dpd_alone(mp, dates, cfg, "dpd_current_max"),
            "material": _dpd_alone(mp, dates, cfg, "dpd"),
            "rows_days_differ": int((mp["dpd"].fillna(0) != mp["dpd_current_max"].fillna(0)).sum()),
        }
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["cpu_s"] = round(time.process_time() - c0, 1)
    out["max_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(out, indent=1, default=str))
    print(args.name, out["wall_s"], "s")


def table(args: argparse.Namespace) -> None:
    rows = [json.loads(Path(p).read_text()) for p in args.files]

    def pct(v) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}"

    print("| book | month-ends | debtors | queue (dpd) | balance | oracle | watchlist prec. | recall | list | strict lead "
          "(d) | defaults | dpd_bucket fired / prec. / recall / first-fire lead | event fired / prec. / recall | "
          "limit_breach fired / prec. |")  # fmt: skip
    print("|" + "---|" * 14)
    for r in rows:
        f, t = r["figures"], r["triggers"]
        d, e, lb = (t.get(k, {}) for k in ("dpd_bucket", "event", "limit_breach"))
        lead = f["lead_time_median_days"]
        first = d.get("lead_time_first_fire_median_days")
        print(
            f"| {r['book']} | {f['months_with_observed_horizon']} | {r['debtors']} | {pct(f['queue_capture_top20'])} "
            f"| {pct(f['balance_capture_top20'])} | {pct(f.get('oracle_capture_top20'))} "
            f"| {pct(f['watchlist_precision'])} | {pct(f['watchlist_recall'])} | {pct(f['watchlist_list_share'])} "
            f"| {'n/a' if lead is None else f'{lead:.0f}'} | {f['defaults_for_lead_time']} "
            f"| {d.get('fired', 0)} / {pct(d.get('precision'))} / {pct(d.get('recall'))} / "
            f"{'n/a' if first is None else f'{first:.0f}'} | {e.get('fired', 0)} / {pct(e.get('precision'))} / "
            f"{pct(e.get('recall'))} | {lb.get('fired', 0)} / {pct(lb.get('precision'))} |"
        )
    m = [r for r in rows if "rule_m" in r]
    if m:
        print("\nRule M (dpd_bucket alone, min_open_amount", m[0]["rule_m"]["min_open_amount"], ")")
        print("| book | rows where the days differ | any: fired / defaulted | material: fired / defaulted | "
              "defaulted live debtor-months |")  # fmt: skip
        print("|---|---|---|---|---|")
        tot = {"any": [0, 0], "material": [0, 0]}
        bad = 0
        for r in m:
            a, b = r["rule_m"]["any"], r["rule_m"]["material"]
            for k, v in (("any", a), ("material", b)):
                tot[k][0] += v["fired"]
                tot[k][1] += v["fired_defaulted"]
            bad += a["defaulted_live_months"]
            print(f"| {r['book']} | {r['rule_m']['rows_days_differ']} | {a['fired']} / {a['fired_defaulted']} | "
                  f"{b['fired']} / {b['fired_defaulted']} | {a['defaulted_live_months']} |")  # fmt: skip
        for k in ("any", "material"):
            fired, hit = tot[k]
            print(f"pooled {k}: fired {fired}, defaulted {hit}, precision {hit / fired if fired else float('nan'):.4f}, "
                  f"recall {hit / bad if bad else float('nan'):.4f} (of {bad})")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--data", type=Path, required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--config", type=Path, default=Path("conf/nightly.yaml"))
    r.add_argument("--skip", type=int, default=6, help="month-ends left out at the start (6: from the 7th)")
    r.add_argument("--boot", type=int, default=1000)
    r.add_argument("--min-open-amount", type=float, default=0.0)
    t = sub.add_parser("table")
    t.add_argument("files", nargs="+")
    args = ap.parse_args()
    {"run": run, "table": table}[args.cmd](args)


if __name__ == "__main__":
    main()
