"""Watchlist rules replayed on ``ews backtest --rows`` panels, paired (session 20, issue 11 part 4/5).

    nice python benchmarks/watch_rules.py BOOK=NEW_BT[,OLD_BT[,REFERENCE_JSON]] ... [--reps 400] [--json out.json]

Each argument names one book's ``ews backtest --rows --out BT`` folder (the shipped model's PDs per
debtor and month-end), optionally a second folder of the same generated book replayed by another
commit (the "old" column: its own stored ``flagged``, i.e. that commit's default rules), and the
``reference.json`` of the version that scored NEW_BT (the drift reference stored with the model:
deciles of its PD on the reference rows of the training). Every rule below re-flags the same rows (no
re-scoring), as ``pipelines.backtest.flag_panel`` does for a nightly config:

- ``default``: the rules main 26c3044 shipped (``BEFORE``: bands, threshold D, jump, migration, new
  entrant, limit breach; no rank trigger, no stay rule), the rest of ``conf/nightly.yaml`` as it is;
- ``rank T/min M [+stay S]``: plus ``triggers.rank`` (top T of tonight's live debtors, PD >= M) and
  ``watchlist.stay_top_share`` S (the other triggers stay on: absolute + relative);
- ``rank-only T [+stay S]``: the rank trigger alone (threshold, migration, new entrant off; jump kept);
- ``mean xK``: plus PD >= K x tonight's mean live PD;
- ``ref T [+stay S]``: plus PD at or above the reference's (1 - T) quantile (a level fixed at
  training; deciles, so T in 0.1 steps), held while at or above its (1 - S) quantile.

Per rule: watchlist precision and recall (flagged live debtor-months, month-ends with an observed
horizon), the strict and first-flag lead (``pipelines.backtest._lead_times``), flagged live debtors
per month-end, and rule - default / rule - old with 95 % intervals from a Poisson bootstrap of
debtors (one weight per debtor shared by both sides; the strict lead as a weighted median). Ends with
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

Extra = Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray]]  # (fire, hold) per row of one month-end


# main 26c3044's shipped watchlist rules (the baseline, whatever conf/nightly.yaml says today)
BEFORE = {"triggers.rank.enabled": False, "triggers.rank.top_share": 0.05, "triggers.rank.min_pd": 0.01,
          "watchlist.stay_days": 0, "watchlist.stay_band": None, "watchlist.stay_top_share": None}  # fmt: skip


def _config(**changes: object):
    """conf/nightly.yaml with main 26c3044's watchlist rules (``BEFORE``), then ``a.b.c=value``
    changes (dotted keys)."""
    import yaml

    from pipelines.config.nightly import NightlyConfig

    raw = yaml.safe_load((ROOT / "conf" / "nightly.yaml").read_text())
    for dotted, value in {**BEFORE, **changes}.items():
        node = raw
        *path, last = dotted.split(".")
        for k in path:
            node = node[k]
        node[last] = value
    return NightlyConfig.model_validate(raw)


def flag(panel: pd.DataFrame, cfg, extra: Extra | None = None) -> np.ndarray:
    """``pipelines.backtest.flag_panel`` with an optional extra trigger and hold per month-end."""
    from pipelines.scoring.watch_state import holding, stay_on_list
    from pipelines.scoring.watchlist import compare_with_previous, triggers

    dates = sorted(panel["as_of"].unique())
    out = np.zeros(len(panel), dtype=bool)
    previous, state = None, None
    for T in dates:
        T = pd.Timestamp(T)
        idx = np.flatnonzero((panel["as_of"] == T).to_numpy())
        today = panel.iloc[idx][["debtor_id", "pd", "band", "in_default"]]
        scored = compare_with_previous(today, previous)
        fired = triggers(scored, cfg, has_previous=previous is not None).any(axis=1).to_numpy()
        live = ~today["in_default"].to_numpy(dtype=bool)
        hold = holding(today, cfg)
        if extra is not None:
            f, h = extra(today)
            fired = fired | (f & live)
            hold = h if hold is None else (hold | h)
        stay = stay_on_list(today["debtor_id"], live, fired, state, T.date(), cfg.watchlist.stay_days, hold)
        on = fired | stay
        out[idx] = on
        last = pd.Series(pd.NaT, index=today.index, dtype="datetime64[ns]")
        if state is not None:
            last[:] = state.set_index("debtor_id")["last_trigger_on"].reindex(today["debtor_id"]).to_numpy()
        last[fired] = T
        state = pd.DataFrame({"debtor_id": today["debtor_id"], "on_list": on, "last_trigger_on": last})
        previous = today
    return out


def mean_multiple(k: float) -> Extra:
    def extra(today: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        live = ~today["in_default"].to_numpy(dtype=bool)
        p = today["pd"].to_numpy(dtype="float64")
        level = p[live].mean() if live.any() else np.inf
        return p >= k * level, np.zeros(len(p), dtype=bool)

    return extra


def reference_cut(reference: dict, share: float) -> float:
    """The PD at the reference's (1 - share) quantile: its stored decile cut (share in 0.1 steps)."""
    cuts = reference["score"]["cuts"]
    k = round((1 - share) * (len(cuts) + 1)) - 1
    if not (0 <= k < len(cuts)) or abs((k + 1) / (len(cuts) + 1) - (1 - share)) > 1e-9:
        raise ValueError(f"share {share} is not on the reference's {len(cuts) + 1} bins")
    return float(cuts[k])


def reference_rule(reference: dict, share: float, stay: float | None, min_pd: float) -> Extra:
    fire_at = max(reference_cut(reference, share), min_pd)
    hold_at = max(reference_cut(reference, stay), min_pd) if stay else np.inf

    def extra(today: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        p = today["pd"].to_numpy(dtype="float64")
        return p >= fire_at, p >= hold_at

    return extra


def rules(reference: dict | None) -> dict[str, tuple[object, Extra | None]]:
    off = {
        "triggers.threshold.enabled": False,
        "triggers.migration.enabled": False,
        "triggers.new_entrant.enabled": False,
    }
    out: dict[str, tuple[object, Extra | None]] = {"default": (_config(), None)}
    for top, stay, min_pd in [
        (0.05, None, 0.01), (0.05, 0.10, 0.01), (0.05, 0.10, 0.005), (0.10, None, 0.01), (0.10, 0.20, 0.01),
        (0.10, 0.20, 0.005), (0.10, 0.20, 0.0),
    ]:  # fmt: skip
        name = f"rank {top:g}/min {min_pd:g}" + (f" +stay {stay:g}" if stay else "")
        changes = {
            "triggers.rank.enabled": True,
            "triggers.rank.top_share": top,
            "triggers.rank.min_pd": min_pd,
        }
        if stay:
            changes["watchlist.stay_top_share"] = stay
        out[name] = (_config(**changes), None)
    for top, stay, min_pd in [(0.05, 0.10, 0.0), (0.10, 0.20, 0.0), (0.10, 0.20, 0.005)]:
        changes = {"triggers.rank.enabled": True, "triggers.rank.top_share": top, "triggers.rank.min_pd": min_pd,
                   "watchlist.stay_top_share": stay, **off}  # fmt: skip
        out[f"rank-only {top:g}/min {min_pd:g} +stay {stay:g}"] = (_config(**changes), None)
    for k in (3.0,):
        out[f"mean x{k:g}"] = (_config(), mean_multiple(k))
    if reference is not None and len(reference["score"]["cuts"]) == 9:  # deciles (no tied cuts)
        for top, stay in [(0.1, None), (0.1, 0.2), (0.2, None)]:
            name = f"ref {top:g}" + (f" +stay {stay:g}" if stay else "")
            out[name] = (_config(), reference_rule(reference, top, stay, 0.0))
    return out


def _figures(live: pd.DataFrame, flagged: np.ndarray, w: np.ndarray, leads: pd.DataFrame, wl: np.ndarray):
    bad = live["bad"].to_numpy()
    hit = flagged & bad
    strict = leads["flagged_last"].to_numpy()
    lead = leads["lead_days"].to_numpy()
    return {
        "precision": float((w * hit).sum() / (w * flagged).sum()) if (w * flagged).sum() else np.nan,
        "recall": float((w * hit).sum() / (w * bad).sum()),
        "lead": _wmedian(lead[strict], wl[strict]),
    }


def _wmedian(x: np.ndarray, w: np.ndarray) -> float:
    keep = w > 0
    x, w = x[keep], w[keep]
    if not len(x):
        return np.nan
    o = np.argsort(x, kind="stable")
    x, c = x[o], np.cumsum(w[o])
    half = c[-1] / 2
    i = int(np.searchsorted(c, half, side="left"))
    if np.isclose(c[i], half) and i + 1 < len(x):  # even total weight: midpoint, as pandas' median
        return float((x[i] + x[i + 1]) / 2)
    return float(x[i])


def evaluate(book: str, new: Path, old: Path | None, ref: Path | None, reps: int, seed: int) -> dict:
    from pipelines.backtest import _lead_times

    panel = pd.read_parquet(new / "backtest_rows.parquet")
    panel = panel.assign(debtor_id=panel["debtor_id"].astype("string"))
    reference = json.loads(ref.read_text()) if ref else None
    dates = [pd.Timestamp(d) for d in sorted(panel["as_of"].unique())]
    sides: dict[str, np.ndarray] = {}
    for name, (cfg, extra) in rules(reference).items():
        sides[name] = flag(panel, cfg, extra)
    stored = panel["flagged"].to_numpy(dtype=bool)
    check = bool((sides["default"] == stored).all())
    same = [name for name, f in sides.items() if (f == stored).all()]  # the rules the replay itself used
    panels = {"today": panel}
    if old is not None:
        op = pd.read_parquet(old / "backtest_rows.parquet")
        op = op.assign(debtor_id=op["debtor_id"].astype("string"))
        panels["old"] = op
    ids = pd.Index(pd.concat([p["debtor_id"] for p in panels.values()]).drop_duplicates())

    def prepared(p: pd.DataFrame, flagged: np.ndarray):
        q = p.assign(flagged=flagged)
        leads = _lead_times(q, dates)
        obs = (q["horizon_observed"] & ~q["in_default"]).to_numpy()
        live = q.loc[obs].assign(bad=(q.loc[obs, "label"].fillna(0).astype(int) == 1).to_numpy())
        per_night = live.groupby("as_of")["flagged"].sum()
        return {
            "live": live,
            "flags": live["flagged"].to_numpy(dtype=bool),
            "codes": ids.get_indexer(live["debtor_id"]),
            "leads": leads,
            "lcodes": ids.get_indexer(leads["debtor_id"].astype("string")),
            "per_night": (float(per_night.mean()), int(per_night.min()), int(per_night.max())),
            "first_flag": float(leads.loc[leads["any_flag"], "first_flag_lead_days"].median()),
            "strict_share": float(leads["flagged_last"].mean()),
            "live_per_night": float(live.groupby("as_of").size().mean()),
            "base_rate": float(live["bad"].mean()),
        }

    prep = {name: prepared(panel, f) for name, f in sides.items()}
    if "old" in panels:
        prep["old"] = prepared(panels["old"], panels["old"]["flagged"].to_numpy(dtype=bool))
    ones = {k: _figures(v["live"], v["flags"], np.ones(len(v["live"])), v["leads"], np.ones(len(v["leads"])))
            for k, v in prep.items()}  # fmt: skip
    rng = np.random.default_rng(seed)
    draws: dict[str, list[dict]] = {k: [] for k in prep}
    for _ in range(reps):
        wd = rng.poisson(1.0, len(ids)).astype("float64")
        for k, v in prep.items():
            draws[k].append(_figures(v["live"], v["flags"], wd[v["codes"]], v["leads"], wd[v["lcodes"]]))

    def interval(a: str, b: str, metric: str) -> list[float]:
        d = np.array([x[metric] - y[metric] for x, y in zip(draws[a], draws[b], strict=True)])
        lo, hi = np.nanquantile(d, [0.025, 0.975])
        return [ones[a][metric] - ones[b][metric], float(lo), float(hi)]

    out = {"book": book, "default_equals_stored": check, "stored_equals": same, "live_per_night": prep["default"]["live_per_night"],
           "rules": {}}  # fmt: skip
    for k, v in prep.items():
        row = {
            **ones[k],
            "first_flag": v["first_flag"],
            "strict_share": v["strict_share"],
            "per_night": v["per_night"],
            "lift": ones[k]["precision"] / v["base_rate"],
            "list_share": v["per_night"][0] / v["live_per_night"],
        }
        if k != "default":
            row["vs_default"] = {m: interval(k, "default", m) for m in ("precision", "recall", "lead")}
        if "old" in prep and k != "old":
            row["vs_old"] = {m: interval(k, "old", m) for m in ("precision", "recall", "lead")}
        out["rules"][k] = row
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("books", nargs="+", help="NAME=NEW_BT[,OLD_BT[,REFERENCE_JSON]] (empty OLD_BT allowed)")
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    results = []
    for spec in args.books:
        name, paths = spec.split("=", 1)
        parts = [Path(p) if p else None for p in paths.split(",")] + [None, None]
        res = evaluate(name, parts[0], parts[1], parts[2], args.reps, args.seed)
        results.append(res)
        print(f"## {name} (stored flags = {', '.join(res['stored_equals']) or 'none of these rules'}; "
              f"live per month-end {res['live_per_night']:.0f})")  # fmt: skip
        print("| rule | precision (x base rate) | recall | strict lead (share) | first-flag | list / month-end (min-max; share of live) |"
              " recall - default [95 %] | precision - default | lead - default | recall - old | precision - old |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for rule, r in res["rules"].items():

            def iv(key: str, m: str, digits: int = 3, r=r) -> str:
                if key not in r:
                    return ""
                d = r[key][m]
                return f"{d[0]:+.{digits}f} [{d[1]:+.{digits}f}, {d[2]:+.{digits}f}]"

            n = r["per_night"]
            print(f"| {rule} | {r['precision']:.3f} ({r['lift']:.1f}x) | {r['recall']:.3f} | {r['lead']:.1f} d ({r['strict_share']:.2f}) "
                  f"| {r['first_flag']:.1f} d | {n[0]:.0f} ({n[1]}-{n[2]}; {r['list_share']:.3f}) | {iv('vs_default', 'recall')} "
                  f"| {iv('vs_default', 'precision')} | {iv('vs_default', 'lead', 1)} | {iv('vs_old', 'recall')} "
                  f"| {iv('vs_old', 'precision')} |")  # fmt: skip
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(json.dumps({r["book"]: {k: [round(v["precision"], 4), round(v["recall"], 4), v["lead"]]
                                  for k, v in r["rules"].items()} for r in results}))  # fmt: skip


if __name__ == "__main__":
    main()
