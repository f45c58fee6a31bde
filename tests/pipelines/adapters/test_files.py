"""Reading canonical tables back: folders written by an older contract still open."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.adapters.files import conform
from pipelines.sources.read import TableError


def test_a_missing_optional_column_is_read_as_empty() -> None:
    # a debtors table written before annual_turnover and net_worth joined the contract
    old = pd.DataFrame({"debtor_id": ["d1", "d2"], "segment": ["retail", "wholesale"]})
    got = conform(old, "debtors")
    assert got["debtor_id"].tolist() == ["d1", "d2"]
    assert got["annual_turnover"].isna().all() and got["net_worth"].isna().all()
    assert got["annual_turnover"].dtype == "float64" and len(got) == 2


def test_a_missing_required_column_names_it_and_the_fix() -> None:
    broken = pd.DataFrame({"invoice_id": ["i1"], "debtor_id": ["d1"], "amount": [10.0]})
    with pytest.raises(TableError, match=r"invoices: lacks 2 required columns \['issue_date', 'due_date'\]"):
        conform(broken, "invoices")


def test_group_order_is_the_stable_argsort_of_the_codes() -> None:
    """Rows grouped by a small code (debtor partition, GX batch), each group in row order: written
    out by hand for 7 rows, and the same as numpy's stable argsort for 8-bit, 16-bit and wider codes."""
    import numpy as np

    from pipelines.adapters.files import group_order

    codes = np.array([2, 0, 2, 1, 0, 2, 1], dtype=np.int64)
    assert group_order(codes, 3).tolist() == [1, 4, 3, 6, 0, 2, 5]
    rng = np.random.default_rng(3)
    for groups in (256, 257, 65536, 65537):
        codes = rng.integers(0, groups, 5000)
        assert np.array_equal(group_order(codes, groups), np.argsort(codes, kind="stable")), groups
