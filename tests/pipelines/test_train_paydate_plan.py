"""The payment-date model's plan on a short history (``pipelines.flows.train_paydate``): what ``ews
train`` says when the registered model trains on fewer month-ends than ``paydate.train_snapshots``."""

from __future__ import annotations


def _tiny_book():
    from features.tables import Portfolio
    from pipelines.engine import Book
    from tests.pipelines.nightly_portfolio import make_portfolio

    tables = make_portfolio(n_debtors=120, months=20, seed=5)  # invoices from 2023-01, data end 2024-08-31
    return Book.in_memory(Portfolio(invoices=tables["invoices"], payments=tables["payments"]), 10**6)


def test_ews_train_says_when_the_registered_payment_date_model_trains_on_a_short_history() -> None:
    """The same book (snapshots from 2023-04-30, data to 2024-08-31), the shipped 16 month-ends: the
    test month-ends are 2023-12-31..2024-02-29 (26 observed weeks after each), the held-out model trains
    on the 8 month-ends 2023-04-30..2023-11-30 before them, the registered one on 2023-04-30..2024-07-31
    (16). The plan takes what there is without a word; the note says it. With 8 month-ends, none."""
    from pipelines.config.train import TrainConfig
    from pipelines.flows.train_paydate import history_headline, history_note, plan

    book = _tiny_book()
    p = plan(book, TrainConfig(), 26)
    assert p.describe()["test"] == ["2023-12-31", "2024-01-31", "2024-02-29"]
    assert (len(p.eval_train), len(p.final_train)) == (8, 16)
    # s29-ux: only the held-out check is short; it read "the history is shorter than ...: the registered
    # model trains on 16 month-ends and the held-out model ... on 8"
    assert history_note(p, 16) == (
        "the history before the test month-ends is shorter than paydate.train_snapshots (16 month-ends): the "
        "held-out model behind the figures trains on 8 (month-ends from 2023-04-30, the first with "
        "snapshots.min_history_months of history), the registered model on all 16; the gate below judges them"
    )
    assert history_note(p, 8) == ""
    # s27-ux: the console and the WARNING said the whole note (about 330 characters); one short line now
    short = "payment-date model: " + history_headline(p, 16)
    assert (
        short
        == "payment-date model: short history: held-out check on 8 month-ends (of 16 wanted), model on all 16"
    )
    assert len(short) <= 100 and history_headline(p, 8) == ""
