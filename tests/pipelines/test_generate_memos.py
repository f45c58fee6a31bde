"""``ews generate --credit-memos SHARE`` (session 20): a generated book with credit memos, the same
book otherwise. Memos are moved from the cash of invoices the book pays in full, so the invoices,
debtors, events and ground truth are the book's without memos, byte for byte."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.synthetic import generate, regime_params


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    root = tmp_path_factory.mktemp("memos")
    params = regime_params("base", debtors=60, months=12, seed=4)
    generate(params, root / "plain")
    summary = generate(params, root / "memo", credit_memos=0.2)
    return root / "plain", root / "memo", summary


def test_memos_move_amounts_from_cash_and_leave_the_rest_alone(books) -> None:
    plain, memo, summary = books
    for name in ("invoices.parquet", "debtors.parquet", "events.parquet", "truth.parquet"):
        assert sha(plain / name) == sha(memo / name), name
    assert "credit_memos" not in json.loads((plain / "generate-summary.json").read_text())
    inv = pd.read_parquet(plain / "invoices.parquet")
    p0 = pd.read_parquet(plain / "payments.parquet")
    p1 = pd.read_parquet(memo / "payments.parquet")
    assert "kind" not in p0 and set(p1["kind"]) == {"cash", "credit"}
    credit = p1.loc[p1["kind"] == "credit"].merge(inv, on="invoice_id", suffixes=("", "_inv"))
    made = summary["credit_memos"]
    assert len(credit) == made["full"] + made["partial"] > 0
    assert (credit["paid_on"] > credit["issue_date"]).all() and (credit["amount"] > 0).all()
    # every invoice gets the same total (cash + credit) as without memos, to the cent
    cents = lambda f: f.groupby("invoice_id")["amount"].sum().mul(100).round().astype("int64")  # noqa: E731
    pd.testing.assert_series_equal(cents(p0), cents(p1), check_names=False)
    # wholly credited: the memo holds the invoice's amount and no cash row is left for it
    full = credit.loc[np.isclose(credit["amount"], credit["amount_inv"]), "invoice_id"]
    assert len(full) == made["full"]
    cash = p1.loc[p1["kind"] == "cash"]
    assert not cash["invoice_id"].isin(full).any()
    # the other cash rows are the book's, a partly credited invoice's last one lowered by its memo
    kept = cash.merge(p0, on="payment_id", suffixes=("", "_0"))
    assert len(kept) == len(cash) and (kept["paid_on"] == kept["paid_on_0"]).all()
    lowered = kept.loc[~np.isclose(kept["amount"], kept["amount_0"])]
    assert len(lowered) == made["partial"] and (lowered["amount"] < lowered["amount_0"]).all()


def test_the_option_on_the_command_line(tmp_path) -> None:
    from pipelines.cli import app

    out = tmp_path / "book"
    args = ["generate", "--debtors", "30", "--months", "8", "--seed", "2", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--credit-memos", "0.1"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "generate-summary.json").read_text())["params"]["credit_memos"] == 0.1
    refused = CliRunner().invoke(app, [*args, "--credit-memos", "0.1", "--ledger", "statements"])
    assert refused.exit_code == 2 and "--credit-memos adds payment rows" in refused.output
    too_many = CliRunner().invoke(app, [*args, "--credit-memos", "0.7"])
    assert too_many.exit_code == 2
