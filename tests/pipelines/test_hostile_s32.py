"""Session 32 (s32-hostile): the feed checks' residuals (BENCHMARKS.md, hostile section). Hand-built
frames and files; every expected value is by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from features.tables import Portfolio
from pipelines.config.nightly import LagLimit
from pipelines.engine import Book
from pipelines.feed_checks import payments_lag
from pipelines.flows.nightly import all_quarantined


def _book() -> Book:
    """D2 holds one accepted invoice; nobody else."""
    accepted = pd.DataFrame(
        {
            "invoice_id": ["I3"],
            "debtor_id": pd.Series(["D2"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-05-01"]),
            "due_date": pd.to_datetime(["2024-05-31"]),
            "amount": [10.0],
        }
    )
    return Book.in_memory(Portfolio(invoices=accepted), 1_000)


def test_exact_copies_name_nobody_and_a_copy_of_a_refused_row_still_does(tmp_path: Path) -> None:
    """quarantine/invoices.csv as ingest writes it (every column, a raw line holding a comma, a quote
    and a line break). D5's one row is an exact copy alone (``duplicate_row``: its first copy was
    kept, so it loses nothing; before s32 it was named). D6's row is a copy of a row refused for a
    currency without a rate (``duplicate_row; no_fx_rate:USD``) and D7's row that currency alone:
    both lost their invoice and hold no accepted one, so both are named. D2 has an accepted invoice."""
    q = tmp_path / "invoices.csv"
    q.write_text(
        "source_file,source_row,source_line,reason,invoice_id,debtor_id,amount,raw_line,detail\n"
        "invoices.csv,4,5,duplicate_row,I5,D5,10.00,,\n"
        'invoices.csv,5,6,duplicate_row; no_fx_rate:USD,I6,D6,11.00,"a, ""quoted""\nline",\n'
        "invoices.csv,6,8,no_fx_rate:USD,I7,D7,12.00,,\n"
        "invoices.csv,7,9,amount_not_positive,I8,D2,0.00,,\n",
        encoding="utf-8",
    )
    scores = pd.DataFrame({"debtor_id": ["D2", "D5", "D6", "D7"], "pd": [0.01, 0.02, 0.03, 0.04]})
    found = all_quarantined(_book(), {"invoices": q}, scores)
    assert found["debtor_id"].tolist() == ["D6", "D7"]
    assert found["reasons"].tolist() == ["duplicate_row; no_fx_rate:USD (1)", "no_fx_rate:USD (1)"]


def test_the_quarantine_is_not_read_when_the_manifest_holds_only_copies_and_later_rows(
    tmp_path: Path,
) -> None:
    """A feed sent twice: every quarantined invoice is a copy, and some are dated after the as-of
    date (the manifest's reasons: duplicate_row 3, date_after_as_of:issue_date 1). No debtor can have
    lost an invoice, so the file is not read (here it names D1 and could not be read if it were: its
    path is a folder). With a reason that loses rows (no_fx_rate:USD) among them it is read, and D1
    named."""
    q = tmp_path / "invoices.csv"
    q.write_text("reason,debtor_id\nno_fx_rate:USD,D1\n", encoding="utf-8")
    scores = pd.DataFrame({"debtor_id": ["D1", "D2"], "pd": [0.01, 0.02]})
    copies = {"duplicate_row": 3, "date_after_as_of:issue_date": 1}
    assert all_quarantined(_book(), {"invoices": tmp_path}, scores, copies).empty
    assert all_quarantined(_book(), {"invoices": q}, scores, copies).empty
    lost = {**copies, "no_fx_rate:USD": 1}
    assert all_quarantined(_book(), {"invoices": q}, scores, lost)["debtor_id"].tolist() == ["D1"]


def _lag(last: str, as_of: str, usual: int = 0) -> dict:
    """One table's ``lags`` entry: latest day ``last``, its lag to ``as_of``, 300 dated days."""
    lag = (dt.date.fromisoformat(as_of) - dt.date.fromisoformat(last)).days
    return {"last": last, "lag": lag, "usual": usual, "days": 300}


def test_a_training_feed_a_week_behind_is_capped_by_the_previous_run() -> None:
    """A book invoiced and paid every day (usual silence 0), exports made on the day. The training
    feed's payments lagged its end by 9 days (a stale training export: 7 taken, the cap). The previous
    run (12-30) lagged 2 days. Tonight (12-31, invoices to 12-31) the payments end on 12-25: 6 days.
    55841d6 allowed 0 + 7 + 1 = 8 and passed it; the delay is now min(7, 2) = 2: allowed 3, refused.
    - without a previous run: 7 days, passed (8 allowed);
    - a previous run that lagged 9 days: the training's 7 stands, passed;
    - tonight 3 days behind (12-28) with the previous run's 2: passed (3 <= 3)."""
    as_of, limit = dt.date(2024, 12, 31), LagLimit()
    stale = (
        "the training data of ews-pd v3 (snapshot 2024-06-30)",
        {"lags": {"payments": _lag("2024-06-21", "2024-06-30")}},
    )

    def tonight(pay: str) -> dict:
        return {"lags": {"invoices": _lag("2024-12-31", "2024-12-31"), "payments": _lag(pay, "2024-12-31")}}

    def previous(pay: str) -> tuple:
        return ("the previous run 2024-12-30", {"lags": {"payments": _lag(pay, "2024-12-30")}})

    c = payments_lag(tonight("2024-12-25"), as_of, limit, previous("2024-12-28"), stale)
    assert (c.status, c.value, c.reference) == ("failed", 6, 2)
    assert c.limit == (
        "at most 3 days behind (the longest silence between payment days in the 400 days before it, 0 days, + "
        "the posting delay seen in the training data of ews-pd v3 (snapshot 2024-06-30), 2 days (the lag of the "
        "previous run 2024-12-30; 7 days in the training data of ews-pd v3 (snapshot 2024-06-30)) + 1), checked "
        "from 20 payment days a year"
    )
    assert payments_lag(tonight("2024-12-25"), as_of, limit, None, stale).status == "ok"
    assert payments_lag(tonight("2024-12-25"), as_of, limit, previous("2024-12-21"), stale).status == "ok"
    assert payments_lag(tonight("2024-12-28"), as_of, limit, previous("2024-12-28"), stale).status == "ok"


def test_debtors_scored_without_some_of_their_invoices_are_named_with_the_amounts() -> None:
    """Lost rows tonight: D1 two invoices in USD (100.00 and 1,200.50 as written), D2 one amount not
    positive ("-5") and one exact copy (loses nothing), D3 one invoice dated after the as-of date (no
    input tonight), D4 every invoice lost (not scored: left out of ``scores``), D5 one row without an
    amount. Scored: D1, D2, D3, D5. Named: D1 (2 invoices, 1,300.50 USD), D2 (1, -5.00 EUR), D5 (1,
    amount unread)."""
    from pipelines.flows.nightly import partly_note, partly_quarantined

    rows = pd.DataFrame(
        {
            "debtor_id": ["D1", "D1", "D2", "D2", "D3", "D4", "D5"],
            "reason": [
                "no_fx_rate:USD",
                "no_fx_rate:USD",
                "amount_not_positive",
                "duplicate_row",
                "date_after_as_of:issue_date",
                "no_fx_rate:USD",
                "missing_value",
            ],
            "amount": ["100.00", "1,200.50", "-5", "7.00", "9.00", "1.00", ""],
            "currency": ["USD", "USD", "EUR", "EUR", "EUR", "USD", "EUR"],
        }
    )
    scores = pd.DataFrame({"debtor_id": ["D1", "D2", "D3", "D5"], "pd": [0.01, 0.02, 0.03, 0.04]})
    found = partly_quarantined(rows, scores)
    assert found.to_dict(orient="records") == [
        {"debtor_id": "D1", "invoices": 2, "amounts": "1,300.50 USD"},
        {"debtor_id": "D2", "invoices": 1, "amounts": "-5.00 EUR"},
        {"debtor_id": "D5", "invoices": 1, "amounts": "amount unread EUR"},
    ]
    assert partly_note(found).startswith(
        "3 debtors scored without 4 quarantined invoices (D1, D2, D5): some invoices quarantined"
    )
    assert partly_quarantined(rows.iloc[3:5], scores).empty  # a copy and a later row lose nothing
    assert partly_quarantined(None, scores).empty
