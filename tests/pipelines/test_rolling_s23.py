"""Rolling exports, session 23 (s23-rolling; BENCHMARKS.md "Hostile inputs tried", "Session 23
(s23-rolling)"): an AR system that exports the last months of invoices with every payment made in
them is a good feed, not a broken one. Each test failed on main 7e5e7c4 (checked by reverting the
product change); every expected number is by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source

AS_OF = dt.date(2024, 6, 30)


def _rolling_files(folder: Path) -> dict[str, Path]:
    """An export whose invoices start 2024-03-01 (D1) and 2024-03-05 (D2). Its payments: P1 pays
    OLD1, issued before the export, 9 days after D1's first invoice; P2 pays I1; P3 names OLD9
    111 days after D1's first invoice; P4 pays OLD2 90 days after D2's first (2024-03-05 + 90 d =
    2024-06-03), P5 names OLD3 91 days after it."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"invoices": folder / "inv.csv", "payments": folder / "pay.csv"}
    files["invoices"].write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\n"
        "I1,D1,2024-03-01,2024-03-31,100.00\n"
        "I2,D1,2024-04-10,2024-05-10,200.00\n"
        "I3,D2,2024-03-05,2024-04-04,50.00\n"
    )
    files["payments"].write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\n"
        "P1,D1,OLD1,2024-03-10,80.00\n"
        "P2,D1,I1,2024-03-20,100.00\n"
        "P3,D1,OLD9,2024-06-20,10.00\n"
        "P4,D2,OLD2,2024-06-03,30.00\n"
        "P5,D2,OLD3,2024-06-04,40.00\n"
    )
    return files


@pytest.mark.parametrize("stream", [False, True])
def test_a_payment_of_an_invoice_before_the_export_is_quarantined_apart(stream: bool, tmp_path: Path) -> None:
    """Before (7e5e7c4), P1, P3, P4 and P5 were all ``unknown_invoice``: 4 of 5 payments, 80 % of the
    table as damage. Now the payments within rules.export_start_days (90) of their debtor's first
    invoice in the export (P1: 9 days, P4: 90) are ``invoice_before_export``; P3 (111) and P5 (91)
    stay ``unknown_invoice``. Rows in 5 = 1 accepted + 4 quarantined; the damage share is
    (4 - 2) / (5 - 2) = 2/3 and the before-export payments are a figure of their own (2)."""
    from pipelines.feed_checks import feed_figures

    files = _rolling_files(tmp_path / "raw")
    rules = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6)
    source = SourceConfig(name="files", rules=rules, tables={t: FileSource(path=p) for t, p in files.items()})
    kw = {"stream": True, "chunk_rows": 2, "partitions": 2, "workers": 1} if stream else {"stream": False}
    result = ingest_source(source, tmp_path / "out", as_of=AS_OF, **kw)
    pay = result.manifest["tables"]["payments"]
    assert pay["reasons"] == {"invoice_before_export": 2, "unknown_invoice": 2}
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (5, 1, 4)
    import pandas as pd

    quarantined = pd.read_csv(tmp_path / "out" / "quarantine" / "payments.csv", dtype=str)
    assert dict(zip(quarantined["payment_id"], quarantined["reason"], strict=True)) == {
        "P1": "invoice_before_export",
        "P3": "unknown_invoice",
        "P4": "invoice_before_export",
        "P5": "unknown_invoice",
    }

    scores = pd.DataFrame({"in_default": [False, False], "open_balance": [200.0, 50.0]})
    figures = feed_figures(result.manifest["tables"], None, scores)
    assert figures["quarantine_share"]["payments"] == pytest.approx(2 / 3)
    assert figures["before_export"] == {"payments": 2}


def _rows(invoices: int, payments: int, days: tuple[int | None, int | None] | None) -> dict:
    """Table figures of a feed: rows per table, and the days its invoices / payments span."""
    out = {
        "rows": {"invoices": invoices, "payments": payments},
        "accepted": {"invoices": invoices, "payments": payments},
        "quarantine_share": {"invoices": 0.0, "payments": 0.0},
    }
    if days is not None:
        out["days"] = {t: d for t, d in zip(("invoices", "payments"), days, strict=True) if d is not None}
    return out


TRAIN = _rows(192_012, 191_773, (1_096, 1_096))  # 36 months, 2023-01-01 .. 2025-12-31


@pytest.mark.parametrize(
    ("today", "failed"),
    [
        # the last 6 months (184 days): 31,526 x 30.4375 / 184 = 5,215.1 invoices a month vs
        # 192,012 x 30.4375 / 1,096 = 5,332.5 (ratio 0.978); payments 24,271 -> 4,014.9 vs 5,325.8
        # (0.754). Before (7e5e7c4): rows.invoices 31,526 vs 192,012 (0.164) and rows.payments
        # 24,271 vs 191,773 (0.127), both below 0.25: refused
        (_rows(31_526, 24_271, (184, 184)), []),
        # the same 6 months with 4 of 5 invoices gone: 6,000 -> 992.5 a month (0.186; shown 993): refused
        (
            _rows(6_000, 24_271, (184, 184)),
            [
                "rows_per_month.invoices: 993 today vs 5,332 in train (limit: ratio 0.25 to 4, checked from 50 rows)"
            ],
        ),
        # the payments file gone (no dates): whole rows, 0 vs 191,773: refused
        (
            _rows(31_526, 0, (184, None)),
            ["rows.payments: 0 today vs 191,773 in train (limit: ratio 0.25 to 4, checked from 50 rows)"],
        ),
        # a whole-span file cut to 40,000 invoices (same first date: same span): whole rows, 0.208
        (
            _rows(40_000, 191_773, (1_096, 1_096)),
            [
                "rows.invoices: 40,000 today vs 192,012 in train (limit: ratio 0.25 to 4, checked from 50 rows)"
            ],
        ),
        # a training reference from before session 23 (no days): whole rows, refused as before
        (
            _rows(31_526, 191_773, None),
            [
                "rows.invoices: 31,526 today vs 192,012 in train (limit: ratio 0.25 to 4, checked from 50 rows)"
            ],
        ),
    ],
)
def test_a_shorter_export_is_compared_with_the_training_data_by_rows_per_month(
    today: dict, failed: list
) -> None:
    from pipelines.config.nightly import NightlyConfig
    from pipelines.feed_checks import FeedCheckError, evaluate_feed

    if not failed:
        feed = evaluate_feed(today, NightlyConfig(), previous=None, training=("train", TRAIN))
        assert feed["status"] == "passed"
        checks = {c["check"]: (c["value"], c["reference"]) for c in feed["checks"]}
        assert checks["rows_per_month.invoices"] == pytest.approx((5_215.1, 5_332.5), abs=0.05)
        assert checks["rows_per_month.payments"] == pytest.approx((4_014.9, 5_325.8), abs=0.05)
        return
    with pytest.raises(FeedCheckError) as info:
        evaluate_feed(today, NightlyConfig(), previous=None, training=("train", TRAIN))
    assert [line.removeprefix("  - ") for line in str(info.value).splitlines()[1:-1]] == failed


def test_the_training_reference_and_todays_figures_hold_the_days_of_each_table(tmp_path: Path) -> None:
    """``table_spans`` (s24: was ``table_days``): first date to the as-of date (today) or to the
    book's last date (training), both counted, and the rows dated in them. Invoices 2024-03-01 ..
    2024-04-10 (to the book's last date 2024-04-10: 41 days; to 2024-06-30: 122); payments: P2 alone
    (2024-03-20: to 2024-04-10, 22 days (s23: to its own last date, 1); to 2024-06-30: 12 + 30 + 31
    + 30 = 103), P1 and P3-P5 quarantined."""
    from pipelines.engine import Book
    from pipelines.feed_checks import table_spans, training_reference

    files = _rolling_files(tmp_path / "raw")
    source = SourceConfig(
        name="files",
        rules=RulesConfig(data_docs=False, refuse_empty_table_rows=10**6, export_start_days=0),
        tables={t: FileSource(path=p) for t, p in files.items()},
    )
    ingest_source(source, tmp_path / "out", as_of=AS_OF, stream=False)
    book = Book.ingested(tmp_path / "out")
    assert table_spans(book, AS_OF) == {"invoices": (122, 3), "payments": (103, 1)}
    import pandas as pd

    dataset = pd.DataFrame(
        {"as_of": pd.to_datetime(["2024-04-30"]), "in_default_at_asof": [False], "open_balance": [1.0]}
    )
    manifest = {"invoices": {"rows_in": 3, "rows_accepted": 3, "rows_quarantined": 0}}
    tables = training_reference(manifest, book, dataset)["tables"]
    assert tables["days"] == {"invoices": 41, "payments": 22}
    assert tables["span_rows"] == {"invoices": 3, "payments": 1}
