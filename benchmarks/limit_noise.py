"""How much of the watchlist is the ``limit_breach`` trigger, how often it re-fires, and how well it
predicts defaults (session 32, s32-limit; issue 13 item 3, issue 11 watchlist quality).

    nice python benchmarks/limit_noise.py BOOK=PANEL ... [--set a.b=v ...] [--json out.json]

``BOOK``: a generated book's folder (its ``debtors.parquet``: ``credit_limit``, ``annual_turnover``,
``net_worth``); ``PANEL``: ``benchmarks/queue_ranking.py panel --data BOOK ... --out PANEL`` (the
model's PDs per debtor and month-end, with ``invoice_amount_90d`` / ``_365d`` and
``payment_terms_mean_365d``). ``ews backtest`` does not compute credit limits, so its watchlist
figures leave ``limit_breach`` out; here every month-end gets the nightly's limits
(``pipelines.scoring.limits.add_credit_limits``, ``conf/credit.yaml``) and the nightly's triggers and
list memory (``pipelines.scoring.watchlist.triggers``, ``watch_state.stay_on_list``) of
``conf/nightly.yaml`` with the ``--set`` changes, one month-end after the other as
``pipelines.backtest.flag_panel`` does (so a nightly run once a month; nightly runs every day would
see more dips in and out of a limit).

Per book, over the month-ends after the first (which has no previous run): live debtors; share over
the current limit, over the recommended limit x (1 + margin), over either; watchlist size;
``limit_breach`` fires, the entries it alone puts on the list (no other trigger, no list memory),
and re-fires (the debtor fired it at an earlier month-end of the replay); precision (share defaulting
within the horizon, month-ends with an observed horizon) of ``limit_breach``, of its sole entries, of
the rank trigger and of the whole list, against the book's default rate; the list's recall. Ends with
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

PANEL_COLUMNS = ["as_of", "debtor_id", "pd", "band", "in_default", "open_balance", "invoice_amount_90d",
                 "invoice_amount_365d", "payment_terms_mean_365d"]  # fmt: skip


def config(changes: list[str]) -> Any:
    """conf/nightly.yaml with ``a.b.c=value`` changes (value parsed as YAML)."""
    import yaml

    from pipelines.config.nightly import NightlyConfig

    raw = yaml.safe_load((ROOT / "conf" / "nightly.yaml").read_text())
    for change in changes:
        dotted, value = change.split("=", 1)
        node = raw
        *path, last = dotted.split(".")
        for key in path:
            node = node.setdefault(key, {})
        node[last] = yaml.safe_load(value)
    raw["project"] = str(ROOT / "conf" / "ews.yaml")
    if isinstance(raw.get("credit"), str):
        raw["credit"] = str(ROOT / raw["credit"])
    return NightlyConfig.model_validate(raw)


def replay_flags(panel: pd.DataFrame, debtors: pd.DataFrame, cfg: Any) -> pd.DataFrame:
    """One row per (as_of, debtor) of ``panel``: the triggers, the list memory and the limit tests."""
    from pipelines.config.credit import load_credit_policy
    from pipelines.scoring import watchlist
    from pipelines.scoring.limits import add_credit_limits
    from pipelines.scoring.watch_state import holding, stay_on_list
    from pipelines.scoring.watchlist import compare_with_previous, limit_excess, triggers

    policy = load_credit_policy(cfg.credit, [b.name for b in cfg.bands])
    out, previous, state = [], None, None
    for T in sorted(panel["as_of"].unique()):
        rows = panel.loc[panel["as_of"] == T]
        today = add_credit_limits(rows[PANEL_COLUMNS].reset_index(drop=True), debtors, policy)
        scored = compare_with_previous(today, previous)
        if hasattr(watchlist, "limit_over_on"):  # since s32-limit: the last run over a limit, carried
            scored = scored.assign(limit_over_on=watchlist.limit_over_on(scored, cfg))
        fired = triggers(scored, cfg, has_previous=previous is not None)
        live = ~today["in_default"].to_numpy(dtype=bool)
        hold = holding(today, cfg)
        any_fired = fired.any(axis=1).to_numpy()
        stay = stay_on_list(today["debtor_id"], live, any_fired, state, pd.Timestamp(T).date(),
                            cfg.watchlist.stay_days, hold)  # fmt: skip
        over_current, over_recommended = limit_excess(today, cfg)
        # yesterday's exposure against tonight's limits: a fire that this also flags came from the limit
        # moving (band, invoiced volume), not from the exposure crossing a limit that stayed put
        moved = np.zeros(len(today), dtype=bool)
        if previous is not None:
            prev_exposure = previous.set_index("debtor_id")["open_balance"].reindex(today["debtor_id"])
            was_c, was_r = limit_excess(today.assign(open_balance=prev_exposure.to_numpy()), cfg)
            moved = (was_c | was_r).to_numpy() & previous_present(previous, today)
        frame = fired.assign(
            as_of=T, debtor_id=today["debtor_id"].to_numpy(), live=live, stay=stay, on=any_fired | stay,
            over_current=over_current.to_numpy() & live, limit_moved=moved, over_recommended=over_recommended.to_numpy() & live,
            label=rows["label"].to_numpy(), observed=rows["horizon_observed"].to_numpy(dtype=bool),
            first=previous is None,
        )  # fmt: skip
        out.append(frame)
        last = pd.Series(pd.NaT, index=today.index, dtype="datetime64[ns]")
        if state is not None:
            last[:] = state.set_index("debtor_id")["last_trigger_on"].reindex(today["debtor_id"]).to_numpy()
        last[any_fired] = T
        state = pd.DataFrame(
            {"debtor_id": today["debtor_id"], "on_list": any_fired | stay, "last_trigger_on": last}
        )
        previous = scored.drop(columns=[c for c in scored.columns if c.endswith("_prev")])
    return pd.concat(out, ignore_index=True)


def previous_present(previous: pd.DataFrame, today: pd.DataFrame) -> np.ndarray:
    return today["debtor_id"].isin(previous["debtor_id"]).to_numpy()


def _prec(flag: pd.Series, bad: pd.Series) -> float | None:
    return float(bad[flag].mean()) if flag.any() else None


def figures(flags: pd.DataFrame) -> dict[str, Any]:
    f = flags.loc[~flags["first"]].copy()
    months = f["as_of"].nunique()
    lb = f["trigger_limit_breach"]
    others = [c for c in f.columns if c.startswith("trigger_") and c != "trigger_limit_breach"]
    other = f[others].any(axis=1)
    f["lb_only"] = lb & ~other & ~f["stay"]
    f = f.sort_values(["debtor_id", "as_of"])
    f["lb_before"] = f.groupby("debtor_id")["trigger_limit_breach"].cumsum() - lb.astype(int) > 0
    refire = lb & f["lb_before"]
    last_fire = f["as_of"].where(lb).groupby(f["debtor_id"]).transform(lambda s: s.ffill().shift(1))
    refire_90 = lb & ((f["as_of"] - last_fire).dt.days <= 92)
    live = f["live"]
    over = f["over_current"] | f["over_recommended"]
    obs = f["observed"] & live
    bad = f["label"].fillna(0).astype(int) == 1
    per_month = lambda s: float(s.sum()) / months  # noqa: E731
    # a standing breach: over a limit at this month-end and the previous one (same debtor)
    prev_over = over.groupby(f["debtor_id"]).shift(1).fillna(False).astype(bool)
    on = f["on"] & live
    return {
        "months": int(months),
        "live_per_month": per_month(live),
        "over_current_share": float(f.loc[live, "over_current"].mean()),
        "over_recommended_share": float(f.loc[live, "over_recommended"].mean()),
        "over_any_share": float(over[live].mean()),
        "over_two_months_share": float((over & prev_over)[live].mean()),
        "list_per_month": per_month(on),
        "limit_breach_per_month": per_month(lb),
        "limit_only_per_month": per_month(f["lb_only"]),
        "limit_only_share_of_list": float(f["lb_only"].sum() / on.sum()) if on.any() else None,
        "refire_per_month": per_month(refire),
        "refire_share": float(refire.sum() / lb.sum()) if lb.any() else None,
        "refire_within_90d_share": float(refire_90.sum() / lb.sum()) if lb.any() else None,
        "fires_by_limit_move_share": float((lb & f["limit_moved"]).sum() / lb.sum()) if lb.any() else None,
        "fires_over_current_share": float((lb & f["over_current"]).sum() / lb.sum()) if lb.any() else None,
        "debtors_fired": int(f.loc[lb, "debtor_id"].nunique()),
        "fires": int(lb.sum()),
        "base_rate": float(bad[obs].mean()),
        "precision_limit_breach": _prec(lb & obs, bad),
        "precision_limit_only": _prec(f["lb_only"] & obs, bad),
        "precision_rank": _prec(f["trigger_rank"] & obs, bad),
        "precision_list": _prec(on & obs, bad),
        "recall_list": float((on & obs & bad).sum() / (obs & bad).sum()) if (obs & bad).any() else None,
        "recall_list_without_limit_only": float((on & ~f["lb_only"] & obs & bad).sum() / (obs & bad).sum())
        if (obs & bad).any()
        else None,
    }


def compare(
    base: pd.DataFrame, cand: pd.DataFrame, pd_by_row: pd.Series, reps: int, seed: int
) -> dict[str, Any]:
    """The candidate's list against today's on the same rows (month-ends after the first): limit-only
    entries per month-end, and the recall of defaulters (live, observed horizon) of the candidate's
    list as it is and filled back to today's size each month-end with the highest PDs not on it
    (``same size``: what the slots it frees would buy), minus today's recall, and the list's precision
    (entries with an observed horizon that default within it) minus today's, with 95 % intervals
    from a Poisson bootstrap over debtors (``reps`` draws)."""
    keep = ~base["first"].to_numpy()
    b, c = base.loc[keep].reset_index(drop=True), cand.loc[keep].reset_index(drop=True)
    pdv = pd_by_row[keep].reset_index(drop=True)
    others = [x for x in b.columns if x.startswith("trigger_") and x != "trigger_limit_breach"]

    def only(f: pd.DataFrame) -> pd.Series:
        return f["trigger_limit_breach"] & ~f[others].any(axis=1) & ~f["stay"]

    on_b, on_c = b["on"] & b["live"], c["on"] & c["live"]
    filled = on_c.copy()
    for _, idx in b.groupby("as_of").groups.items():
        k = int(on_b[idx].sum() - on_c[idx].sum())
        if k > 0:
            pool = pd.DataFrame({"pd": pdv[idx], "id": b.loc[idx, "debtor_id"]}).loc[
                b.loc[idx, "live"] & ~on_c[idx]
            ]
            top = pool.sort_values(["pd", "id"], ascending=[False, True]).index[:k]
            filled[top] = True
    bad = (b["label"].fillna(0).astype(int) == 1) & b["observed"] & b["live"]
    seen = b["observed"] & b["live"]  # entries whose horizon is observed: precision's denominator
    per = pd.DataFrame(
        {"id": b["debtor_id"], "bad": bad, "b": on_b & bad, "c": on_c & bad, "f": filled & bad,
         "nb": on_b & seen, "nc": on_c & seen}
    )  # fmt: skip
    agg = per.groupby("id")[["bad", "b", "c", "f", "nb", "nc"]].sum().to_numpy(dtype="float64")
    rng = np.random.default_rng(seed)
    w = rng.poisson(1.0, (reps, len(agg)))
    tot = w @ agg
    diffs = {
        "recall_diff": (tot[:, 2] - tot[:, 1]) / tot[:, 0],
        "recall_diff_same_size": (tot[:, 3] - tot[:, 1]) / tot[:, 0],
        "precision_diff": tot[:, 2] / tot[:, 5] - tot[:, 1] / tot[:, 4],
    }
    months = b["as_of"].nunique()
    out: dict[str, Any] = {
        "limit_only_per_month_today": float(only(b).sum()) / months,
        "limit_only_per_month_candidate": float(only(c).sum()) / months,
        "list_per_month_today": float(on_b.sum()) / months,
        "list_per_month_candidate": float(on_c.sum()) / months,
        "recall_today": float(agg[:, 1].sum() / agg[:, 0].sum()),
        "recall_candidate": float(agg[:, 2].sum() / agg[:, 0].sum()),
        "recall_candidate_same_size": float(agg[:, 3].sum() / agg[:, 0].sum()),
        "defaulter_months": int(agg[:, 0].sum()),
        "precision_today": float(agg[:, 1].sum() / agg[:, 4].sum()),
        "precision_candidate": float(agg[:, 2].sum() / agg[:, 5].sum()),
    }
    for name, d in diffs.items():
        point = {
            "recall_diff": out["recall_candidate"] - out["recall_today"],
            "recall_diff_same_size": out["recall_candidate_same_size"] - out["recall_today"],
            "precision_diff": out["precision_candidate"] - out["precision_today"],
        }
        out[name] = point[name]
        out[f"{name}_lo"], out[f"{name}_hi"] = (float(x) for x in np.quantile(d, [0.025, 0.975]))
    out["limit_only_cut"] = (
        1 - out["limit_only_per_month_candidate"] / out["limit_only_per_month_today"]
        if out["limit_only_per_month_today"]
        else None
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("books", nargs="+", help="BOOK=PANEL")
    ap.add_argument("--set", dest="changes", action="append", default=[], help="a.b.c=value (YAML)")
    ap.add_argument(
        "--against",
        dest="base",
        action="append",
        default=None,
        help="a.b.c=value: compare the --set config with this one (repeatable; '' = conf/nightly.yaml)",
    )
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--json")
    args = ap.parse_args()
    cfg = config(args.changes)
    base_cfg = None if args.base is None else config([c for c in args.base if c])
    results = {}
    for spec in args.books:
        book, panel_path = spec.split("=", 1)
        panel = pd.read_parquet(panel_path).sort_values(["as_of", "debtor_id"], ignore_index=True)
        debtors = pd.read_parquet(Path(book) / "debtors.parquet")
        debtors["debtor_id"] = debtors["debtor_id"].astype("string")
        flags = replay_flags(panel, debtors, cfg)
        fig = figures(flags)
        if base_cfg is not None:
            base = replay_flags(panel, debtors, base_cfg)
            fig["versus"] = compare(base, flags, panel["pd"], args.reps, seed=32)
        results[Path(book).name] = fig
        print(Path(book).name, " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in fig.items()), flush=True)  # fmt: skip
    line = json.dumps({"changes": args.changes, "against": args.base, "books": results})
    if args.json:
        Path(args.json).write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
