"""The streamed ingest's per-partition ``values_cleared`` merge (``TableState.merge_cleared``) looks up
only the rows a partition names (s43-scale: the dict of every row of every invoices partition cost ~9
CPU-s of the main process at 1M debtors). Same totals and first rows as before; numbers by hand."""

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
