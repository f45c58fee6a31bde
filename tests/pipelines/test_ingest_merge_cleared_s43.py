"""The streamed ingest's per-partition ``values_cleared`` merge (``TableState.merge_cleared``) looks up
only the rows a partition names (s43-scale: the dict of every row of every invoices partition cost ~9
CPU-s of the main process at 1M debtors), and the floored amounts find each currency's unit once per
partition. Same totals, first rows and amounts as before; numbers by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.ingest.stream import TableState


def _state() -> TableState:
    return TableState("invoices", first=None, empty=pd.DataFrame())  # the first chunk: not read here


def test_the_rows_a_partition_names_map_to_their_source_rows_and_the_totals_add_up() -> None:
    """Partition A: input positions 10, 11, 12 (source rows 101, 102, 103), currency cleared on 12 and
    10; partition B: positions 40, 41 (source rows 501, 502), currency on 41, amount floored on 40;
    a third partition clears nothing. The five first source rows are by position: 101, 103, 502."""
    state = _state()
    state.merge_cleared(
        {"currency": {"rows": 2, "reasons": {"unknown_currency": 2}, "first_source_rows": [12, 10]}},
        np.array([10, 11, 12]),
        np.array([101, 102, 103]),
    )
    state.merge_cleared(
        {
            "currency": {"rows": 1, "reasons": {"unknown_currency": 1}, "first_source_rows": [41]},
            "amount": {"rows": 1, "reasons": {"below_currency_unit": 1}, "first_source_rows": [40]},
        },
        np.array([40, 41]),
        np.array([501, 502]),
    )
    state.merge_cleared({}, np.arange(1_000, 1_000_000), np.arange(1_000, 1_000_000) + 1)
    assert state.cleared_rows == {"currency": [(12, 103), (10, 101), (41, 502)], "amount": [(40, 501)]}
    assert state.values_cleared() == {
        "amount": {"rows": 1, "reasons": {"below_currency_unit": 1}, "first_source_rows": [501]},
        "currency": {"rows": 3, "reasons": {"unknown_currency": 3}, "first_source_rows": [101, 103, 502]},
    }


def test_amounts_are_floored_to_each_rows_own_currency_unit_in_a_mixed_partition() -> None:
    """``rules._to_currency_unit`` finds each distinct code's places once (s43-scale): rows of JPY (no
    minor unit), KWD (three), EUR and no currency (two) in one partition, each floored by its own:
    400.5 JPY -> 400, 12.3456 KWD -> 12.345, 300.125 EUR -> 300.12, 7.129 -> 7.12, 400.50 EUR kept."""
    from pipelines.ingest.rules import _to_currency_unit

    amounts = pd.Series([400.5, 12.3456, 300.125, 7.129, 400.5])
    out, changed = _to_currency_unit(amounts, pd.Series(["JPY", "KWD", "EUR", None, "EUR"], dtype="string"))
    assert out.tolist() == [400.0, 12.345, 300.12, 7.12, 400.5]
    assert changed.tolist() == [True, True, True, True, False]
