"""Features and default flags as of a date, built debtor-partition by debtor-partition.

Every feature and label is computed per debtor (``features.ledger`` groups by debtor code), so the
portfolio can be split by a hash of ``debtor_id`` and the parts built one after another: the
result is the same, but the feature builder's working memory is that of one part. This is what
keeps a 1,000,000-debtor nightly run inside the memory budget on one machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import fields

import numpy as np
import pandas as pd

from features.params import DefaultDefinition
from features.tables import Portfolio

LEDGER_TABLES = ("invoices", "payments", "statements")


def partition_count(portfolio: Portfolio, rows_per_partition: int) -> int:
    """Number of parts so that each holds about ``rows_per_partition`` ledger rows (at least 1)."""
    rows = sum(len(f) for name, f in portfolio.present().items() if name in LEDGER_TABLES)
    return max(1, math.ceil(rows / rows_per_partition))


def split_portfolio(portfolio: Portfolio, parts: int) -> Iterator[Portfolio]:
    """Yield ``parts`` portfolios; each debtor's rows (in every table) land in exactly one part."""
    if parts <= 1:
        yield portfolio
        return
    codes = {
        f.name: (pd.util.hash_pandas_object(frame["debtor_id"], index=False).to_numpy() % np.uint64(parts))
        for f in fields(portfolio)
        if (frame := getattr(portfolio, f.name)) is not None
    }
    for part in range(parts):
        yield Portfolio(
            **{
                name: getattr(portfolio, name).loc[code == np.uint64(part)].reset_index(drop=True)
                for name, code in codes.items()
            }
        )


def features_and_defaults(
    portfolio: Portfolio,
    as_of: pd.Timestamp,
    definition: DefaultDefinition,
    rows_per_partition: int = 4_000_000,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """``features.build.build_features`` and the in-default flag of ``build_labels`` as of ``as_of``.

    Returns the feature frame (one row per debtor existing at as_of, sorted by debtor_id; the
    categorical columns keep ``category`` dtype), a bool Series (index debtor_id) that is True
    for debtors already in default at as_of, and the oldest overdue invoice per debtor
    (``pipelines.scoring.queue.oldest_overdue_invoice``), looked up part by part as well.
    """
    from features.build import build_features
    from features.labels import build_labels
    from pipelines.scoring.queue import oldest_overdue_invoice

    feats, flags, oldest = [], [], []
    for part in split_portfolio(portfolio, partition_count(portfolio, rows_per_partition)):
        if all(part_frame.empty for name, part_frame in part.present().items() if name in LEDGER_TABLES):
            continue
        part_feats = build_features(part, [as_of])
        feats.append(part_feats)
        labels = build_labels(part, [as_of], definition)
        flags.append(
            labels.set_index(labels["debtor_id"].astype("string"))["in_default_at_asof"].astype(bool)
        )
        if "dpd_current_max" in part_feats.columns:
            oldest.append(
                oldest_overdue_invoice(part.invoices, part_feats[["debtor_id", "dpd_current_max"]], as_of)
            )
    frame = pd.concat(feats, ignore_index=True) if len(feats) > 1 else feats[0]
    if "debtor_id" not in frame.columns:
        frame = frame.reset_index()
    for col in feats[0].columns:
        if isinstance(feats[0][col].dtype, pd.CategoricalDtype) and not isinstance(
            frame[col].dtype, pd.CategoricalDtype
        ):
            frame[col] = frame[col].astype("category")
    frame = frame.sort_values("debtor_id", kind="stable", ignore_index=True)
    in_default = pd.concat(flags) if len(flags) > 1 else flags[0]
    cols = ["debtor_id", "oldest_invoice_id", "oldest_due_date"]
    found = [o for o in oldest if not o.empty]
    oldest_frame = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=cols)
    return (
        frame,
        in_default.sort_index(),
        oldest_frame.sort_values("debtor_id", kind="stable", ignore_index=True),
    )
