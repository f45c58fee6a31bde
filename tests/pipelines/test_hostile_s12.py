"""Hostile inputs, session 12 (s12-rollrate): reversed payments net out the payment they reverse.

Before: every negative payment was quarantined ``amount_not_positive`` (warned since s11) and the
payment it reversed still counted, so a bounced direct debit left its invoice looking paid.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source

INVOICES = (
    "invoice_id,debtor_id,issue_date,due_date,amount\n"
    "I1,D1,2024-01-05,2024-02-04,100\n"
    "I2,D1,2024-01-06,2024-02-05,100\n"
    "I3,D2,2024-01-07,2024-02-06,80\n"
)


def _ingest(tmp_path: Path, payments: str):
    (tmp_path / "invoices.csv").write_text(INVOICES)
    (tmp_path / "payments.csv").write_text("payment_id,debtor_id,invoice_id,paid_on,amount\n" + payments)
    files = {t: tmp_path / f"{t}.csv" for t in ("invoices", "payments")}
    source = SourceConfig(
        name="files",
        rules=RulesConfig(data_docs=False),
        tables={t: FileSource(path=p) for t, p in files.items()},
    )
    return ingest_source(source, None, as_of=dt.date(2024, 3, 31))


def test_a_reversal_nets_out_the_payment_it_reverses(tmp_path: Path) -> None:
    result = _ingest(
        tmp_path,
        "P1,D1,I1,2024-01-10,100\n"  # paid ...
        "P2,D1,I1,2024-01-20,100\n"  # ... paid again (the same amount)
        "P3,D1,I1,2024-01-25,-100\n"  # reverses the latest of the two: P2
        "P4,D1,I2,2024-01-26,40\n"  # I2: 40 paid, not reversed
        "P5,D1,I2,2024-01-27,-60\n"  # no payment of 60 on I2: unmatched
        "P6,D2,I3,2024-02-01,-80\n"  # dated before the payment it would reverse: unmatched
        "P7,D2,I3,2024-02-02,80\n"
        "P8,D2,I3,2024-02-03,0\n",  # nothing moved
    )
    pay = result.manifest["tables"]["payments"]
    assert pay["rows_in"] == 8 == pay["rows_accepted"] + pay["rows_quarantined"]
    assert sorted(result.portfolio.payments["payment_id"]) == ["P1", "P4", "P7"]
    reasons = dict(
        zip(result.quarantine["payments"]["payment_id"], result.quarantine["payments"]["reason"], strict=True)
    )
    assert reasons == {
        "P2": "reversed_payment",
        "P3": "reversal",
        "P5": "reversal_unmatched",
        "P6": "reversal_unmatched",
        "P8": "amount_not_positive",
    }
    assert pay["reasons"] == {
        "amount_not_positive": 1,
        "reversal": 1,
        "reversal_unmatched": 2,
        "reversed_payment": 1,
    }
    warnings = result.manifest["warnings"]
    assert any(
        w.startswith(
            "payments: 1 negative payment (a bounced or reversed payment, a charge-back, a refund) cancelling"
        )
        for w in warnings
    )
    assert any(w.startswith("payments: 2 negative payments matching no earlier payment") for w in warnings)
    assert any(
        w.startswith("payments: 1 row with an amount <= 0 quarantined (amount_not_positive): a payment of 0")
        for w in warnings
    )


def test_a_bounced_payment_leaves_its_invoice_open(tmp_path: Path) -> None:
    """The credit team's view: I1 paid on 2024-01-10, the direct debit bounced on 2024-01-15. The
    invoice is unpaid: on 2024-03-31 it is 56 days past due (due 2024-02-04), not settled."""
    from features.build import build_features

    result = _ingest(tmp_path, "P1,D1,I1,2024-01-10,100\nP2,D1,I1,2024-01-15,-100\nP3,D1,I2,2024-01-20,100\n")
    assert result.portfolio.payments["payment_id"].tolist() == ["P3"]
    feats = build_features(result.portfolio, ["2024-03-31"]).set_index("debtor_id")
    assert feats.loc["D1", "dpd_current_max"] == 56


def test_a_dinar_reversal_matches_to_the_fils(tmp_path: Path) -> None:
    """KWD counts thousandths (fils): -12.344 is no reversal of a payment of 12.345 (matched in whole
    cents both were 1,234 and P1 was cancelled); -7.250 does reverse P3's 7.250."""
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount,currency\n"
        "I1,D1,2024-01-05,2024-02-04,20.500,KWD\n"
        "I2,D1,2024-01-06,2024-02-05,7.250,KWD\n"
    )
    (tmp_path / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\n"
        "P1,D1,I1,2024-01-10,12.345\n"
        "P2,D1,I1,2024-01-20,-12.344\n"
        "P3,D1,I2,2024-01-21,7.250\n"
        "P4,D1,I2,2024-01-22,-7.250\n"
    )
    files = {t: tmp_path / f"{t}.csv" for t in ("invoices", "payments")}
    source = SourceConfig(
        name="files",
        rules=RulesConfig(data_docs=False),
        tables={t: FileSource(path=p) for t, p in files.items()},
    )
    result = ingest_source(source, None, as_of=dt.date(2024, 3, 31))
    pay = result.manifest["tables"]["payments"]
    assert pay["rows_in"] == 4 == pay["rows_accepted"] + pay["rows_quarantined"]
    accepted = result.portfolio.payments.set_index("payment_id")["amount"].to_dict()
    assert accepted == {"P1": 12.345}
    reasons = dict(
        zip(result.quarantine["payments"]["payment_id"], result.quarantine["payments"]["reason"], strict=True)
    )
    assert reasons == {"P2": "reversal_unmatched", "P3": "reversed_payment", "P4": "reversal"}
