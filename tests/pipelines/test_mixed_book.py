"""A book with both invoices and monthly statements (mixed): the queues read the days and the amounts its
label reads, from both accounts of a debtor."""

from __future__ import annotations

import pandas as pd
import pytest

from features.engine import build_bucket
from features.params import DefaultDefinition
from features.tables import Portfolio
from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.queue import build_queues
from pipelines.scoring.score import exposure_columns
from tests.features.ledgers import frame, inv, pay

AS_OF = pd.Timestamp("2024-03-31")


def _statement(debtor: str, balance: float, dpd: int) -> dict:
    return {
        "debtor_id": debtor,
        "period_end": AS_OF,
        "balance": balance,
        "amount_due": balance,
        "amount_paid": 0.0,
        "days_past_due": dpd,
        "credit_limit": 2000.0,
    }


def mixed_book() -> Portfolio:
    """i3: an invoice of 300.00 due 2024-02-29, unpaid (31 days past due at 2024-03-31), no statement.
    m1: its invoice paid before due, and a statement of 500.00 at 60 days. m2: an invoice of 100.00 due
    2024-01-31, unpaid (60 days: February 29 + March 31), and a statement of 5.00 at 30 days. s4 and s5:
    statements only, 800.00 at 45 days and 900.00 at 120 days (in default: 120 >= 90)."""
    return Portfolio(
        invoices=frame(
            "invoices",
            [
                inv("I1", "m1", "2024-01-01", "2024-01-31", 100.0),
                inv("I2", "m2", "2024-01-01", "2024-01-31", 100.0),
                inv("I3", "i3", "2024-02-01", "2024-02-29", 300.0),
            ],
        ),
        payments=frame("payments", [pay("P1", "m1", "2024-01-20", 100.0, "I1")]),
        statements=frame(
            "statements",
            [_statement("m1", 500.0, 60), _statement("m2", 5.0, 30), _statement("s4", 800.0, 45)]
            + [_statement("s5", 900.0, 120)],
        ),
    )


def queues(min_open: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    built = build_bucket(mixed_book(), [AS_OF], DefaultDefinition(min_open_amount=min_open))
    f = built.features
    flags = built.defaults.set_index("debtor_id")["in_default_at_asof"]
    in_default = f["debtor_id"].map(flags).astype(bool).to_numpy()
    scored = f[["debtor_id"]].assign(
        in_default=in_default,
        name=f["debtor_id"],
        segment="retail",
        pd=[1.0 if d else 0.05 for d in in_default],
        band="C",
        **exposure_columns(f),
    )
    q, r = build_queues(scored, built.oldest_open.drop(columns="as_of"), NightlyConfig())
    return q.set_index("debtor_id"), r.set_index("debtor_id")


@pytest.mark.parametrize("min_open", [0.0, 10.0])
def test_a_mixed_books_queues_read_both_accounts_days_and_amounts(min_open: float) -> None:
    """By hand (PD 0.05; queue rules: 90 days agency, 60 final notice, 30 call, else reminder; recovery: 90
    agency unless older than 180 or 10,000.00 exposed). A debtor's invoices and its statement are two
    accounts: amounts add up, the days are the higher (a default by either is a default).
    i3 300.00, 31 days, call, I3. m1 0 + 500.00 = 500.00 overdue, 60 days (its statement), final notice, no
    overdue invoice. m2 100.00 + 5.00 = 105.00 (aging 31-60: 100.00, 1-30: 5.00), 60 days (its invoice's;
    at threshold 10 its statement of 5.00 reads 0 days), final notice, I2. s4 800.00, 45 days, call.
    s5 in default: the recovery queue, 900.00 exposed, 120 days, agency referral. Before session 38
    the queues read the invoices alone: m1 and s4 were in no queue (overdue 0 / unknown), m2 read
    100.00, and s5 was in no recovery queue (no exposure known)."""
    q, r = queues(min_open)
    assert sorted(q.index) == ["i3", "m1", "m2", "s4"]
    assert q.loc[["i3", "m1", "m2", "s4"], "overdue_amount"].tolist() == [300.0, 500.0, 105.0, 800.0]
    assert q.loc[["i3", "m1", "m2", "s4"], "dpd"].tolist() == [31.0, 60.0, 60.0, 45.0]
    assert q.loc[["i3", "m1", "m2", "s4"], "next_action"].tolist() == [
        "call",
        "final_notice",
        "final_notice",
        "call",
    ]
    assert q.loc["m2", ["overdue_amount_1_30", "overdue_amount_31_60"]].tolist() == [5.0, 100.0]
    assert q.loc["i3", "oldest_invoice_id"] == "I3" and q.loc["m2", "oldest_invoice_id"] == "I2"
    assert pd.isna(q.loc["m1", "oldest_invoice_id"]) and pd.isna(q.loc["s4", "oldest_invoice_id"])
    assert list(r.index) == ["s5"]
    assert (r.loc["s5", "exposure"], r.loc["s5", "dpd"], r.loc["s5", "next_action"]) == (
        900.0,
        120.0,
        "agency_referral",
    )


def test_a_debtors_two_accounts_add_up_in_its_exposure_and_its_credit_need() -> None:
    """By hand. d1: open invoices 100.00 (20.00 disputed), 60 days past due, invoiced 900.00 over 90 days and
    3,650.00 over 365 on 30-day terms (10 a day: need 300.00); its statement: 500.00 at 30 days, new charges
    10 % of a 2,000.00 limit = 200.00 a month (one cycle of 30.4375 days: need 200.00). So open and overdue
    600.00 (31-60: 100.00, 1-30: 500.00), 20.00 disputed, 60 days, need 300.00 + 200.00 = 500.00. d2 has a
    statement only: 800.00 at 45 days (31-60), 200.00 a month (20 % of 1,000.00), terms one cycle, need 200.00.
    Before session 38 d1 read 100.00 and need 300.00, d2 nothing (NaN)."""
    from pipelines.config.credit import CreditPolicyConfig
    from pipelines.scoring.limits import recommend_limits

    nan = float("nan")
    f = pd.DataFrame(
        {
            "open_balance": [100.0, nan],
            "overdue_amount": [100.0, nan],
            "overdue_amount_1_30": [0.0, nan],
            "overdue_amount_31_60": [100.0, nan],
            "overdue_amount_61_90": [0.0, nan],
            "overdue_amount_90p": [0.0, nan],
            "open_disputed_amount": [20.0, nan],
            "dpd_current_max": [60.0, nan],
            "invoice_amount_90d": [900.0, nan],
            "invoice_amount_365d": [3650.0, nan],
            "payment_terms_mean_365d": [30.0, nan],
            "st_balance_last": [500.0, 800.0],
            "st_dpd_last": [30.0, 45.0],
            "st_spending_to_limit_6m": [0.1, 0.2],
            "st_credit_limit": [2000.0, 1000.0],
        }
    )
    got = exposure_columns(f)
    assert got["open_balance"].tolist() == [600.0, 800.0] and got["overdue_amount"].tolist() == [600.0, 800.0]
    assert got["overdue_amount_1_30"].tolist() == [500.0, 0.0]
    assert got["overdue_amount_31_60"].tolist() == [100.0, 800.0]
    assert got["open_disputed_amount"].tolist() == [20.0, 0.0] and got["dpd_current_max"].tolist() == [
        60.0,
        45.0,
    ]
    assert got["payment_terms_mean_365d"][1] == 30.4375
    inputs = pd.DataFrame(
        {
            "band": ["C", "C"],
            "in_default": [False, False],
            "invoiced": got["invoice_amount_365d"],  # the default window since session 41 (90 days before)
            "terms_days": got["payment_terms_mean_365d"],
        }
    )
    need = recommend_limits(inputs, CreditPolicyConfig())["credit_need"].tolist()
    assert need == pytest.approx([500.0, 200.0])
    # over 90 days the same: d1 900.00 / 90 = 10 a day on invoices, the statement's 200.00 a month
    inputs["invoiced"] = got["invoice_amount_90d"]
    quarter = CreditPolicyConfig(volume_window_days=90)
    assert recommend_limits(inputs, quarter)["credit_need"].tolist() == pytest.approx([500.0, 200.0])


def test_a_mixed_books_receivables_and_aging_add_the_statements_balances() -> None:
    """The report's DSO and aging sums at 2024-03-31, by hand: open invoices i3 300.00 (31 days) and m2 100.00
    (60 days) = 400.00; the latest statements' balances 500.00 (60 days) + 5.00 (30) + 800.00 (45) + 900.00
    (120) = 2,205.00; so 2,605.00 receivables: 1-30 5.00, 31-60 300.00 + 100.00 + 500.00 + 800.00 = 1,700.00,
    91-180 900.00. Before session 38 the invoices' 400.00 alone."""
    built = build_bucket(mixed_book(), [AS_OF], DefaultDefinition(), portfolio_dates=[AS_OF])
    at = built.portfolio.at.loc[AS_OF]
    assert at["receivables"] == pytest.approx(2605.0)
    got = [at["current"], at["1-30"], at["31-60"], at["61-90"], at["91-180"], at[">180"]]
    assert got == pytest.approx([0.0, 5.0, 1700.0, 0.0, 900.0, 0.0])


def test_a_mixed_books_report_says_the_statements_count_beside_the_invoices(tmp_path) -> None:
    """report.html of the mixed book as of 2024-03-31, the watchlist s4 (statements only) and m2 (both). The
    aging table is the book's 2,605.00 (see above; before session 38 the report read the invoices' 400.00),
    with a note; each debtor page says its latest statement counts beside its invoices (before: s4's page
    read "Open invoices (0, 0.00)" and "No open invoice at as-of." next to an exposure of 800.00)."""
    import numpy as np

    from pipelines.engine import Book
    from pipelines.report import render_report
    from pipelines.report.portfolio import build_portfolio
    from pipelines.scoring.watchlist import assign_bands

    cfg = NightlyConfig()
    ids = ["i3", "m1", "m2", "s4"]
    today = pd.DataFrame({"debtor_id": pd.Series(ids, dtype="string"), "pd": [0.05, 0.3, 0.2, 0.4]})
    today = today.assign(in_default=False, band=assign_bands(today["pd"], cfg), name=ids, segment="retail",
                         as_of=AS_OF, open_balance=[300.0, 500.0, 105.0, 800.0],
                         overdue_amount=[300.0, 500.0, 105.0, 800.0])  # fmt: skip
    book = Book.in_memory(mixed_book(), 100)
    watch = pd.Index(["s4", "m2"])
    view = build_portfolio(book, AS_OF.date(), today, watch, cfg, "EUR", tmp_path / "none", None)
    assert view.aging.loc["2024-03-31", "receivables"] == pytest.approx(2605.0)
    html = render_report(
        as_of="2024-03-31", model={"name": "m", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None,
        watchlist=today.iloc[[3, 2]].assign(triggers="threshold", reason_1="late", pd_change=np.nan, band_prev=None),
        reason_columns=["reason_1"], counts={"scored": 4, "in_default": 0, "flagged": 2, "queue": 4,
        "expected_loss": 0.0, "bands": {}, "triggers": {}}, drift=pd.DataFrame(columns=["variable", "psi",
        "status", "missing_share", "reference_missing"]), calibration=None, waterfalls=[], cfg=cfg,
        portfolio=view,
    )  # fmt: skip
    assert "receivables add the open invoices and the latest statements" in html
    assert html.count("This book also holds monthly statements: a debtor") == 2  # s4 and m2


def test_a_bucket_of_statement_accounts_alone_counts_in_the_scoring_passs_sums() -> None:
    """The mixed book cut into 2 debtor buckets (hash of debtor_id): bucket 0 holds i3, m1, m2 and s4,
    bucket 1 only s5's statement (900.00 at 120 days). The scoring pass sums the report's DSO and aging
    bucket by bucket (``features.engine.build_bucket`` with ``portfolio_dates``, as
    ``pipelines.scoring.score.score_bucket``): by hand the whole book's 2,605.00 (above), 900.00 of it in
    91-180, as the report's own read of the buckets (``portfolio_parts``). Before session 39 a bucket
    without an invoice gave no sums: 1,705.00, 91-180 empty."""
    from features.portfolio import combine_parts
    from pipelines.engine import Book, has_ledger
    from pipelines.report.portfolio import portfolio_parts

    book = Book(buckets=2, frames=mixed_book())
    assert book.read(1).invoices.empty and list(book.read(1).statements["debtor_id"]) == ["s5"]
    found = [
        build_bucket(book.read(k), [AS_OF], DefaultDefinition(), portfolio_dates=[AS_OF]).portfolio
        for k in range(book.buckets)
        if has_ledger(book.read(k))
    ]
    at = combine_parts([p for p in found if p is not None]).at.loc[AS_OF]
    assert at["receivables"] == pytest.approx(2605.0) and at["91-180"] == pytest.approx(900.0)
    assert portfolio_parts(book, [AS_OF], 90, pd.Index([])).at.loc[AS_OF, "receivables"] == pytest.approx(
        2605.0
    )


def test_the_cash_forecast_says_which_statement_balances_it_leaves_out(tmp_path) -> None:
    """The payment-date model forecasts open invoices; a statement has no invoice due dates. The mixed book's
    latest statements by hand: m1 500.00, m2 5.00, s4 800.00, s5 900.00 = 2,205.00 on 4 accounts (i3 has
    none), which cash_forecast.xlsx's about sheet and report.html's cash section say are not forecast (the
    card: "open invoices only"). Before session 39 nothing said so: the 13 weeks' total read as the book's."""
    import datetime as dt

    import numpy as np
    import openpyxl

    from pipelines.engine import Book
    from pipelines.report import render_report
    from pipelines.report.portfolio import build_portfolio
    from pipelines.scoring.paydate import statement_balances, statements_not_forecast, write_cash_workbook
    from pipelines.scoring.watchlist import assign_bands
    from tests.pipelines.test_review_s30 import _cash_rows

    built = build_bucket(mixed_book(), [AS_OF], DefaultDefinition())
    assert statement_balances(built.features) == (2205.0, 4)
    # an invoices-only bucket's frame (no statement features): nothing left out; a bucket of statement
    # accounts alone (no invoice feature; bucket 1 of 2: s5) counts its balances: 900.00
    assert statement_balances(built.features.drop(columns="st_balance_last")) is None
    alone = build_bucket(Book(buckets=2, frames=mixed_book()).read(1), [AS_OF], DefaultDefinition()).features
    assert "days_since_last_invoice" not in alone and statement_balances(alone) == (900.0, 1)
    said = statements_not_forecast((2205.0, 4), "EUR")
    assert said == (
        "The cash-in forecast covers the open invoices only: the statement accounts' balances, 2,205.00 EUR on 4 "
        "accounts (their latest statements), are not forecast (a monthly statement carries no invoice due dates "
        "to predict payment dates from); add them by hand when you need the whole book's cash-in"
    )
    assert statements_not_forecast(None, "EUR") == "" and statements_not_forecast((0.0, 0), "EUR") == ""
    cash = _cash_rows([(1, "all", 100.0)])
    path = write_cash_workbook(cash, tmp_path / "c.xlsx", AS_OF.date(), "EUR", "v1", said)
    assert openpyxl.load_workbook(path)["about"]["A1"].value.endswith(
        "cash_forecast.csv holds the same weeks with each segment's interval. " + said + "."
    )
    stage = tmp_path / "stage"
    stage.mkdir()
    cash.to_csv(stage / "cash_forecast.csv", index=False)
    cfg = NightlyConfig()
    today = pd.DataFrame({"debtor_id": pd.Series(["i3"], dtype="string"), "pd": [0.05]})
    today = today.assign(in_default=False, band=assign_bands(today["pd"], cfg), name="i3", segment="retail",
                         as_of=AS_OF, open_balance=300.0, overdue_amount=300.0)  # fmt: skip
    view = build_portfolio(
        Book.in_memory(mixed_book(), 100), dt.date(2024, 3, 31), today, pd.Index([]), cfg, "EUR", tmp_path / "none",
        stage, cash_left_out=said,
    )  # fmt: skip
    html = render_report(
        as_of="2024-03-31", model={"name": "m", "version": "1"}, config_hash="0" * 64, scored=today,
        previous=None, previous_as_of=None,
        watchlist=today.iloc[:0].assign(triggers="", reason_1="", pd_change=np.nan, band_prev=None),
        reason_columns=["reason_1"], counts={"scored": 1, "in_default": 0, "flagged": 0, "queue": 0,
        "expected_loss": 0.0, "bands": {}, "triggers": {}}, drift=pd.DataFrame(columns=["variable", "psi",
        "status", "missing_share", "reference_missing"]), calibration=None, waterfalls=[], cfg=cfg,
        portfolio=view,
    )  # fmt: skip
    shown = said.replace("'", "&#39;")  # Jinja's escape of the apostrophes
    assert f'<p class="note" id="cash-left-out"><b>Not forecast</b>: {shown}.</p>' in html
    assert "expected cash-in, next 13 weeks (open invoices only)" in html
