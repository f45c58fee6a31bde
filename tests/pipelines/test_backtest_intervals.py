"""The backtest's 95 % intervals by debtor bootstrap (s38-btci): worked out by hand on a tiny case,
compared with a resampling written out row by row on the hand-built ledger of test_backtest, the counts
each figure rests on, the determinism and the words of the console and the page.

s37-walk (S6) read "queue capture 100.0 %, watchlist recall 87.5 %, median lead 59 days" on a small book
resting on 8 defaults and 3 lead times, with no interval anywhere."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))

from features.params import DefaultDefinition  # noqa: E402
from pipelines.backtest import (  # noqa: E402
    BacktestResult,
    backtest_figures,
    figure_intervals,
    figure_lines,
    replay,
)
from tests.pipelines.test_backtest import CFG, DATES, TRUE_PD, fixed_pd, ledger  # noqa: E402

NO_QUEUE = pd.DataFrame({"as_of": [], "debtor_id": [], "bad_balance": []})
TRUTH = pd.DataFrame(
    [(d, t, TRUE_PD[d]) for d in TRUE_PD for t in DATES], columns=["debtor_id", "month_end", "oracle_pd"]
)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return replay(ledger(), DATES, fixed_pd, CFG, DefaultDefinition())


def test_two_debtors_by_hand() -> None:
    """Debtors X and Y, both flagged and defaulted, lead times 30 and 90 days. A replicate draws 2 debtors
    with replacement: XX (1 in 4), XY or YX (2 in 4), YY (1 in 4); the drawn lead times' median is 30, 60
    or 90. With 2,000 replicates about 500 read 30 and 500 read 90, so the 2.5th and 97.5th percentiles
    are 30 and 90: [30, 90] around the point 60. Precision and recall are 1 in every replicate (all the
    flagged defaulted, all the defaulted were flagged): the replicates read [1, 1], so the interval
    reaches the exact binomial bound of 2 of 2 debtors, 0.025 ** (1 / 2) = sqrt(0.025) = 0.158114."""
    live = pd.DataFrame({"debtor_id": ["X", "Y"], "label": [1, 1], "flagged": [True, True]})
    was = pd.DataFrame({"debtor_id": ["X", "Y"], "lead_days": [30.0, 90.0]})
    figures = {"watchlist_precision": 1.0, "watchlist_recall": 1.0, "lead_time_median_days": 60.0}
    out = figure_intervals(live, NO_QUEUE, [], was, figures, 2000, 0, 10)
    f = out["figures"]
    assert (f["lead_time_median_days"]["low"], f["lead_time_median_days"]["high"]) == (30.0, 90.0)
    assert f["lead_time_median_days"]["value"] == 60.0
    assert (f["watchlist_recall"]["low"], f["watchlist_recall"]["high"]) == (0.158114, 1.0)
    assert (f["watchlist_precision"]["low"], f["watchlist_precision"]["high"]) == (0.158114, 1.0)
    assert f["lead_time_median_days"]["rests_on"] == "2 lead times" and f["lead_time_median_days"]["thin"]
    assert f["watchlist_recall"]["rests_on"] == "2 defaulted debtors"
    assert (out["samples"], out["seed"], out["by"], out["level"]) == (2000, 0, "debtor", 0.95)


def test_one_flagged_debtor_of_two_by_hand() -> None:
    """X flagged and defaulted, Y flagged and not: precision 1/2. A replicate XX reads 1 (1 in 4), XY 1/2,
    YY 0 (1 in 4): [0, 1]. Recall: 1 whenever X is drawn (YY has no default and is left out), at the
    bound: 1 of 1 defaulted debtor, 0.025 ** (1 / 1) = 0.025: [0.025, 1]."""
    live = pd.DataFrame({"debtor_id": ["X", "Y"], "label": [1, 0], "flagged": [True, True]})
    was = pd.DataFrame({"debtor_id": ["X"], "lead_days": [45.0]})
    figures = {"watchlist_precision": 0.5, "watchlist_recall": 1.0, "lead_time_median_days": 45.0}
    f = figure_intervals(live, NO_QUEUE, [], was, figures, 2000, 0, 1)["figures"]
    assert (f["watchlist_precision"]["low"], f["watchlist_precision"]["high"]) == (0.0, 1.0)
    assert (f["watchlist_recall"]["low"], f["watchlist_recall"]["high"]) == (0.025, 1.0)
    assert (f["lead_time_median_days"]["low"], f["lead_time_median_days"]["high"]) == (45.0, 45.0)
    assert f["watchlist_precision"]["rests_on"] == "1 flagged debtor that defaulted"
    assert f["lead_time_median_days"]["rests_on"] == "1 lead time"
    assert not f["watchlist_precision"]["thin"]  # min_defaults 1


def test_a_share_at_0_or_100_percent_reaches_the_exact_binomial_bound() -> None:
    """s37-fallback's third 1,000 x 24 s44 backtest: queue capture 100 % and every one of 1,000 replicates
    100 % on 19 defaulted debtors. At 100 % (0 %) of n debtors the interval reaches at least the
    Clopper-Pearson bound 0.025 ** (1 / n): 8 of 8 -> 0.6306, 19 of 19 -> 0.8235. Here X, Y, Z flagged, none
    defaulted, W defaulted and not flagged: precision 0 of 3 flagged debtors -> high >= 1 - 0.025 ** (1 / 3)
    = 0.7076; recall 0 of 1 -> high >= 0.975."""
    from pipelines.backtest import _at_bounds

    assert _at_bounds(1.0, 1.0, 1.0, 8) == pytest.approx((0.025 ** (1 / 8), 1.0))  # 0.6306
    assert _at_bounds(1.0, 0.5, 1.0, 8) == (0.5, 1.0)  # already wider: kept
    # every replicate below the point 100 % (duplicates pushing a defaulted debtor past the cut): up to 100 %
    assert _at_bounds(1.0, 0.7, 0.9, 8) == pytest.approx((0.025 ** (1 / 8), 1.0))
    assert _at_bounds(0.0, 0.0, 0.0, 19) == pytest.approx((0.0, 1 - 0.025 ** (1 / 19)))  # 1 - 0.8235
    assert _at_bounds(0.6, 0.6, 0.6, 19) == (0.6, 0.6)  # inside: the replicates' interval
    live = pd.DataFrame(
        {"debtor_id": ["W", "X", "Y", "Z"], "label": [1, 0, 0, 0], "flagged": [False, True, True, True]}
    )
    was = pd.DataFrame({"debtor_id": [], "lead_days": []})
    figures = {"watchlist_precision": 0.0, "watchlist_recall": 0.0, "lead_time_median_days": None}
    f = figure_intervals(live, NO_QUEUE, [], was, figures, 500, 0, 10)["figures"]
    assert f["watchlist_precision"]["low"] == 0.0
    assert f["watchlist_precision"]["high"] == pytest.approx(1 - 0.025 ** (1 / 3), abs=1e-6)
    assert (f["watchlist_recall"]["low"], f["watchlist_recall"]["high"]) == (0.0, 0.975)
    assert f["lead_time_median_days"]["low"] is None and f["lead_time_median_days"]["n"] == 0


def _replicate(panel: pd.DataFrame, counts: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel with each debtor's rows written out ``counts[debtor]`` times (copies A0, A1, ...), and
    the truth alike: the resampled book itself, not weights."""
    parts, truth = [], []
    for debtor, c in counts.items():
        for k in range(c):
            parts.append(panel.loc[panel["debtor_id"] == debtor].assign(debtor_id=f"{debtor}{k}"))
            truth.append(TRUTH.loc[TRUTH["debtor_id"] == debtor].assign(debtor_id=f"{debtor}{k}"))
    rows = pd.concat(parts).sort_values(["as_of", "debtor_id"], ignore_index=True)
    rows["debtor_id"] = rows["debtor_id"].astype("string")
    return rows, pd.concat(truth, ignore_index=True)


def test_intervals_equal_a_resampling_written_out_by_hand(panel) -> None:
    """Seed 7, 40 replicates: each replicate draws the 6 debtors A-F (in that order) as
    numpy.random.default_rng(7).integers(0, 6, 6) does; the book with each drawn debtor's month-ends
    copied that many times is measured as a plain backtest, and the 2.5th / 97.5th percentiles of those
    figures are the intervals (captures, precision, recall, lead time, queue minus DPD order, queue / the
    ceiling)."""
    out = backtest_figures(panel, CFG, TRUTH, n_boot=40, seed=7)
    got = out["intervals"]["figures"]
    ids = list("ABCDEF")
    rng = np.random.default_rng(7)
    keys = [
        "queue_capture_top20",
        "dpd_capture_top20",
        "balance_capture_top20",
        "oracle_capture_top20",
        "watchlist_precision",
        "watchlist_recall",
        "lead_time_median_days",
    ]
    seen: dict[str, list[float]] = {k: [] for k in [*keys, "minus", "over"]}
    for _ in range(40):
        drawn = np.bincount(rng.integers(0, 6, 6), minlength=6)
        rows, truth = _replicate(panel, dict(zip(ids, drawn.tolist(), strict=True)))
        f = backtest_figures(rows, CFG, truth)["figures"]
        value = {k: np.nan if f[k] is None else f[k] for k in keys}
        for k in keys:
            seen[k].append(value[k])
        seen["minus"].append(value["queue_capture_top20"] - value["dpd_capture_top20"])
        over = (
            value["queue_capture_top20"] / value["oracle_capture_top20"]
            if value["oracle_capture_top20"]
            else np.nan
        )
        seen["over"].append(over)
    names = {"minus": "queue_minus_dpd_capture_top20", "over": "queue_over_oracle_capture_top20"}
    for k, values in seen.items():
        lo, hi = np.nanpercentile(values, [2.5, 97.5])
        entry = got[names.get(k, k)]
        assert (entry["low"], entry["high"]) == (pytest.approx(lo, abs=1e-6), pytest.approx(hi, abs=1e-6)), k


def test_what_each_figure_rests_on(panel) -> None:
    """By hand (test_backtest's table): defaulted debtors in the queue A, B, E (3); flagged debtors that
    defaulted A, B (2); defaulted live debtors A, B, E (3); lead times A, B (2). Below
    backtest.min_defaults (10 by default) every one is thin; at 3 the captures and the recall are not."""
    f = backtest_figures(panel, CFG, TRUTH, n_boot=20)["intervals"]["figures"]
    assert {k: e["n"] for k, e in f.items()} == {
        "queue_capture_top20": 3,
        "dpd_capture_top20": 3,
        "balance_capture_top20": 3,
        "oracle_capture_top20": 3,
        "watchlist_precision": 2,
        "watchlist_recall": 3,
        "lead_time_median_days": 2,
        "queue_minus_dpd_capture_top20": 3,
        "queue_over_oracle_capture_top20": 3,
    }
    assert f["queue_capture_top20"]["rests_on"] == "3 defaulted debtors in the queue"
    assert f["watchlist_precision"]["rests_on"] == "2 flagged debtors that defaulted"
    assert all(e["thin"] for e in f.values())
    assert f["queue_minus_dpd_capture_top20"]["value"] == pytest.approx((4000 - 1800) / 7400, abs=1e-6)
    assert f["queue_over_oracle_capture_top20"]["value"] == pytest.approx(4000 / 5000, abs=1e-6)
    cfg = CFG.model_copy(update={"backtest": CFG.backtest.model_copy(update={"min_defaults": 3})})
    f3 = backtest_figures(panel, cfg, TRUTH, n_boot=20)["intervals"]["figures"]
    assert [k for k, e in f3.items() if e["thin"]] == ["watchlist_precision", "lead_time_median_days"]
    none = backtest_figures(panel, CFG, TRUTH)["intervals"]  # no replicates: the counts, no interval
    assert none["samples"] == 0 and none["figures"]["queue_capture_top20"]["n"] == 3
    assert none["figures"]["queue_capture_top20"]["low"] is None


def _json(panel: pd.DataFrame, seed: int) -> str:
    out = backtest_figures(panel, CFG, TRUTH, n_boot=200, seed=seed)
    return BacktestResult(
        figures=out["figures"],
        months=out["months"],
        curves=out["curves"],
        lead_times=out["lead_times"],
        leakage={},
        intervals=out["intervals"],
    ).to_json()


def test_same_seed_same_bytes_and_the_seed_is_used(panel) -> None:
    first = _json(panel, 0)
    assert _json(panel, 0) == first
    # the panel in another row order draws the same debtors (sorted ids), so the same bytes
    assert _json(panel.sample(frac=1.0, random_state=3), 0) == first
    other = json.loads(_json(panel, 1))["intervals"]["figures"]
    mine = json.loads(first)["intervals"]["figures"]
    assert any((mine[k]["low"], mine[k]["high"]) != (other[k]["low"], other[k]["high"]) for k in mine)
    assert "NaN" not in first


def test_the_console_gives_each_figure_its_interval_and_says_when_it_is_too_thin(panel) -> None:
    out = backtest_figures(panel, CFG, TRUTH, n_boot=200)
    e = out["intervals"]["figures"]["queue_capture_top20"]
    lines = figure_lines(out["figures"], "EUR", 2, out["intervals"])
    queue = next(line for line in lines if line.endswith("(queue_capture_top20)"))
    low, high = f"{100 * e['low']:.1f} %", f"{100 * e['high']:.1f} %"
    assert (
        f"54.1 % [{low}, {high}] on 3 defaulted debtors in the queue: too thin to judge (fewer than 10)"
        in queue
    )
    keys = [line.split("  (")[-1].rstrip(")") for line in lines if "  (" in line]
    at = keys.index("dpd_capture_top20")
    assert keys[at + 1] == "queue_minus_dpd_capture_top20" and "+29.7 pts" in lines[at + 1]
    assert keys[keys.index("oracle_capture_top20") + 1] == "queue_over_oracle_capture_top20"
    lead = next(line for line in lines if line.endswith("(lead_time_median_days)"))
    assert "on 2 lead times: too thin to judge" in lead
    share = next(line for line in lines if line.endswith("(watchlist_list_share)"))
    assert "[" not in share  # no interval asked for the list's size
    assert lines[-1].startswith("Intervals: 95 % by debtor bootstrap, 200 replicates")


def test_the_page_shows_the_intervals(panel) -> None:
    from pipelines.backtest_report import render_backtest

    out = backtest_figures(panel, CFG, TRUTH, n_boot=200)
    result = BacktestResult(
        figures=out["figures"],
        months=out["months"],
        curves=out["curves"],
        lead_times=out["lead_times"],
        leakage={},
        settings={"currency": "EUR"},
        intervals=out["intervals"],
    )
    page = render_backtest(result, "Out of sample")
    e = out["intervals"]["figures"]["queue_capture_top20"]
    assert f"[{100 * e['low']:.1f} %, {100 * e['high']:.1f} %]" in page
    assert "3 defaulted debtors in the queue: too thin to judge (fewer than 10)" in page
    assert "Figures with their 95 % intervals" in page and "95 % interval of the median" in page


def _hand_queue() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Two month-ends in the balance order (open_balance descending): A holds debtors 0, 1, 2 (bad 0, 100,
    0), B holds 5, 3, 0, 4 (bad 999, 40, 0, 10); codes = the debtor numbers."""
    queue = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2024-01-31"] * 3 + ["2024-02-29"] * 4),
            "debtor_id": ["d0", "d1", "d2", "d5", "d3", "d0", "d4"],
            "open_balance": [30.0, 20.0, 10.0, 40.0, 30.0, 20.0, 10.0],
        }
    )
    return queue, np.array([0, 1, 2, 5, 3, 0, 4]), np.array([0.0, 100.0, 0.0, 999.0, 40.0, 0.0, 10.0])


def test_a_replicates_capture_by_hand() -> None:
    """counts (times each debtor 0..5 was drawn) 1, 3, 6, 2, 5, 0. A's weights 1, 3, 6 (10 in all): the top
    20 % is 2 of weight, debtor 1 has 1 ahead of it, so 1 of its 3 counts: 100 of its 300 drawn bad balance.
    B's weights 0, 2, 1, 5 (8): the cut ceil(1.6) = 2; debtor 5 is drawn 0 times (its 999 weighs nothing),
    debtor 3 is wholly in (2 x 40 = 80), debtor 4 (3 ahead) out (5 x 10 = 50). 180 caught of 430."""
    from pipelines.backtest import _Ranked

    queue, codes, bad = _hand_queue()
    ranked = _Ranked(queue, "balance", codes, bad)
    assert ranked.capture(np.array([1, 3, 6, 2, 5, 0])) == 180 / 430
    assert np.isnan(_Ranked(queue, "balance", codes, np.zeros(7)).capture(np.ones(6, dtype=int)))
    assert np.isnan(_Ranked(queue.iloc[:0], "balance", codes[:0], bad[:0]).capture(np.ones(6, dtype=int)))


def test_a_replicates_capture_has_the_bits_of_the_whole_column_sums() -> None:
    """s39-scale: a capture sums its money over the rows with a bad balance only, placed where they stand in
    the order; the result must be the float that summing w x bad and the caught part over every row gives
    (s38-btci's code, written out here), not one a different order of additions rounds to: 600 rows over 3
    month-ends, 1 in 10 with a bad balance in cents (not exact in binary), 300 replicates, compared with ==."""
    from models.bootstrap import debtor_draws
    from pipelines.backtest import TOP_SHARE, _Ranked

    rng = np.random.default_rng(3435)
    n = 600
    queue = pd.DataFrame(
        {
            "as_of": pd.to_datetime(np.repeat(["2024-01-31", "2024-02-29", "2024-03-31"], n // 3)),
            "debtor_id": [f"d{i % 250}" for i in range(n)],
            "open_balance": rng.uniform(0, 1e5, n).round(2),
        }
    )
    codes = np.array([i % 250 for i in range(n)])
    bad = np.where(rng.random(n) < 0.1, rng.uniform(0, 1e5, n).round(2), 0.0)
    ranked = _Ranked(queue, "balance", codes, bad)
    order = queue.assign(_r=np.arange(n)).sort_values(["as_of", "open_balance", "debtor_id"],
                                                      ascending=[True, False, True], kind="stable")["_r"]  # fmt: skip
    rows = order.to_numpy()
    starts = np.array([0, 200, 400])
    month = np.repeat([0, 1, 2], 200)
    for counts in debtor_draws(250, 300, 7):
        w = counts[codes[rows]].astype("float64")
        b = bad[rows]
        total = float((w * b).sum())
        cum = np.cumsum(w)
        before = cum - w - (cum - w)[starts][month]
        cut = np.ceil(TOP_SHARE * np.add.reduceat(w, starts))[month]
        whole = float((np.clip(cut - before, 0.0, w) * b).sum()) / total
        assert ranked.capture(counts) == whole
