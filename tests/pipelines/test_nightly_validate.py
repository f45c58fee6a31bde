"""The nightly validate step: refuse a feed with too many rejected rows, summarise the rest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.config.nightly import NightlyConfig
from pipelines.flows.nightly import DataQualityError, default_as_of, validate
from pipelines.ingest import ingest_dir

INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount
I1,D1,2024-05-01,2024-05-31,100.0
I2,D1,2024-05-02,2024-06-01,-5.0
I3,D2,2024-05-03,2024-06-02,250.0
I4,D2,2024-05-04,2024-04-01,80.0
"""


@pytest.fixture
def half_bad(tmp_path: Path) -> Path:
    (tmp_path / "invoices.csv").write_text(INVOICES)
    return tmp_path


def test_too_many_rejected_rows_is_a_failed_feed_check(half_bad: Path) -> None:
    from pipelines.feed_checks import FeedCheckError, evaluate_feed

    result = ingest_dir(half_bad, None, as_of=dt.date(2024, 6, 30))
    assert result.manifest["tables"]["invoices"]["rows_quarantined"] == 2
    summary = validate.fn(result, NightlyConfig())  # validate summarises; the feed check refuses
    assert summary["invoices"]["reasons"]
    share = {"invoices": summary["invoices"]["quarantine_share"]}
    figures = {"rows": {"invoices": 4}, "accepted": {"invoices": 2}, "quarantine_share": share}
    with pytest.raises(FeedCheckError, match=r"quarantine_share.invoices: 50.0% today \(limit: at most 20%"):
        evaluate_feed(figures, NightlyConfig(), previous=None, training=None)


def test_summary_has_counts_and_hashes_when_within_limit(half_bad: Path) -> None:
    result = ingest_dir(half_bad, None, as_of=dt.date(2024, 6, 30))
    summary = validate.fn(result, NightlyConfig(max_quarantine_share=0.5))
    inv = summary["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"], inv["quarantine_share"]) == (
        4,
        2,
        2,
        0.5,
    )
    assert len(inv["input_sha256"]) == 64


def test_default_as_of_is_yesterday_in_the_schedule_zone() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Pacific/Kiritimati")
    before = dt.datetime.now(zone).date()  # its midnight (10:00 UTC) may fall between these (s44-flake)
    given = default_as_of("Pacific/Kiritimati")
    after = dt.datetime.now(zone).date()
    assert given in {before - dt.timedelta(days=1), after - dt.timedelta(days=1)}


def test_ingested_folder_is_read_without_revalidating(half_bad: Path, tmp_path: Path) -> None:
    """The ingest's own figures are the feed's; a raw folder needs --raw."""
    from pipelines.engine import NotIngestedError
    from pipelines.flows.nightly import ingest

    ingested = tmp_path / "ingested"
    ingest_dir(half_bad, ingested, as_of=dt.date(2024, 6, 30))
    feed = ingest.fn(ingested, dt.date(2024, 6, 30))
    assert feed.book.buckets == 1 and feed.book.read(0).invoices["invoice_id"].tolist() == ["I1", "I3"]
    inv = feed.manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_quarantined"]) == (4, 2) and len(inv["input_sha256"]) == 64
    assert feed.quarantine["invoices"] == ingested / "quarantine" / "invoices.csv"
    assert validate.fn(feed, NightlyConfig())["invoices"]["rows_accepted"] == 2
    with pytest.raises(NotIngestedError, match="not an `ews ingest` output"):
        ingest.fn(half_bad, dt.date(2024, 6, 30))
    raw = ingest.fn(half_bad, dt.date(2024, 6, 30), raw=True)
    assert raw.manifest["tables"]["invoices"]["rows_accepted"] == 2


def test_feed_without_invoices_is_refused(tmp_path: Path) -> None:
    (tmp_path / "payments.csv").write_text("payment_id,debtor_id,paid_on,amount\nP1,D1,2024-05-20,10.0\n")
    result = ingest_dir(tmp_path, None, as_of=dt.date(2024, 6, 30))
    with pytest.raises(DataQualityError, match="no accepted invoices"):
        validate.fn(result, NightlyConfig())
