"""Session 25's hostile review (s25-review; BENCHMARKS.md "Hostile inputs tried", "Session 25
(s25-review)"): each test failed on main before its fix. Hand-built inputs; every expected number
is by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from pipelines.adapters.files import read_portfolio
from tests.pipelines.test_history_s25 import _files, _ingest


def _daily(first: str, last: str, skip: tuple[str, ...] = ()) -> str:
    """Two invoices of D1 a day from ``first`` to ``last`` (ids A<day>a / A<day>b), due 30 days on."""
    rows = []
    for day in pd.date_range(first, last):
        due = (day + pd.Timedelta(days=30)).date()
        for k in ("a", "b"):
            key = f"A{day:%Y%m%d}{k}"
            if key not in skip:
                rows.append(f"{key},D1,{day.date()},{due},10.00,EUR\n")
    return "".join(rows)


def test_a_window_starting_mid_month_keeps_the_history_of_the_days_before_it(tmp_path: Path) -> None:
    """``ews ingest --keep-history`` of a rolling export of the last N days (its window moves every
    night). Night 1: the whole ledger as of 2024-06-30, two invoices a day from 2024-03-01: 122 days,
    244 invoices. Night 2 (as of 2024-07-01): the export of the invoices issued from 2024-04-10 (82
    days, 164 rows), one of 2024-06-15 cancelled in the ERP (163 rows), and one invoice of 2024-04-03 still
    open (an export's open items: 164 rows). April's 43 rows reach half the
    recent rate (median of May 62, June 60, July 0 = 60), so April was in today's span from its 1st
    and the 18 kept invoices of 2024-04-01..09 (paid, so not exported) were removed as cancelled
    (removed 19, under the 10 % refusal: nothing said but a warning). The span now starts inside
    April after the days whose rows stay under half the pace (1 a day: 2024-04-17, when the rows
    before it, the open item and 2 a day from the 10th, reach it; not at the open item, 2024-04-03,
    the first row, which would remove 13): those 18 stay; the cancelled one (inside) goes. 244 kept
    - 1 removed = 243; replaced 164, added 0."""
    out = tmp_path / "out"
    _ingest(_files(tmp_path / "n1", _daily("2024-03-01", "2024-06-30"), ""), out, dt.date(2024, 6, 30))
    old_open = "A20240403a,D1,2024-04-03,2024-05-03,10.00,EUR\n"  # an open item from before the window
    today = _files(tmp_path / "n2", old_open + _daily("2024-04-10", "2024-06-30", skip=("A20240615a",)), "")
    result = _ingest(today, out, dt.date(2024, 7, 1))
    assert result.manifest["history"]["tables"]["invoices"] == {
        "kept": 244,
        "replaced": 164,
        "unchanged": 164,  # every one re-sent as kept (s40-walk)
        "added": 0,
        "removed": 1,
        "rows": 243,
    }
    kept = set(read_portfolio(out).invoices["invoice_id"])
    assert {f"A202404{d:02d}{k}" for d in range(1, 10) for k in "ab"} <= kept
    assert "A20240615a" not in kept and len(kept) == 243


def test_write_offs_count_up_to_the_as_of_date_and_only_write_off_events() -> None:
    """``feed_checks.written_off`` (d366d1c) on test_writeoff_s25's book: as of 2025-12-20 (a
    backfill of a past date reads a ledger that runs on), D1's credit memos after 2025-11-30 are
    M1 300.00 only (M2 is dated 2025-12-31, after it) against its write_off event of 400.00 on
    2025-12-20: max(300, 400) = 400, not 500. D2 since the start: its write_off of 1,000.00, not
    its agency placement's 9,000.00 (a placement writes nothing off): 1,000. Both survived the
    mutations 'memos after the as-of date' and 'every event kind' (s25-review, mutate.log W3, W6)."""
    from pipelines.feed_checks import written_off
    from tests.pipelines.test_writeoff_s25 import SINCE, _book

    assert written_off(_book(), pd.Series(["D1"]), SINCE, dt.date(2025, 12, 20)) == pytest.approx(400.0)
    assert written_off(_book(), pd.Series(["D2"]), None, dt.date(2025, 12, 31)) == pytest.approx(1_000.0)


def test_generate_says_when_its_history_ends_after_today(tmp_path: Path) -> None:
    """``ews generate``'s closing lines (74828f9) told a 48-month book from 2023-01-01 (the contagion
    regime's defaults) to score as of 2026-12-31 while today is 2026-12-05: the printed ingest (as of
    today) quarantined 124 invoices and 129 payments dated after today (date_after_as_of; a 60-debtor
    book, /work/bench/s25-review/genproj) and a future --as-of is refused. Now it says so and gives
    the --start that ends the book by today: 48 months back from December 2026 = 2022-12-01, ending
    2026-11-30. A book ending on or before today keeps 74828f9's lines."""
    from pipelines.commands.generate import next_steps

    today = dt.date(2026, 12, 5)
    text = next_steps(tmp_path, dt.date(2023, 1, 1), 48, today)
    assert "history 2023-01-01 .. 2026-12-31: it ends after today (2026-12-05)" in text
    assert "quarantines its rows dated after today (date_after_as_of)" in text
    assert "--start 2022-12-01 (ends 2026-11-30); this one scores as of 2026-12-05 or earlier" in text
    assert "score as of 2026-12-31" not in text and "next: ews ingest" in text
    # a book ending on the last day of today's month: the next month minus 48 = 2023-01-01, ends 2026-12-31
    assert "--start 2023-01-01 (ends 2026-12-31)" in next_steps(
        tmp_path, dt.date(2023, 2, 1), 48, dt.date(2026, 12, 31)
    )
    # a book ending today scores at its end (48 months from 2023-01-01 on 2026-12-31)
    assert next_steps(tmp_path, dt.date(2023, 1, 1), 48, dt.date(2026, 12, 31)).startswith(
        "history 2023-01-01 .. 2026-12-31: score as of 2026-12-31 or earlier"
    )
    ok = next_steps(tmp_path, dt.date(2023, 1, 1), 36, today)
    assert ok.startswith("history 2023-01-01 .. 2025-12-31: score as of 2025-12-31 or earlier")


def test_a_payment_naming_the_historys_invoice_of_another_debtor_stays_quarantined(tmp_path: Path) -> None:
    """--keep-history readmits a payment naming an invoice only the history holds, for the same
    debtor (1acbb15). Night 2 (test_history_s25's) plus P9: D2 pays I2, which the history holds for
    D1. P3 (D1 pays I2) is readmitted; P9 stays quarantined invoice_before_export (as a plain ingest has P3):
    payments 3 in = 2 accepted (P3, P4) + 1 quarantined, readmitted 1. Survived the mutation
    'readmit by invoice id alone' (s25-review, mutate.log K1)."""
    from tests.pipelines.test_history_s25 import NIGHT1, NIGHT2, PAY, _night1, _night2

    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    today = _night2(tmp_path / "n2")
    today["payments"].write_text(
        PAY + "P3,D1,I2,2024-04-05,200.00\nP4,D2,I4,2024-04-20,90.00\nP9,D2,I2,2024-04-06,5.00\n"
    )
    result = _ingest(today, out, NIGHT2)
    t = result.manifest["tables"]["payments"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (3, 2, 1)
    assert result.manifest["history"]["readmitted"] == {"payments": 1}
    assert "P9" not in set(read_portfolio(out).payments["payment_id"])
    assert t["reasons"] == {"invoice_before_export": 1}  # as a plain ingest quarantines P3


def test_report_names_the_roll_rate_model_beside_a_small_books_lightgbm() -> None:
    """A small book's LightGBM fitted on every labelled month-end logs the roll-rate model's test
    figures as its baseline_test_* (pipelines.adapters.registry: no scorecard on that path), and the
    nightly marks it (metric small_book_trees). 5081f66's report headed that column 'scorecard'; it
    is 'roll-rate model'. Other versions keep 'scorecard'."""
    from pipelines.report import metrics_table

    model = {
        "kind": "lightgbm",
        "baseline": "rollrate",
        "metrics": {"test_auc": 0.81},
        "compared": {"baseline_test_auc": 0.74, "lightgbm_test_auc": 0.81},
    }
    got = metrics_table(model)
    assert got["columns"] == ["roll-rate model"]
    assert got["rows"] == [
        {"name": "test_auc", "label": "AUC", "value": "0.8100", "interval": "", "others": ["0.7400"]}
    ]
    assert metrics_table({**model, "baseline": "scorecard"})["columns"] == ["scorecard"]


def test_an_export_of_another_ledger_issued_after_the_historys_date_is_refused(tmp_path: Path) -> None:
    """--keep-history's other-ledger check by debtors (1acbb15), for an export whose invoices are all
    issued after the history's as-of date (none to look up by id): 25 invoices of 25 debtors E1..E25
    (2024-04-01..25, EUR like the history) into test_history_s25's night 1 (debtors D1, D2): 25 of
    the 25 debtors unknown, refused, the folder unchanged. Survived the mutation 'no debtor check'
    (s25-review, mutate.log K4)."""
    from pipelines.ingest import TableError
    from tests.pipelines.test_history_s25 import INV, NIGHT1, NIGHT2, PAY, _night1, _tree

    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    before = _tree(out)
    other = _files(tmp_path / "other", "", "")
    other["invoices"].write_text(
        INV + "".join(f"X{k},E{k},2024-04-{k:02d},2024-05-31,10.00,EUR\n" for k in range(1, 26))
    )
    other["payments"].write_text(PAY + "Q1,E1,X1,2024-04-10,5.00\n")
    other["debtors"].write_text("debtor_id,name\n" + "".join(f"E{k},Other {k}\n" for k in range(1, 26)))
    with pytest.raises(TableError, match="25 of the 25 debtors of today's invoices are not in the history"):
        _ingest(other, out, NIGHT2)
    assert _tree(out) == before


def test_a_sage50_receipt_on_account_is_a_payment(tmp_path: Path) -> None:
    """Sage 50's SA (a sales receipt on account, gb-kb.sage.com 'Transaction Types'), which a17d277 added
    beside SR: the Sage sample with Carbon's receipt of 1,000.00 written SA (unallocated: on account)
    reads as the SR sample does: payments 9 rows = 5 accepted + 4 filtered out (the SI rows), cash
    4,000.00, credit 234.56, invoice 1004 still 1,500.00 open. The mutation 'SA not a payment type'
    survived test_hostile_s25 (s25-review, mutate.log G1)."""
    from tests.pipelines.test_hostile_s25 import (
        QBO_AS_OF,
        SOURCES,
        _counts,
        _draft_and_ingest,
        _settlement,
        _sums,
    )

    lines = (SOURCES / "sage50_customer_activity.csv").read_text(encoding="utf-8").splitlines()
    assert lines[-1].startswith("109,SR,CARB001")
    export = tmp_path / "activity.csv"
    export.write_text("\n".join([*lines[:-1], lines[-1].replace(",SR,", ",SA,", 1)]) + "\n", encoding="utf-8")
    draft, result = _draft_and_ingest(tmp_path, export, QBO_AS_OF)
    assert 'rows: {keep: {column: "Type", values: ["SA", "SC", "SR"]}}' in draft.text
    assert 'credit: {column: "Type", values: ["SC"]}' in draft.text  # SA is cash
    assert _counts(result, "payments") == (9, 5, 5, 0)
    assert _sums(result) == (5734.56, 4000.00, 234.56)
    assert _settlement(result.portfolio, QBO_AS_OF)["1004"] == (None, 1500.0)
