"""The ceiling of the small-book gate (issue 9 part 4, s41-gate): on pickled retrain steps of
``benchmarks/retrain_gate.py`` (its ``--work`` folder, fits already made), how often does a comparison the
gate could make (only what it sees at the challenger's cut) agree with the forward verdict?

Signals per step (challenger X vs the champion C that the gate kept, read from a retrain_gate.py JSON):

- ``A``: X's test window, C's shipped model on every X test row (no leak filter: leans to C);
- ``B``: rows both held out, X's out-of-time PDs vs C's own out-of-time PDs;
- ``C``: X's test rows wholly after what C observed (roll-rate: its cut; LightGBM: last labelled + 90 d);
- ``D``: X's new test month-ends (after C's last test month-end), C's shipped model;
- ``U``: unpaired, X's test-window log-loss / AUC minus C's (each on its own window);
- ``R`` (``--refit``): both specifications refitted at an earlier origin (X's spec at o, C's spec at
  o - the lag between them), scored on the last ``--m`` labelled month-ends at X's cut, which neither
  refit saw.

Each paired signal: ``worse`` when the log-loss difference interval lies above 0 or the AUC one below 0
(``retrain_gate.verdict``); ``lean``: the point log-loss difference > 0.

    nice -n 10 .venv/bin/python benchmarks/retrain_ceiling.py --work /work/bench/s40-gate/books \\
        --decisions /work/bench/s40-gate/decide/today.json --books gen:base:300:36:3481 [--refit] \\
        --out /tmp/ceiling.json
    python benchmarks/retrain_ceiling.py --tally /tmp/ceiling.json [more.json ...]
"""

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

code = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(code), str(code / "benchmarks")]
import retrain_gate as rg
from train_forward import as_of_cut

from pipelines.config import load_config
from pipelines.config.train import TrainConfig

cfg = load_config(code / "conf" / "train.yaml", expect=TrainConfig)
H = rg.HORIZON
ap = argparse.ArgumentParser()
ap.add_argument("--work", type=Path)
ap.add_argument("--decisions", type=Path)
ap.add_argument("--books", nargs="+")
ap.add_argument("--refit", action="store_true")
ap.add_argument("--m", type=int, default=3)
ap.add_argument("--boot", type=int, default=200)
ap.add_argument("--out", type=Path)
ap.add_argument("--tally", nargs="+", type=Path, help="tally these outputs instead")
a = ap.parse_args()
dec = {} if a.tally else {r["book"]: r for r in json.loads(a.decisions.read_text())}


def seen_until(o):
    t = pd.Timestamp(o.train_last_as_of)
    return t if o.kind == "rollrate" else t + pd.Timedelta(days=H)


def sig(y, px, pc, g):
    if len(y) == 0 or y.min() == y.max():
        return {"rows": int(len(y)), "defaults": int(y.sum()), "verdict": "n/a"}
    fw = rg.forward(y, px, pc, g, a.boot, 7)
    return {
        "rows": int(len(y)),
        "defaults": int(y.sum()),
        "verdict": rg.verdict(fw),
        "d_ll": fw["logloss"]["diff"],
        "d_ll_ci": fw["logloss"]["diff_ci"],
        "d_auc": fw["auc"]["diff"],
        "d_auc_ci": fw["auc"]["diff_ci"],
        "lean": "worse" if fw["logloss"]["diff"] > 0 else "better",
    }


def spec_data(frame, name, cut, ends):
    base = as_of_cut(frame, cut, H)
    if name == "short":
        i = ends.index(cut)
        keep = ends[max(0, i - 10 + 1) : i + 1]
        return base[base["as_of"].isin(keep)]
    if name == "mix":
        return rg.mixed(base, 0.5, 11)
    return base


out = []
for spec in [] if a.tally else a.books:
    t0 = time.time()
    frame = rg.load_frame(spec, a.work, cfg)
    where = a.work / "outcomes" / spec.replace(":", "-")
    fits = {
        n: pickle.loads((where / f"{n}.pkl").read_bytes())
        for n in ("T0", "T1", "T3", "short", "mix")
        if (where / f"{n}.pkl").exists()
    }
    ends = sorted(pd.Timestamp(t) for t in frame["as_of"].unique())
    swap = rg.mixed(frame, 0.5, 11).set_index(rg.KEYS)
    refits = {}
    for s in dec[spec]["steps"]:
        if s["step"] == "T0" or "forward" not in s:
            continue
        name, cname = s["step"], s["champion_before"]
        X, C = fits[name], fits[cname]
        cut, ccut = pd.Timestamp(s["cut"]), pd.Timestamp(dec[spec]["cuts"][cname])
        data = as_of_cut(frame, cut, H).set_index(rg.KEYS)
        t = X.test.copy()
        t["debtor_id"] = t["debtor_id"].astype(str)
        t["as_of"] = pd.to_datetime(t["as_of"])
        y = t["y"].to_numpy().astype(int)
        g = t["debtor_id"].to_numpy()
        px = t["pd"].to_numpy()
        rows = data.loc[pd.MultiIndex.from_frame(t[rg.KEYS])].reset_index()
        pc_ship = rg.predict(C, rows)
        r = {
            "book": spec,
            "step": name,
            "champion": cname,
            "x_kind": rg.describe(X),
            "c_kind": rg.describe(C),
            "forward_verdict": s["forward_verdict"],
            "today_promoted": s["promoted"],
            "fwd_d_ll": s["forward"]["logloss"]["diff"],
            "fwd_defaults": s["forward"]["defaults"],
        }
        r["A"] = sig(y, px, pc_ship, g)
        ct = C.test.copy()
        ct["debtor_id"] = ct["debtor_id"].astype(str)
        ct["as_of"] = pd.to_datetime(ct["as_of"])
        m = (
            t[rg.KEYS]
            .merge(ct[rg.KEYS + ["pd"]].rename(columns={"pd": "pc"}), on=rg.KEYS, how="left")["pc"]
            .to_numpy()
        )
        both = np.isfinite(m)
        r["B"] = sig(y[both], px[both], m[both], g[both])
        after = (t["as_of"] > seen_until(C)).to_numpy()
        r["C"] = sig(y[after], px[after], pc_ship[after], g[after])
        new = (t["as_of"] > ct["as_of"].max()).to_numpy()
        r["D"] = sig(y[new], px[new], pc_ship[new], g[new])
        r["U"] = {
            "d_ll": X.metrics["logloss"] - C.metrics["logloss"],
            "d_auc": X.metrics["auc"] - C.metrics["auc"],
            "x_auc_ci": list(X.intervals["challenger"]["auc"]) if "challenger" in X.intervals else None,
        }
        # visible facts
        r["x_months"] = int(X.test["as_of"].nunique())
        r["x_test_defaults"] = int(X.test["y"].sum())
        r["x_train_months"] = len(spec_data(frame, name, cut, ends)["as_of"].unique())
        r["c_train_months"] = len(as_of_cut(frame, ccut, H)["as_of"].unique())
        r["x_labelled_defaults"] = int(spec_data(frame, name, cut, ends)["label"].fillna(0).astype(int).sum())
        if a.refit:
            from models.split import BookTooSmallError
            from pipelines.flows.train import fit_pd

            obs = sorted(
                pd.Timestamp(v) for v in as_of_cut(frame, cut, H).query("horizon_observed")["as_of"].unique()
            )
            pseudo = obs[-a.m :]
            o = ends[ends.index(pseudo[0]) - 1]
            lag = ends.index(cut) - ends.index(ccut)
            oc = ends[ends.index(o) - lag]

            def get(key, nm, c, refits=refits, frame=frame, ends=ends):
                if key not in refits:
                    try:
                        refits[key] = fit_pd(
                            spec_data(frame, nm, c, ends), cfg, H, rg.PROJECT.default_definition
                        )
                    except BookTooSmallError as exc:
                        refits[key] = str(exc)[:120]
                    except Exception as exc:  # noqa: BLE001
                        refits[key] = f"{type(exc).__name__}: {exc}"[:160]
                return refits[key]

            rx = get(
                (name if name in ("short", "mix") else "full", o),
                name if name in ("short", "mix") else "T",
                o,
            )
            rc = get(("full", oc), "T", oc)
            if isinstance(rx, str) or isinstance(rc, str):
                r["R"] = {
                    "verdict": "n/a",
                    "why": rx if isinstance(rx, str) else rc,
                    "origin": str(o.date()),
                    "champ_origin": str(oc.date()),
                }
            else:
                lab = as_of_cut(frame, cut, H)
                pr = lab[lab["as_of"].isin(pseudo) & lab["label"].notna()]
                yy = pr["label"].astype(int).to_numpy()
                mine = swap.loc[pd.MultiIndex.from_frame(pr[rg.KEYS])].reset_index() if name == "mix" else pr
                r["R"] = {
                    **sig(yy, rg.predict(rx, mine), rg.predict(rc, pr), pr["debtor_id"].to_numpy()),
                    "origin": str(o.date()),
                    "champ_origin": str(oc.date()),
                    "x_kind": rg.describe(rx),
                    "c_kind": rg.describe(rc),
                }
        out.append(r)
        print(
            spec,
            name,
            r["forward_verdict"],
            "today",
            "P" if r["today_promoted"] else "R",
            *(f"{k}:{r[k]['verdict']}" for k in "ABCD" + ("R" if a.refit else "")),
            flush=True,
        )
    print(spec, "done", round(time.time() - t0), "s", flush=True)
    a.out.write_text(json.dumps(out, indent=1, default=str))


def tally() -> None:
    """Per signal: of the forward-worse steps how many it calls worse (significant) or leans worse
    (point), and of the other steps how many it calls worse (false alarms)."""
    from collections import Counter

    rows = [r for f in a.tally for r in json.loads(f.read_text())]

    def v(r, k, mode):
        s = r.get(k)
        if not s or s.get("verdict") in (None, "n/a"):
            return None
        if mode == "sig":
            return s["verdict"] == "worse"
        return s["d_ll"] > 0

    W = [r for r in rows if r["forward_verdict"] == "worse"]
    H = [r for r in rows if r["forward_verdict"] != "worse"]
    print(
        f"steps {len(rows)}: forward-worse {len(W)} ({', '.join(sorted(set(r['step'] for r in W)))}), other {len(H)}"
    )
    print("worse by step:", Counter(r["step"] for r in W), "other by step:", Counter(r["step"] for r in H))
    print(
        "today refuses worse:",
        sum(not r["today_promoted"] for r in W),
        "of",
        len(W),
        "; refuses other:",
        sum(not r["today_promoted"] for r in H),
        "of",
        len(H),
    )
    keys = [k for k in "ABCDR" if any(k in r for r in rows)]
    for mode in ("sig", "lean"):
        for k in keys:
            w = [v(r, k, mode) for r in W]
            h = [v(r, k, mode) for r in H]
            print(
                f"{mode:4} {k}: available worse {sum(x is not None for x in w)}/{len(W)}, flags {sum(bool(x) for x in w)};"
                f" other available {sum(x is not None for x in h)}/{len(H)}, flags {sum(bool(x) for x in h)}"
            )
        anyw = [any(v(r, k, mode) for k in keys) for r in W]
        anyh = [any(v(r, k, mode) for k in keys) for r in H]
        print(
            f"{mode:4} ANY of {keys}: worse flagged {sum(anyw)}/{len(W)} ({sum(anyw) / max(1, len(W)):.0%}), other flagged {sum(anyh)}/{len(H)}"
        )
        # paired comparisons free of the champion-leaning bias: B (both out-of-time) and R (both refitted)
        fair = [k for k in ("B", "R") if k in keys]
        fw = [any(v(r, k, mode) for k in fair) for r in W]
        fh = [any(v(r, k, mode) for k in fair) for r in H]
        print(
            f"{mode:4} ANY of unbiased {fair}: worse flagged {sum(fw)}/{len(W)} ({sum(fw) / max(1, len(W)):.0%}), other flagged {sum(fh)}/{len(H)}"
        )
    print("\nper forward-worse step:")
    for r in W:
        print(
            f"  {r['book']:24} {r['step']:5} {r['x_kind'][:22]:22} vs {r['c_kind'][:22]:22} today {'P' if r['today_promoted'] else 'R'} "
            + " ".join(f"{k}:{(r.get(k) or {}).get('verdict', '-')}" for k in keys)
            + f" | months {r['x_train_months']} vs {r['c_train_months']}"
        )


if a.tally:
    tally()
