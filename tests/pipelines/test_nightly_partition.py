"""Building features in debtor partitions gives exactly the unpartitioned result."""

from __future__ import annotations

import pandas as pd
from nightly_portfolio import make_portfolio

from features.params import DefaultDefinition
from features.tables import Portfolio
from pipelines.scoring.partition import features_and_defaults, partition_count, split_portfolio

AS_OF = pd.Timestamp("2024-08-31")


def portfolio() -> Portfolio:
    tables = make_portfolio(n_debtors=240, months=14, seed=5)
    typed = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].astype("string")
        typed[name] = frame
    return Portfolio(**typed)


def test_split_keeps_every_debtor_in_exactly_one_part() -> None:
    p = portfolio()
    parts = list(split_portfolio(p, 3))
    assert len(parts) == 3
    assert sum(len(part.invoices) for part in parts) == len(p.invoices)
    seen = [set(part.invoices["debtor_id"]) for part in parts]
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2]) and not (seen[0] & seen[2])
    for part, ids in zip(parts, seen, strict=True):  # payments and debtors follow their invoices
        assert set(part.payments["debtor_id"]) <= ids and set(part.debtors["debtor_id"]) >= ids


def test_partitioned_features_equal_unpartitioned() -> None:
    p = portfolio()
    rows = len(p.invoices) + len(p.payments)
    assert partition_count(p, rows // 4) == 5 and partition_count(p, rows) == 1
    whole, flags_whole, oldest_whole = features_and_defaults(
        p, AS_OF, DefaultDefinition(), rows_per_partition=rows
    )
    parts, flags_parts, oldest_parts = features_and_defaults(
        p, AS_OF, DefaultDefinition(), rows_per_partition=rows // 4
    )
    assert flags_whole.sum() > 0 and len(oldest_whole) > 0
    pd.testing.assert_series_equal(flags_whole, flags_parts)
    pd.testing.assert_frame_equal(oldest_whole, oldest_parts)
    cats = [c for c in whole.columns if isinstance(whole[c].dtype, pd.CategoricalDtype)]
    assert cats and all(isinstance(parts[c].dtype, pd.CategoricalDtype) for c in cats)
    as_text = {c: "string" for c in cats}
    pd.testing.assert_frame_equal(whole.astype(as_text), parts.astype(as_text))
