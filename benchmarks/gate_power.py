"""What the gate's comparison with the champion was worth on small books' retrains (issue 9 part 4,
s42-gate): the figures ``models.gate_words.comparison_power`` states with every decision.

Reads ``benchmarks/retrain_gate.py`` JSON outputs (each retrain step's decision, the rows the gate compared
the champion on, and the forward verdict on the next 6 observed month-ends) and counts, over the steps
after a book's first model:

- steps where the gate compared the challenger with the champion (``champion_compared``): how many of the
  forward-worse ones it called worse ("FAIL worse than the champion"), how many of the others, and the range
  of defaults compared;
- steps without a comparison (not refused as older data): how many forward-worse ones the other checks
  refused, and how many others;
- both split at ``--split`` defaults compared.

    python benchmarks/gate_power.py /work/bench/s39-smallgate/before/all.json \\
        /work/bench/s40-gate/decide/today.json /work/bench/s41-gate/decide/today.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def steps(paths: list[Path]) -> list[dict]:
    """One row per retrain step (not T0) with a forward verdict: defaults compared (None: no comparison),
    the forward verdict, whether the champion comparison failed, whether the step was refused, and
    whether it was refused as older data."""
    out = []
    for path in paths:
        for book in json.loads(path.read_text()):
            for s in book["steps"]:
                if s["step"] == "T0" or "forward_verdict" not in s:
                    continue
                compared = s.get("champion_compared") or {}
                out.append(
                    {
                        "book": book["book"],
                        "step": s["step"],
                        "defaults": compared.get("defaults"),
                        "verdict": s["forward_verdict"],
                        "called_worse": any(
                            r.startswith("FAIL worse than the champion") for r in s["reasons"]
                        ),
                        "refused": not s["promoted"],
                        "older": any("older data than champion" in r for r in s["reasons"]),
                    }
                )
    return out


def tally(rows: list[dict], key: str) -> str:
    worse = [r for r in rows if r["verdict"] == "worse"]
    others = [r for r in rows if r["verdict"] != "worse"]
    return (
        f"{sum(r[key] for r in worse)} of {len(worse)} forward-worse, "
        f"{sum(r[key] for r in others)} of {len(others)} others"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="+", type=Path, help="retrain_gate.py --json outputs")
    ap.add_argument(
        "--split", type=int, default=20, help="also split the compared steps at this many defaults"
    )
    args = ap.parse_args()
    rows = steps(args.json)
    compared = [r for r in rows if r["defaults"] is not None]
    bare = [r for r in rows if r["defaults"] is None and not r["older"]]
    print(f"retrain steps: {len(rows)} ({sum(r['verdict'] == 'worse' for r in rows)} forward-worse)")
    if compared:
        low, high = min(r["defaults"] for r in compared), max(r["defaults"] for r in compared)
        print(f"compared with the champion: {len(compared)} steps, {low} to {high} defaults compared")
        print(f"  called worse by the comparison: {tally(compared, 'called_worse')}")
        for name, part in (
            (f"under {args.split} defaults", [r for r in compared if r["defaults"] < args.split]),
            (f"{args.split} or more", [r for r in compared if r["defaults"] >= args.split]),
        ):
            print(f"  {name}: {tally(part, 'called_worse')}")
    print(f"no comparison (not older data): {len(bare)} steps")
    print(f"  refused by the other checks: {tally(bare, 'refused')}")


if __name__ == "__main__":
    main()
