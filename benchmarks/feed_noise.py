"""How much the feed-check figures move between consecutive month-end runs of a healthy book.

For generated books of several sizes (``ews generate``), builds every month-end snapshot with the
nightly feature code (default share and exposure of the debtors existing at that date) and
compares each month with the one before, as a monthly backfill would, using the default limits
of ``conf/nightly.yaml`` (``feed_checks.previous``). A healthy book should trip no check.

    nice .venv/bin/python benchmarks/feed_noise.py --debtors 100,1000,10000 --months 36
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from pipelines.config.nightly import NightlyConfig
from pipelines.config.project import ProjectConfig
from pipelines.feed_checks import evaluate_feed, training_figures, training_reference
from pipelines.flows.train import build_dataset
from pipelines.ingest import ingest_dir


def month_changes(data: Path, regime: str) -> pd.DataFrame:
    """One row per month-end after the first: figures, changes and the checks that would fail."""
    result = ingest_dir(data, None)
    months = pd.date_range(
        result.portfolio.invoices["issue_date"].min(),
        result.portfolio.invoices["issue_date"].max(),
        freq="ME",
    )
    dataset = build_dataset(result.portfolio, list(months[1:]), ProjectConfig())
    ref = training_reference(result.manifest["tables"], result.portfolio, dataset)
    cfg = NightlyConfig(feed_checks={"enabled": False})
    rows = []
    snaps = [pd.Timestamp(s["as_of"]).date() for s in ref["snapshots"]]
    for prev_day, day in zip(snaps, snaps[1:], strict=False):
        prev, _ = training_figures(ref, prev_day)
        today, _ = training_figures(ref, day)
        feed = evaluate_feed(today, cfg, previous=("prev", prev), training=None)
        failed = [c["check"] for c in feed["checks"] if c["status"] == "failed"]
        rows.append(
            {
                "regime": regime,
                "as_of": day,
                "debtors": today["debtors"],
                "default_share": today["default_share"],
                "default_change_pp": 100 * (today["default_share"] - prev["default_share"]),
                "exposure_ratio": today["exposure"] / prev["exposure"] if prev["exposure"] else float("nan"),
                # the open balance of the debtors in default (s24), month over month
                "default_exposure_ratio": today["default_exposure"] / prev["default_exposure"]
                if prev["default_exposure"]
                else float("nan"),
                "defaulted": round(today["default_share"] * today["debtors"]),
                "failed": ", ".join(failed),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", default="100,1000,10000")
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--regimes", default="base,stress")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for regime in args.regimes.split(","):
            for n in [int(x) for x in args.debtors.split(",")]:
                out = Path(tmp) / f"{regime}_{n}"
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pipelines.cli",
                        "generate",
                        "--regime",
                        regime,
                        "--debtors",
                        str(n),
                    ]
                    + ["--months", str(args.months), "--seed", str(args.seed), "--out", str(out)],
                    check=True,
                    capture_output=True,
                )
                ch = month_changes(out, regime)
                ch.insert(1, "book", n)
                frames.append(ch)
    allc = pd.concat(frames, ignore_index=True)
    summary = allc.groupby(["regime", "book"]).agg(
        months=("as_of", "size"),
        debtors_last=("debtors", "last"),
        default_share_max=("default_share", "max"),
        max_abs_default_change_pp=("default_change_pp", lambda s: s.abs().max()),
        exposure_ratio_min=("exposure_ratio", "min"),
        exposure_ratio_max=("exposure_ratio", "max"),
        defaulted_last=("defaulted", "last"),
        default_exposure_ratio_min=("default_exposure_ratio", "min"),
        default_exposure_ratio_max=("default_exposure_ratio", "max"),
        months_failing=("failed", lambda s: int((s != "").sum())),
    )
    pd.set_option("display.width", 200)
    print(summary.round(3).to_string())
    bad = allc[allc["failed"] != ""]
    if len(bad):
        print("\nmonths that would be refused:")
        print(bad.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
