"""`ews train` says when the PDs of its out-of-time rows add up to a number of defaults their count rules out
(issue 9, s44-pdlevel). s43-walk's first roll-rate model: mean PD 0.11 % vs 0.63 % defaulted on its test window
(8 default labels), 5.7x low, passed every check and the console said nothing of it.

Expected values by hand: the exact (Garwood) 95 % interval of a Poisson mean from k events is chi2(0.025, 2k) / 2
to chi2(0.975, 2k + 2) / 2; from chi-square tables chi2(0.025, 16) = 6.908, chi2(0.975, 18) = 31.526 (k = 8:
3.454 to 15.763), chi2(0.975, 2) = 7.378 (k = 0: 0 to 3.689), chi2(0.025, 4) = 0.4844, chi2(0.975, 6) = 14.449
(k = 2: 0.242 to 7.225)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from models.evaluate import count_interval, level_said


@pytest.mark.parametrize(("k", "low", "high"), [(8, 3.454, 15.763), (0, 0.0, 3.689), (2, 0.242, 7.225)])
def test_count_interval_is_the_exact_poisson_interval(k: int, low: float, high: float) -> None:
    got = count_interval(k)
    assert got == pytest.approx((low, high), abs=0.001)


def _rows(n: int, defaults: int) -> np.ndarray:
    return np.r_[np.ones(defaults), np.zeros(n - defaults)]


def test_the_walks_level_is_said_with_its_count() -> None:
    # 1,270 live debtor-months, 8 defaults (0.63 %), every PD 0.11 %: the PDs add up to 1.397 < 3.454
    said = level_said(_rows(1270, 8), np.full(1270, 0.0011))
    assert said == (
        "PD level: on the test window the PDs add up to 1.4 defaults where 8 of 1,270 live debtor-months "
        "defaulted (mean PD 0.11% vs 0.63%): fewer than the 3.5-15.8 that 8 defaults allow by chance (95 %), "
        "0.17x what happened there"
    )


def test_a_sum_inside_the_interval_says_nothing() -> None:
    # 3.5 expected (just above the 3.454 floor of 8 defaults) and 15.7 (just below 15.763): chance
    assert level_said(_rows(1270, 8), np.full(1270, 3.5 / 1270)) == ""
    assert level_said(_rows(1270, 8), np.full(1270, 15.7 / 1270)) == ""
    assert level_said(_rows(1270, 8), np.full(1270, 3.4 / 1270)) != ""
    assert level_said(_rows(1270, 8), np.full(1270, 15.8 / 1270)) != ""


def test_too_high_and_no_default() -> None:
    # 2 defaults of 400 rows, PDs 2 % each: 8.0 expected > 7.225
    said = level_said(_rows(400, 2), np.full(400, 0.02), "the inner folds")
    assert said.startswith("PD level: on the inner folds the PDs add up to 8.0 defaults where 2 of 400")
    assert "more than the 0.2-7.2 that 2 defaults allow by chance (95 %), 4.00x what happened there" in said
    # no default of 100 rows: 4 expected > 3.689 is said, 3 is not
    none = level_said(np.zeros(100), np.full(100, 0.04))
    assert none == (
        "PD level: on the test window the PDs add up to 4.0 defaults where none of 100 live debtor-months "
        "defaulted (mean PD 4.00%): more than the 3.7 that no default allows by chance (95 %)"
    )
    assert level_said(np.zeros(100), np.full(100, 0.03)) == ""
    assert level_said(np.zeros(0), np.zeros(0)) == ""


def test_train_flow_reads_the_outcomes_test_rows_and_the_console_prints_it() -> None:
    from rich.console import Console

    from pipelines.commands.train import print_verdicts
    from pipelines.flows.train import level_note_of

    test = pd.DataFrame({"y": _rows(1270, 8), "pd": np.full(1270, 0.0011)})
    note = level_note_of(SimpleNamespace(test=test, small_book=None))
    assert note.startswith("PD level: on the test window the PDs add up to 1.4 defaults")
    # an all-labelled LightGBM's test rows are its inner folds
    folds = SimpleNamespace(test=test, small_book=SimpleNamespace(all_labelled=True, choice="feature"))
    assert level_note_of(folds).startswith("PD level: on the inner folds")
    assert level_note_of(SimpleNamespace(test=test.assign(pd=0.0063), small_book=None)) == ""
    assert level_note_of(SimpleNamespace(test=test.iloc[:0], small_book=None)) == ""

    result = SimpleNamespace(version="1", kind="rollrate", promoted=True, champion_before=None,
                             gate_summary="Promoted: every check passed.", gate_reasons=["ok x"], level_note=note)  # fmt: skip
    console = Console(record=True, width=400)
    print_verdicts(console, result, "not trained", verbose=False)
    lines = console.export_text().splitlines()
    verdict = next(
        i for i, line in enumerate(lines) if line.startswith("ews-pd v1 (roll-rate model): gate passed")
    )
    assert lines[verdict + 1] == note
    quiet = SimpleNamespace(**{**result.__dict__, "level_note": ""})
    console = Console(record=True, width=400)
    print_verdicts(console, quiet, "not trained", verbose=False)
    assert "PD level" not in console.export_text()
