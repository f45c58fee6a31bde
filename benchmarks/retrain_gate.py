"""A small book's second and later `ews train` against its champion (issue 9 part 4, s39-smallgate).

Per book the frame is cut at four dates, as a user would have had it (``train_forward.as_of_cut``:
earlier rows, later labels masked): ``c0`` = the ``--forward`` + 3 observed month-ends before the
last one, ``c1`` = c0 + 1 month-end, ``c3`` = c0 + 3 month-ends. At each cut the shipped training
(``pipelines.flows.train.fit_pd``: the LightGBM protocol, or the small book's roll-rate model /
all-labelled LightGBM) is fitted, then the train flow's own ``champion_on_test`` and ``gate`` run
(their ``.fn``, with the registry replaced by the previous outcome in memory: the champion's
``ews.trained_through`` tag is its ``train_last_as_of``, its PD its shipped estimator's), so the
decision, its reasons and the rows it compared on are the product's:

- ``T0`` at c0: the first model (no champion);
- ``T1`` at c1 against T0 (if promoted, else the champion stays);
- ``T3`` at c3 against the champion after T1;
- two deliberately worse challengers at c3 against the same champion: ``short`` (the same training
  on the last ``--short`` month-ends only) and ``mix`` (half the rows' inputs swapped with another
  debtor's at the same month-end, in training and in the challenger's own scoring; the champion
  reads the true rows).

Forward, each challenger and the champion it faced score the labelled rows of the ``--forward``
observed month-ends after its cut (never seen by either): AUC, Brier and log-loss of each, and the
challenger - champion differences with 95 % paired debtor-bootstrap intervals.

    flock /tmp/ews-heavy.lock nice -n 10 .venv/bin/python benchmarks/retrain_gate.py \\
        --work /work/bench/s39-smallgate/books --books gen:base:300:36:3415 unseen:small:253 third:300:24:56 \\
        --json /work/bench/s39-smallgate/out.json

Books: ``gen:REGIME:DEBTORS:MONTHS:SEED`` (``ews generate``), ``unseen:small:SEED``
(``benchmarks/unseen_book.py``), ``third:DEBTORS:MONTHS:SEED`` (``benchmarks/third_book.py``).
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
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from train_forward import as_of_cut  # noqa: E402

from models.bootstrap import debtor_draws, percentile_interval  # noqa: E402
from models.split import BookTooSmallError  # noqa: E402
from models.train import prepare_matrix  # noqa: E402
from pipelines.config import load_config  # noqa: E402
from pipelines.config.project import ProjectConfig  # noqa: E402
from pipelines.config.train import TrainConfig  # noqa: E402

KEYS = ["debtor_id", "as_of"]
PROJECT = ProjectConfig()
HORIZON = PROJECT.default_definition.horizon_days
KEEP = {"debtor_id", "as_of", "label", "horizon_observed", "in_default_at_asof", "segment"}


def load_frame(spec: str, work: Path, cfg: TrainConfig) -> pd.DataFrame:
    parts = spec.split(":")
    if parts[0] == "gen":
        import small_books

        _, regime, debtors, months, seed = parts
        frame, _ = small_books.book_frame(regime, int(seed), int(debtors), int(months), work / "gen", cfg)
        return frame
    if parts[0] == "unseen":
        from small_choice import load_book

        frame, _, _ = load_book(f"unseen:{parts[1]}:{parts[2]}", work, 30, cfg)
        return frame
    if parts[0] == "third":
        import third_book

        from pipelines.flows.train import build_dataset, snapshot_dates
        from pipelines.ingest import ingest_dir

        _, debtors, months, seed = parts
        out = work / "third" / f"third-{debtors}x{months}-s{seed}"
        if not (out / "generate-summary.json").exists():
            third_book.write_book(int(debtors), int(months), int(seed), out)
        cache = out / "frame.parquet"
        if cache.exists():
            frame = pd.read_parquet(cache)
        else:
            portfolio = ingest_dir(out, None).portfolio
            frame = build_dataset(portfolio, snapshot_dates(portfolio, cfg), PROJECT)
            frame.to_parquet(cache)
        return frame.assign(debtor_id=frame["debtor_id"].astype(str), as_of=pd.to_datetime(frame["as_of"]))
    raise SystemExit(f"unknown book spec {spec}")


def shipped(outcome: Any) -> tuple[Any, list[str], dict]:
    """The estimator the registry would store, its input columns and categories."""
    if outcome.kind == "rollrate":
        return outcome.model, [str(f) for f in outcome.model.feature_names_in_], {}
    return outcome.final_estimator, list(outcome.feature_names), dict(outcome.categories or {})


def predict(outcome: Any, rows: pd.DataFrame) -> np.ndarray:
    est, names, cats = shipped(outcome)
    return np.asarray(est.predict_proba(prepare_matrix(rows, names, cats))[:, 1], dtype="float64")


class InMemory:
    """Stands for ``registry.load_model_version('champion', ...)``'s answer."""

    def __init__(self, outcome: Any, version: str) -> None:
        from pipelines.adapters.registry import TRAINED_THROUGH_TAG

        self.outcome, self.version = outcome, version
        self.tags = {TRAINED_THROUGH_TAG: pd.Timestamp(outcome.train_last_as_of).strftime("%Y-%m-%d")}
        _, self.feature_names, self.categories = shipped(outcome)

    def test_pds(self) -> pd.DataFrame:
        """What ``registry.load_test_pds`` reads back from the version's logged test rows."""
        import io

        from pipelines.adapters.registry import test_pds_csv

        rows = pd.read_csv(io.StringIO(test_pds_csv(self.outcome.test)), dtype={"debtor_id": "string"})
        return rows.assign(as_of=pd.to_datetime(rows["as_of"]))

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        est = shipped(self.outcome)[0]
        return np.asarray(est.predict_proba(X)[:, 1], dtype="float64")


def product_gate(outcome: Any, dataset: pd.DataFrame, champ: InMemory | None, cfg: TrainConfig, version: str):
    """The train flow's champion_on_test + gate (their bodies), the registry in memory."""
    from types import SimpleNamespace

    import pipelines.adapters.registry as registry
    from pipelines.flows import train as flow

    def load(alias: str, name: str, tracking_uri: Any = None) -> Any:
        if champ is None:
            raise registry.NoChampionError("no champion")
        return champ

    saved = registry.load_model_version, registry.record_gate, registry.promote_hint
    registry.load_model_version = load
    registry.record_gate = lambda *a, **k: None
    registry.promote_hint = lambda *a, **k: ""
    had = hasattr(registry, "load_test_pds")
    if had:  # the code under test logs a version's test rows (session 39 on)
        saved_pds = registry.load_test_pds
        registry.load_test_pds = lambda loaded: loaded.test_pds()
    try:
        champion = flow.champion_on_test.fn(outcome, dataset, cfg, PROJECT)
        decision = flow.gate.fn(SimpleNamespace(version=version), outcome, champion, cfg, PROJECT)
    finally:
        registry.load_model_version, registry.record_gate, registry.promote_hint = saved
        if had:
            registry.load_test_pds = saved_pds
    compared = None
    if champion.pd is not None:
        seen = np.isfinite(champion.pd)
        t = outcome.test
        compared = {
            "rows": int(seen.sum()),
            "defaults": int(t["y"].to_numpy()[seen].sum()),
            "month_ends": sorted({f"{pd.Timestamp(d).date()}" for d in t["as_of"].to_numpy()[seen]}),
        }
    held = getattr(champion, "held_pd", None)
    if held is not None:
        both = np.isfinite(held)
        t = outcome.test
        compared = {
            **(compared or {}),
            "held_rows": int(both.sum()),
            "held_defaults": int(t["y"].to_numpy()[both].sum()),
        }
    return decision, champion, compared


def metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    w = np.ones_like(p) if w is None else w
    pc = np.clip(p, 1e-15, 1 - 1e-15)
    ll = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    auc = float(roc_auc_score(y, p, sample_weight=w)) if len(np.unique(y[w > 0])) == 2 else float("nan")
    return {
        "auc": auc,
        "brier": float((w * (p - y) ** 2).sum() / w.sum()),
        "logloss": float((w * ll).sum() / w.sum()),
    }


def forward(y: np.ndarray, a: np.ndarray, b: np.ndarray, groups: np.ndarray, n_boot: int, seed: int) -> dict:
    """Figures of a (challenger) and b (champion) and a - b with paired debtor-bootstrap 95 % intervals."""
    codes, _ = pd.factorize(pd.Series(groups), sort=False)
    n = int(codes.max()) + 1
    ma, mb = metrics(y, a), metrics(y, b)
    out: dict[str, Any] = {"rows": int(len(y)), "defaults": int(y.sum()), "debtors": n}
    draws = {k: [] for k in ("auc", "brier", "logloss")}
    for counts in debtor_draws(n, n_boot, seed):
        w = counts.astype("float64")[codes]
        if len(np.unique(y[w > 0])) < 2:
            continue
        ra, rb = metrics(y, a, w), metrics(y, b, w)
        for k in draws:
            draws[k].append((ra[k], rb[k], ra[k] - rb[k]))
    for k in draws:
        d = np.asarray(draws[k])
        out[k] = {
            "challenger": ma[k],
            "challenger_ci": percentile_interval(d[:, 0]),
            "champion": mb[k],
            "champion_ci": percentile_interval(d[:, 1]),
            "diff": ma[k] - mb[k],
            "diff_ci": percentile_interval(d[:, 2]),
        }
    return out


def verdict(fw: dict) -> str:
    """'worse' / 'better' when the forward log-loss or AUC difference is significant, else 'tie'."""
    ll, auc = fw["logloss"]["diff_ci"], fw["auc"]["diff_ci"]
    worse = ll[0] > 0 or auc[1] < 0
    better = ll[1] < 0 or auc[0] > 0
    if worse and not better:
        return "worse"
    if better and not worse:
        return "better"
    return "mixed" if worse and better else "tie"


def mixed(dataset: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """Half the rows' inputs swapped with another debtor's at the same month-end."""
    rng = np.random.default_rng(seed)
    cols = [c for c in dataset.columns if c not in KEEP and not c.startswith("label")]
    order = np.arange(len(dataset))
    for _, idx in sorted(dataset.groupby("as_of").indices.items()):
        pick = idx[rng.random(len(idx)) < share]
        if len(pick) >= 2:
            order[pick] = rng.permutation(pick)
    out = dataset.copy()
    out[cols] = dataset[cols].iloc[order].set_axis(dataset.index)
    return out


def describe(outcome: Any) -> str:
    kind = outcome.kind
    if kind == "lightgbm" and getattr(outcome, "small_book", None) is not None:
        return (
            "lightgbm (all-labelled)"
            if getattr(outcome.small_book, "all_labelled", False)
            else "lightgbm (small)"
        )
    return kind


def fit_all(spec: str, frame: pd.DataFrame, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    """Phase 1: the five trainings of a book, pickled under ``--work``/outcomes (reused when present)."""
    import pickle

    from pipelines.flows.train import fit_pd

    observed = sorted(
        pd.Timestamp(t) for t in frame.loc[frame["horizon_observed"].astype(bool), "as_of"].unique()
    )
    ends = sorted(pd.Timestamp(t) for t in frame["as_of"].unique())
    c3 = observed[-args.forward - 1]
    i3 = ends.index(c3)
    cuts = {"T0": ends[i3 - 3], "T1": ends[i3 - 2], "T3": c3, "short": c3, "mix": c3}
    base = as_of_cut(frame, c3, HORIZON)
    keep = ends[max(0, i3 - args.short + 1) : i3 + 1]
    data = {
        "T0": lambda: as_of_cut(frame, cuts["T0"], HORIZON),
        "T1": lambda: as_of_cut(frame, cuts["T1"], HORIZON),
        "T3": lambda: base,
        "short": lambda: base[base["as_of"].isin(keep)],
        "mix": lambda: mixed(base, 0.5, 11),
    }
    where = args.work / "outcomes" / spec.replace(":", "-")
    where.mkdir(parents=True, exist_ok=True)
    fitted: dict[str, Any] = {"cuts": cuts, "observed": observed}
    for name, make in data.items():
        path = where / f"{name}.pkl"
        if path.exists():
            fitted[name] = pickle.loads(path.read_bytes())
            continue
        if args.replay:
            raise SystemExit(f"{path} missing: --replay judges stored fits only")
        try:
            outcome: Any = fit_pd(make(), cfg, HORIZON, PROJECT.default_definition)
        except BookTooSmallError as exc:
            outcome = {"refused": str(exc)[:300]}
        path.write_bytes(pickle.dumps(outcome))
        fitted[name] = outcome
    return fitted


def run_book(spec: str, args: argparse.Namespace, cfg: TrainConfig) -> dict[str, Any]:
    t0 = time.process_time()
    frame = load_frame(spec, args.work, cfg)
    fitted = fit_all(spec, frame, args, cfg)
    cuts, observed = fitted["cuts"], fitted["observed"]
    labelled = frame[frame["label"].notna() & frame["horizon_observed"].astype(bool)]
    r: dict[str, Any] = {"book": spec, "cuts": {k: str(v.date()) for k, v in cuts.items()}, "steps": []}
    champion: tuple[str, Any] | None = None
    swap = mixed(frame, 0.5, 11).set_index(KEYS)

    def swapped(rows: pd.DataFrame) -> pd.DataFrame:
        return swap.loc[pd.MultiIndex.from_frame(rows[KEYS])].reset_index()

    def step(name: str) -> Any:
        cut, outcome = cuts[name], fitted[name]
        s: dict[str, Any] = {
            "step": name,
            "cut": str(cut.date()),
            "champion_before": champion[0] if champion else None,
        }
        if isinstance(outcome, dict):
            s.update(outcome)
            r["steps"].append(s)
            return None
        s["kind"] = describe(outcome)
        s["train_last_as_of"] = str(pd.Timestamp(outcome.train_last_as_of).date())
        s["test"] = {
            "rows": int(len(outcome.test)),
            "defaults": int(outcome.test["y"].sum()),
            "month_ends": sorted({f"{pd.Timestamp(d).date()}" for d in outcome.test["as_of"].unique()}),
        }
        s["metrics"] = {
            k: float(outcome.metrics[k]) for k in ("auc", "brier", "logloss", "ece") if k in outcome.metrics
        }
        champ = None if champion is None else InMemory(champion[1], champion[0])
        decision, on_test, compared = product_gate(outcome, as_of_cut(frame, cut, HORIZON), champ, cfg, name)
        s["promoted"] = bool(decision.passed)
        s["summary"] = decision.summary
        s["reasons"] = list(decision.reasons)
        s["champion_compared"] = compared
        s["champion_note"] = on_test.note
        if champion is not None:
            ahead = [t for t in observed if t > cut][: args.forward]
            rows = labelled[labelled["as_of"].isin(ahead)]
            y = rows["label"].astype("int64").to_numpy()
            mine = swapped(rows) if name == "mix" else rows
            fw = forward(
                y,
                predict(outcome, mine),
                predict(champion[1], rows),
                rows["debtor_id"].to_numpy(),
                args.boot,
                7,
            )
            fw["month_ends"] = f"{ahead[0].date()}..{ahead[-1].date()}"
            s["forward"] = fw
            s["forward_verdict"] = verdict(fw)
        r["steps"].append(s)
        return outcome

    first = step("T0")
    if first is not None:
        champion = (
            "T0",
            first,
        )  # the first model: promoted, or a human promotes it (no champion: nothing scored)
        r["steps"][-1]["note"] = (
            "first model: taken as champion whatever the gate said (else nothing is scored)"
        )
        t1 = step("T1")
        if t1 is not None and r["steps"][-1]["promoted"]:
            champion = ("T1", t1)
        for name in ("T3", "short", "mix"):
            step(name)
    r["cpu_s"] = round(time.process_time() - t0, 1)
    return r


def _evidence(s: dict) -> str:
    c = s.get("champion_compared") or {}
    said = []
    if "rows" in c:
        said.append(f"unseen {c['rows']:,} rows / {c['defaults']} def")
    if "held_rows" in c:
        said.append(f"held out by both {c['held_rows']:,} rows / {c['held_defaults']} def")
    if not said and any("older data than champion" in r for r in s.get("reasons", [])):
        said.append("none: refused as older data (its last labelled month-end before the champion's cut)")
    elif not said and s.get("champion_before"):
        said.append(
            "none: "
            + (
                "champion saw every test row"
                if "every test row" in (s.get("champion_note") or "")
                else str(s.get("champion_note"))
            )
        )
    return "; ".join(said) or "-"


def _ci(d: dict, k: str, digits: int) -> str:
    lo, hi = d[k]["diff_ci"]
    return f"{d[k]['diff']:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def table(before: list[dict], after: list[dict]) -> None:
    """One Markdown row per retrain step: the current gate's decision and candidate C's, each with the
    evidence it compared on and the forward figures of the challenger vs the champion it faced."""
    by = {b["book"]: b for b in after}
    print(
        "| book | step | kind | vs | today: decision, evidence | forward (rows / def) | AUC chal / champ | d log-loss | d AUC | d Brier | verdict | C: decision, evidence | C verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    tally = {"worse": [0, 0, 0], "better_blocked": [0, 0], "honest": [0, 0, 0]}
    for b in before:
        a = {s["step"]: s for s in by.get(b["book"], {"steps": []})["steps"]}
        for s in b["steps"]:
            if s["step"] == "T0" or "forward" not in s:
                continue
            fw, t = s["forward"], a.get(s["step"], {})
            dec = "promoted" if s["promoted"] else "refused"
            cdec = ("promoted" if t.get("promoted") else "refused") if t else "n/a"
            print(
                f"| {b['book']} | {s['step']} | {s['kind']} | {s['champion_before']} | {dec}; {_evidence(s)} | "
                f"{fw['month_ends']} ({fw['rows']:,} / {fw['defaults']}) | {fw['auc']['challenger']:.3f} / {fw['auc']['champion']:.3f} | "
                f"{_ci(fw, 'logloss', 4)} | {_ci(fw, 'auc', 3)} | {_ci(fw, 'brier', 5)} | {s['forward_verdict']} | "
                f"{cdec}; {_evidence(t) if t else '-'} | {t.get('forward_verdict', '-')} |"
            )
            if not t:
                continue
            for verdict_, refused, who in (
                (s["forward_verdict"], not s["promoted"], 0),
                (t.get("forward_verdict"), not t["promoted"], 1),
            ):
                if verdict_ == "worse":
                    tally["worse"][who] += refused
                    if who == 1:
                        tally["worse"][2] += 1
            if s["step"] in ("T1", "T3"):
                if t.get("forward_verdict") == "better" and not t["promoted"]:
                    tally["better_blocked"][1] += 1
                if s["forward_verdict"] == "better" and not s["promoted"]:
                    tally["better_blocked"][0] += 1
                if s["promoted"] and t.get("forward_verdict") != "worse":
                    tally["honest"][2] += 1
                    tally["honest"][1] += not t["promoted"]
    print(json.dumps(tally))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path)
    ap.add_argument("--books", nargs="+", default=[])
    ap.add_argument("--forward", type=int, default=6, help="observed month-ends after each cut to score")
    ap.add_argument("--short", type=int, default=10, help="month-ends of the 'short' challenger")
    ap.add_argument("--boot", type=int, default=400)
    ap.add_argument("--config", type=Path, default=ROOT / "conf" / "train.yaml")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--replay", action="store_true", help="judge the pickled fits only (never fit)")
    ap.add_argument(
        "--table",
        nargs=2,
        type=Path,
        metavar=("BEFORE_DIR", "AFTER_DIR"),
        help="print the table of two runs' JSON files",
    )
    args = ap.parse_args()
    if args.table:
        load = lambda d: [r for f in sorted(d.glob("*.json")) for r in json.loads(f.read_text())]  # noqa: E731
        table(load(args.table[0]), load(args.table[1]))
        return
    cfg = load_config(args.config, expect=TrainConfig)
    out = []
    for spec in args.books:
        try:
            r = run_book(spec, args, cfg)
        except Exception as exc:  # noqa: BLE001 - one book's failure must not lose the others'
            import traceback

            traceback.print_exc()
            r = {"book": spec, "error": f"{type(exc).__name__}: {exc}"[:500], "steps": []}
        out.append(r)
        for s in r["steps"]:
            fw = s.get("forward")
            line = (
                f"{spec} {s['step']} cut {s['cut']} {s.get('kind', 'refused')} promoted={s.get('promoted')}"
            )
            if s.get("champion_compared"):
                c = s["champion_compared"]
                if "rows" in c:
                    line += f" vs-champion unseen {c['rows']} rows/{c['defaults']} def"
                if "held_rows" in c:
                    line += f" held {c['held_rows']} rows/{c['held_defaults']} def"
            elif s.get("champion_note"):
                line += f" [{s['champion_note'][:60]}]"
            if fw:
                line += (
                    f" fwd {fw['defaults']} def: dLL {fw['logloss']['diff']:+.4f} "
                    f"[{fw['logloss']['diff_ci'][0]:+.4f}, {fw['logloss']['diff_ci'][1]:+.4f}] "
                    f"dAUC {fw['auc']['diff']:+.4f} [{fw['auc']['diff_ci'][0]:+.4f}, {fw['auc']['diff_ci'][1]:+.4f}] "
                    f"-> {s['forward_verdict']}"
                )
            print(line, flush=True)
        if args.json:
            args.json.write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps({"books": len(out)}))


if __name__ == "__main__":
    main()
