"""Session 39's hostile review (s39-review): tests that pin what session 39's product changes claim and that
their own tests left open (each fails on the mutation named in its docstring)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

# ------------------------------------------- 4e6c456: invoices_per_debtor_90d of a mixed book scored in buckets


def _loaded():
    from pipelines.adapters.registry import LoadedModel

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"dpd_current_max": rng.integers(0, 120, 200).astype(float), "open_balance": rng.uniform(0, 900, 200)}
    )
    clf = lgb.LGBMClassifier(n_estimators=5, num_leaves=3, verbose=-1, random_state=0)
    clf.fit(X, (X["dpd_current_max"] > 60).astype(int))
    return LoadedModel(
        name="ews-pd", version="1", alias="champion", run_id="r", estimator=clf, booster=clf.booster_,
        feature_names=list(X.columns), categorical_features=[], categories={}, reference={}, metrics={},
    )  # fmt: skip


def test_a_bucket_without_a_statement_account_still_counts_its_invoice_debtors() -> None:
    """test_mixed_book's book with the statements of m1 and m2 only (i3: an invoice, no statement; m1 and m2:
    both). By hand 3 debtors with an invoice (i3, m1, m2) and 505.00 on 2 statement accounts, whether the book
    is scored at once or in 7 debtor buckets (hash of debtor_id: m1, m2 and i3 each alone). Before s39-review
    the bucket of i3, holding no statement feature, gave None and the sum over the buckets was 2: at scale
    (more than one ingest bucket) a large invoice book with a few statement accounts divided its
    invoices_per_debtor_90d by the invoice debtors of the buckets that hold a statement account only, against
    the whole book's in the training reference. An invoices-only book carries no such figure."""
    from features.params import DefaultDefinition
    from features.tables import Portfolio
    from pipelines.config.nightly import NightlyConfig
    from pipelines.engine import Book
    from pipelines.scoring.score import combine_scored, score_bucket
    from tests.pipelines.test_mixed_book import AS_OF, mixed_book

    full = mixed_book()
    book = Portfolio(
        invoices=full.invoices,
        payments=full.payments,
        statements=full.statements[full.statements["debtor_id"].isin(["m1", "m2"])].reset_index(drop=True),
    )
    loaded, cfg = _loaded(), NightlyConfig()

    def scored(portfolio: Portfolio, buckets: int):
        cut = Book(buckets=buckets, frames=portfolio)
        return combine_scored(
            [score_bucket(cut, k, AS_OF, DefaultDefinition(), loaded, cfg) for k in range(buckets)]
        )

    cut = Book(buckets=7, frames=book)
    held = [sorted(cut.read(k).invoices["debtor_id"]) for k in range(7) if len(cut.read(k).invoices)]
    alone = [sorted(cut.read(k).statements["debtor_id"]) for k in range(7) if len(cut.read(k).invoices)]
    assert sorted(held) == [["i3"], ["m1"], ["m2"]] and [] in alone  # i3's bucket holds no statement
    for n in (1, 7):
        got = scored(book, n)
        assert (got.invoice_debtors, got.statement_balances) == (3, (505.0, 2)), n
    invoices_only = Portfolio(invoices=full.invoices, payments=full.payments)
    assert (
        scored(invoices_only, 1).invoice_debtors is None and scored(invoices_only, 7).invoice_debtors is None
    )
