"""Session 32 (s32-review): tests for mutants that survived the session's own tests (BENCHMARKS.md,
"Session 32 (s32-review)", E entries of benchmarks/review_mutations.py). Every expected value is by
hand."""

from __future__ import annotations

import pandas as pd

from features.tables import Portfolio
from pipelines.engine import Book
from pipelines.flows.nightly import all_quarantined


def test_a_quarantine_frame_names_nobody_for_an_exact_copy() -> None:
    """The in-memory ingest hands the nightly its quarantine as frames, not as a path (E5). D5's
    invoice I5 is dated after the as-of date (its kept row: date_after_as_of:issue_date) and the
    feed holds it twice (the copy: duplicate_row alone); D5 has no accepted invoice and has lost
    nothing tonight, so it is not named. D7's one invoice was refused (no_fx_rate:USD): named."""
    accepted = pd.DataFrame(
        {
            "invoice_id": ["I3"],
            "debtor_id": pd.Series(["D2"], dtype="string"),
            "issue_date": pd.to_datetime(["2024-05-01"]),
            "due_date": pd.to_datetime(["2024-05-31"]),
            "amount": [10.0],
        }
    )
    book = Book.in_memory(Portfolio(invoices=accepted), 1_000)
    quarantine = {
        "invoices": pd.DataFrame(
            {
                "invoice_id": ["I5", "I5", "I7"],
                "debtor_id": ["D5", "D5", "D7"],
                "reason": ["date_after_as_of:issue_date", "duplicate_row", "no_fx_rate:USD"],
            }
        )
    }
    scores = pd.DataFrame({"debtor_id": ["D2", "D5", "D7"], "pd": [0.01, 0.02, 0.03]})
    reasons = {"date_after_as_of:issue_date": 1, "duplicate_row": 1, "no_fx_rate:USD": 1}
    found = all_quarantined(book, quarantine, scores, reasons)
    assert found["debtor_id"].tolist() == ["D7"]
    assert found["reasons"].tolist() == ["no_fx_rate:USD (1)"]


def test_champion_on_keeps_a_time_written_after_a_space(mlflow_uri) -> None:
    """ISO 8601 as Python reads it lets a space stand for the 'T' (E2): `2024-02-01 12:00` is noon,
    not the end of the day."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["models", "champion-on", "2024-02-01 12:00", "--runs", "/nonexistent"])
    assert result.exit_code == 1, result.output  # no champion, no run: exit 1
    assert "no champion of ews-pd at 2024-02-01 12:00:00 UTC" in result.output, result.output


def _master_book(history: pd.DataFrame) -> Portfolio:
    """One debtor B: one open invoice of 200 issued 2024-01-05; the export day's snapshot says limit
    1000, segment y."""
    s = lambda v: pd.array(v, dtype="string")  # noqa: E731
    invoices = pd.DataFrame(
        {
            "invoice_id": s(["I2"]),
            "debtor_id": s(["B"]),
            "issue_date": pd.to_datetime(["2024-01-05"]),
            "due_date": pd.to_datetime(["2024-02-05"]),
            "amount": [200.0],
            "currency": s(["EUR"]),
            "disputed": [False],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": s([]),
            "debtor_id": s([]),
            "invoice_id": s([]),
            "paid_on": pd.to_datetime([]),
            "amount": pd.Series([], dtype="float64"),
        }
    )
    debtors = pd.DataFrame(
        {"debtor_id": s(["B"]), "segment": s(["y"]), "country": s(["FR"]), "credit_limit": [1000.0]}
    )
    return Portfolio(invoices=invoices, payments=payments, debtors=debtors, debtor_history=history)


def test_a_history_row_dated_on_the_as_of_date_holds_on_that_date() -> None:
    """DESIGN's rule reads inputs dated <= T, and a debtor_history row holds from its valid_from
    (E9, E12, E15: the session's tests date no row on a month-end). B's limit is 400 from 2024-01-31
    and 800 from 2024-02-01: at T = 2024-01-31 the features, the nightly's debtors table and the
    training's snapshot check all read 400 (utilisation 200 / 400 = 0.5), not the snapshot's 1000."""
    from features.engine import build_bucket
    from features.master import debtors_at, snapshot_rows

    history = pd.DataFrame(
        {
            "debtor_id": pd.array(["B", "B"], dtype="string"),
            "valid_from": pd.to_datetime(["2024-01-31", "2024-02-01"]),
            "credit_limit": [400.0, 800.0],
        }
    )
    book = _master_book(history)
    got = build_bucket(book, ["2024-01-31", "2024-02-29"]).features
    assert got["credit_limit"].tolist() == [400.0, 800.0]
    assert got["utilisation"].round(6).tolist() == [0.5, 0.25]
    assert debtors_at(book.debtors, history, "2024-01-31")["credit_limit"].tolist() == [400.0]
    keys = pd.DataFrame({"debtor_id": ["B", "B"], "as_of": pd.to_datetime(["2024-01-30", "2024-01-31"])})
    assert snapshot_rows(history, keys).tolist() == [True, False]


def test_the_limit_cut_check_counts_debtors_and_leaves_out_debtors_without_invoicing() -> None:
    """``features.master.limit_cut_check`` (E17, E18): 20 defaulting *debtors* are needed, not 20
    rows, and a row without invoicing in the last 365 days has no ratio. Each debtor invoices 600 in
    365 days (600 / 6 = 100); the 40 others have a limit of 100 (1.00 x).
    - 10 defaulting debtors at two month-ends each, limit 30 (0.30 x): 20 rows but 10 debtors: silent.
    - 20 defaulting debtors at 0.30 x and 21 more that invoiced nothing (limit 100, no ratio): the
      median of the 20 with a ratio is 0.30 x, below 0.75 x the others': it fires, naming 20 debtors
      (with the 21 inside, their median would be 100 / 0 and it would stay silent)."""
    from features.master import limit_cut_check

    def rows(ids: list[str], ends: list[str], label: int, limit: float, invoiced: float) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"debtor_id": d, "as_of": pd.Timestamp(e), "label": label, "credit_limit": limit}
                | {"invoice_amount_365d": invoiced}
                for d in ids
                for e in ends
            ]
        )

    others = rows([f"N{i}" for i in range(40)], ["2024-01-31"], 0, 100.0, 600.0)
    twice = rows([f"P{i}" for i in range(10)], ["2024-01-31", "2024-02-29"], 1, 30.0, 600.0)
    assert limit_cut_check(pd.concat([twice, others], ignore_index=True)) is None
    cut = rows([f"P{i}" for i in range(20)], ["2024-01-31"], 1, 30.0, 600.0)
    idle = rows([f"Q{i}" for i in range(21)], ["2024-01-31"], 1, 100.0, 0.0)
    found = limit_cut_check(pd.concat([cut, idle, others], ignore_index=True))
    assert found is not None
    assert (found.defaulting, found.others, found.rows, found.debtors) == (0.3, 1.0, 20, 20)


def test_limit_over_on_records_live_debtors_only() -> None:
    """``pipelines.scoring.watchlist.limit_over_on`` (E26): the date a *live* debtor was last over a
    limit. All three owe 2,000 against a current limit of 1,000 (over it by 1,000 at any margin below
    100 %) and have no need (credit_need 0: the recommended-limit test is off). D1 is live: tonight's
    date. D2 is in default and was never over before: none (NaT). D3 is in default, last over on
    2024-01-31: that date is kept, not moved to tonight."""
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.watchlist import limit_over_on

    scored = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2", "D3"],
            "as_of": pd.to_datetime(["2024-03-31"] * 3),
            "in_default": [False, True, True],
            "open_balance": [2000.0] * 3,
            "credit_limit_current": [1000.0] * 3,
            "credit_limit_recommended": [1000.0] * 3,
            "credit_need": [0.0] * 3,
            "limit_over_on_prev": pd.to_datetime([None, None, "2024-01-31"]),
        }
    )
    got = limit_over_on(scored, NightlyConfig())
    assert got.tolist() == [pd.Timestamp("2024-03-31"), pd.NaT, pd.Timestamp("2024-01-31")]


def test_amounts_lost_are_read_in_the_notation_the_file_wrote() -> None:
    """``partly_quarantined`` (b963e26) summed the quarantine's amounts as written after removing every
    ",": a decimal-comma source's rows read 1,000 x too small or 100 x too large. D1 lost ``1.200,50``
    USD and ``-0,50`` EUR (1,200.50 and -0.50); D2 lost ``1.500`` EUR, a whole amount whose notation the
    other rows show (decimal comma): 1,500.00. Alone, ``1.200`` (1.2 or 1,200?) is "amount unread"."""
    from pipelines.flows.nightly import partly_quarantined

    rows = pd.DataFrame(
        {
            "debtor_id": ["D1", "D1", "D2"],
            "reason": ["no_fx_rate:USD", "amount_not_positive", "missing_value:due_date"],
            "amount": ["1.200,50", "-0,50", "1.500"],
            "currency": ["USD", "EUR", "EUR"],
        }
    )
    scores = pd.DataFrame({"debtor_id": ["D1", "D2"], "pd": [0.01, 0.02]})
    found = partly_quarantined(rows, scores)
    assert found["amounts"].tolist() == ["-0.50 EUR, 1,200.50 USD", "1,500.00 EUR"]
    alone = partly_quarantined(rows.iloc[[2]].assign(amount="1.200"), scores)
    assert alone["amounts"].tolist() == ["amount unread EUR"]


def test_written_amounts_read_by_the_ingests_own_parser() -> None:
    """The lost amounts of ``partly_quarantined`` are read with the ingest's parser
    (``pipelines.sources.parse.parse_numbers``) in the notation the rows show: a decorated amount as an
    accounting export writes it (a currency sign, a negative in parentheses) is read, not said
    "amount unread"; grouping and notation as before (hand values)."""
    import pandas as pd

    from pipelines.flows.nightly import written_amounts

    got = list(written_amounts(pd.Series(["1.200,50", "-0,50", "1.200", "€1.200,50", "(5,00)"])))
    assert got == [1200.5, -0.5, 1200.0, 1200.5, -5.0]
    assert list(written_amounts(pd.Series(["1,200.50", "12.5", "1,200"]))) == [1200.5, 12.5, 1200.0]
