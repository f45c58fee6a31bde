"""A book with invoices and statements (mixed) cut into more than one debtor bucket, and its limit_breach memory:
session 40 (s40-mixed). Before it a debtor bucket holding statement accounts alone was built without any invoice
feature (47 columns against 102), which stopped a night scored in more than one bucket with
IncompatibleModelError, and limit_breach's month-end memory read a mixed book's invoices alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.params import DefaultDefinition
from features.tables import Portfolio
from tests.features.ledgers import frame
from tests.pipelines.test_mixed_book import AS_OF, mixed_book


def _debtors(s4_onboarded: str | None = None) -> pd.DataFrame:
    """i3 and m1 onboarded 2023-06-01, m2 without a date; s4 (statements only) without a date unless given; s5
    (statements only) onboarded 2024-06-30, after the as-of date although its statement is dated 2024-03-31;
    p7 a prospect onboarded 2024-01-01 (no invoice, no statement)."""
    rows = [
        ("i3", "a", "DE", 1000.0, "2023-06-01"),
        ("m1", "b", "FR", 2000.0, "2023-06-01"),
        ("m2", "c", "NL", 3000.0, None),
        ("s4", "d", "PL", 4000.0, s4_onboarded),
        ("s5", "e", "IT", 5000.0, "2024-06-30"),
        ("p7", "f", "ES", 7000.0, "2024-01-01"),
    ]
    return frame(
        "debtors",
        [
            {"debtor_id": d, "name": d.upper(), "segment": s, "country": c, "credit_limit": lim,
             "onboarded_on": pd.Timestamp(on) if on else None}
            for d, s, c, lim, on in rows
        ],
    )  # fmt: skip


def book(s4_onboarded: str | None = None) -> Portfolio:
    b = mixed_book()
    return Portfolio(
        invoices=b.invoices, payments=b.payments, statements=b.statements, debtors=_debtors(s4_onboarded)
    )


def _by_debtor(features: pd.DataFrame) -> pd.DataFrame:
    return features.set_index(features["debtor_id"].astype(str))


def _loaded():
    from tests.pipelines.test_review_s39 import _loaded as loaded

    return loaded()


@pytest.mark.parametrize("buckets", [2, 7])
def test_a_bucket_of_statement_accounts_alone_is_scored_as_in_one_bucket(buckets: int) -> None:
    """The book cut into 2 debtor buckets (hash of debtor_id): bucket 1 holds s5's statement and the prospect p7
    alone, no invoice; in 7, bucket 0 holds s4 and s5 (statements only) and bucket 2 the prospect p7 alone (a
    debtors-table row). The model reads dpd_current_max and
    open_balance (invoice features). Scored bucket by bucket, every debtor gets the PD, band and segment of the
    book scored at once: s5 in default (120 days >= 90: PD 1.0, band "default"), p7 a row of its own (segment
    f; no history). Before session 40 the statements-only bucket was built without invoice features and
    score_bucket raised IncompatibleModelError ("the features built for scoring lack 1 column ...
    ['open_balance']"): the night stopped."""
    from pipelines.config.nightly import NightlyConfig
    from pipelines.engine import Book
    from pipelines.scoring.score import combine_scored, score_bucket

    loaded, cfg = _loaded(), NightlyConfig()

    def scored(n: int) -> pd.DataFrame:
        cut = Book(buckets=n, frames=book())
        got = combine_scored(
            [score_bucket(cut, k, AS_OF, DefaultDefinition(), loaded, cfg) for k in range(n)]
        )
        return got.scores

    cut = Book(buckets=buckets, frames=book())
    alone = [k for k in range(buckets) if cut.read(k).invoices.empty and not cut.read(k).statements.empty]
    assert alone, "the cut must hold a bucket of statement accounts alone"
    whole, parts = scored(1), scored(buckets)
    assert parts["debtor_id"].tolist() == ["i3", "m1", "m2", "p7", "s4", "s5"]
    s5 = parts.set_index("debtor_id").loc["s5"]
    assert (s5["pd"], s5["band"]) == (1.0, "default")
    assert parts.set_index("debtor_id").loc["p7", "segment"] == "f"
    cols = ["debtor_id", "segment", "in_default", "pd", "band", "raw_score", "has_history"]
    pd.testing.assert_frame_equal(parts[cols], whole[cols])


@pytest.mark.parametrize("buckets", [2, 7])
def test_the_training_features_of_a_mixed_book_do_not_depend_on_its_buckets(buckets: int) -> None:
    """``pipelines.engine.build_book`` (what ``ews train`` and the backtest build) over 2 or 7 buckets gives the
    rows and columns of one call over the whole book, labels included. By hand: 2023-12-31 i3 and m1 (onboarded),
    2024-01-31 also m2 (first invoice 2024-01-01) and p7 (onboarded 2024-01-01), 2024-03-31 also s4 and s5 (their
    statements): 12 rows; the 90 days' horizon observed to 2024-03-31 only from 2023-12-31 (to 2024-03-30). Before
    session 40 s5's bucket (of 2) gave the statement features only, so s5 read NaN in every invoice column, and
    p7 (a debtors-table row, in s5's bucket of 2 or alone in a bucket of 7) had no row: 10 rows."""
    from pipelines.engine import Book, build_book

    dates = [pd.Timestamp("2023-12-31"), pd.Timestamp("2024-01-31"), AS_OF]
    until = pd.Timestamp("2024-03-31")
    whole = build_book(Book(buckets=1, frames=book()), dates, labels=True, observed_until=until)
    parts = build_book(Book(buckets=buckets, frames=book()), dates, labels=True, observed_until=until)
    assert "open_balance" in parts.features and "st_balance_last" in parts.features
    pd.testing.assert_frame_equal(parts.features, whole.features)
    pd.testing.assert_frame_equal(parts.defaults, whole.defaults)
    assert len(parts.features) == 12
    observed = parts.defaults.loc[parts.defaults["horizon_observed"]]
    assert observed["as_of"].unique().tolist() == [pd.Timestamp("2023-12-31")] and len(observed) == 2


def test_limit_breach_reads_both_accounts_at_past_month_ends_in_a_mixed_book() -> None:
    """limit_breach (when: new, rearm_days 365) asks the ledger whether a debtor over its limit tonight, within it
    in the previous run, was already over at a month-end of the last year (the same breach, not flagged again).
    Limits 10,000.00 each. I: an invoice of 3,000.00 (2024-04-01, unpaid), never over. M: an invoice of 6,000.00
    (2024-04-01, unpaid) and a statement of 5,000.00 at 2024-04-30: 11,000.00 open then, over (its invoice alone,
    6,000.00, is not); 0.00 on its 2024-05-31 statement: 6,000.00. S (statements only): 12,000.00 at 2024-04-30
    (over), 8,000.00 at 2024-05-31. As of 2024-06-15, all three over tonight and within their limits in the
    previous run: the memory is by hand I none, M 2024-04-30, S 2024-04-30, so only I's breach is new. Before
    session 40 a book with invoices read the invoice ledger alone at the month-ends (M and S: none, flagged as
    new every time they came back over) unless the debtors read together held no invoice (statement accounts
    alone got their statements' memory): S's flag depended on who else was a candidate, or which bucket it was in."""
    from features.ledger import prepare_ledger
    from pipelines.config.nightly import NightlyConfig
    from pipelines.engine import Book
    from pipelines.scoring.watchlist import (
        book_ledger_memory,
        compare_with_previous,
        ledger_memory,
        triggers,
        with_ledger_memory,
    )
    from tests.features.ledgers import inv
    from tests.pipelines.test_nightly_triggers import scores

    statements = frame(
        "statements",
        [
            {"debtor_id": d, "period_end": pd.Timestamp(t), "balance": b, "credit_limit": 10_000.0}
            for d, t, b in [
                ("M", "2024-04-30", 5_000.0),
                ("M", "2024-05-31", 0.0),
                ("S", "2024-05-31", 8_000.0),  # out of order on purpose
                ("S", "2024-04-30", 12_000.0),
            ]
        ],
    )
    invoices = frame(
        "invoices",
        [
            inv("I1", "I", "2024-04-01", "2024-05-01", 3_000.0),
            inv("M1", "M", "2024-04-01", "2024-05-01", 6_000.0),
        ],
    )
    debtors = frame("debtors", [{"debtor_id": d, "credit_limit": 10_000.0} for d in "IMS"])
    mixed = Portfolio(invoices=invoices, statements=statements, debtors=debtors)
    cfg = NightlyConfig()
    memory = ledger_memory(prepare_ledger(mixed), pd.Timestamp("2024-06-15"), cfg, statements=statements)
    assert {d: (str(v.date()) if pd.notna(v) else None) for d, v in memory.items()} == {
        "I": None, "M": "2024-04-30", "S": "2024-04-30",
    }  # fmt: skip

    def night(day: str, balance: float) -> pd.DataFrame:
        return scores([(d, 0.005, False) for d in "IMS"]).assign(
            as_of=pd.Timestamp(day), open_balance=balance, credit_limit_current=10_000.0,
            credit_limit_recommended=50_000.0, credit_need=10_000.0,
        )  # fmt: skip

    scored = compare_with_previous(night("2024-06-15", 10_500.0), night("2024-06-14", 9_000.0))
    over = book_ledger_memory(Book(buckets=1, frames=mixed), scored, cfg, has_previous=True)
    fired = triggers(with_ledger_memory(scored, over), cfg, has_previous=True)["trigger_limit_breach"]
    assert dict(zip(scored["debtor_id"], fired, strict=True)) == {"I": True, "M": False, "S": False}


def test_a_bucket_of_invoice_debtors_alone_is_scored_with_the_statement_columns() -> None:
    """A mixed book's model reads statement features too (here st_dpd_last beside dpd_current_max and
    open_balance; the roll-rate model of a mixed book reads st_dpd_last since session 39). In 7 debtor buckets i3
    (an invoice, no statement) is alone in bucket 4, and the prospect p7 alone in bucket 2: scored bucket by
    bucket, every debtor gets the PD and band of the book scored at once, and i3's st_dpd_last is empty as in
    one bucket. Before (s40-mixed's own e2e run on s39's book mix3404_57 ingested in 195 buckets, roll-rate
    model): `ews score` stopped with "the features built for scoring lack 1 column ... ['st_dpd_last']"."""
    import lightgbm as lgb

    from pipelines.adapters.registry import LoadedModel
    from pipelines.config.nightly import NightlyConfig
    from pipelines.engine import Book
    from pipelines.scoring.score import combine_scored, score_bucket

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "dpd_current_max": rng.integers(0, 120, 200).astype(float),
            "open_balance": rng.uniform(0, 900, 200),
            "st_dpd_last": rng.integers(0, 120, 200).astype(float),
        }
    )
    clf = lgb.LGBMClassifier(n_estimators=5, num_leaves=3, verbose=-1, random_state=0)
    clf.fit(X, ((X["dpd_current_max"] > 60) | (X["st_dpd_last"] > 60)).astype(int))
    loaded = LoadedModel(
        name="ews-pd", version="1", alias="champion", run_id="r", estimator=clf, booster=clf.booster_,
        feature_names=list(X.columns), categorical_features=[], categories={}, reference={}, metrics={},
    )  # fmt: skip
    cfg = NightlyConfig()

    def scored(n: int):
        cut = Book(buckets=n, frames=book())
        return combine_scored(
            [score_bucket(cut, k, AS_OF, DefaultDefinition(), loaded, cfg) for k in range(n)]
        )

    cut = Book(buckets=7, frames=book())
    assert list(cut.read(4).invoices["debtor_id"]) == ["i3"] and cut.read(4).statements.empty
    whole, parts = scored(1), scored(7)
    cols = ["debtor_id", "in_default", "pd", "band", "raw_score", "has_history"]
    pd.testing.assert_frame_equal(parts.scores[cols], whole.scores[cols])
    assert np.isnan(parts.X.loc["i3", "st_dpd_last"]) and parts.X.loc["m1", "st_dpd_last"] == 60.0
