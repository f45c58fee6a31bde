"""A 3-decimal reporting currency (KWD, BHD, OMR, JOD, TND) keeps its third decimal in every cash
output: the payment-date files and the queue's ``expected_cash_30d``, the queues' amounts, the plan
check, the manifest's sums and the workbooks' number format. Hand-built Kuwaiti dinar book, values
by hand; a 2-decimal currency keeps the rounding of before.

The payment-date model is a real LightGBM booster fitted on 200 settled and 200 open invoice-weeks
with leaves too large to split: one leaf, hazard exactly 0.5 every week. So P(paid by the end of
week k) = 1 - 0.5^k: 0.5, 0.75, 0.875, 0.9375, 0.96875, and P(paid within 30 days) is linear inside
week 5 (days 29-35): 0.9375 + (30 - 28) / 7 x 0.03125 = 0.946428571...

    debtor  open at 2024-08-31       expected in 30 days                  rounded (2 decimals before)
    K1      12.345                   12.345 x 0.946428571 = 11.683661     11.684  (11.68)
    K2       7.023                    7.023 x 0.946428571 =  6.646768      6.647  ( 6.65)
    cash    19.368 in all: week 1 x 0.5 = 9.684, week 2 x 0.25 = 4.842, week 3 x 0.125 = 2.421
                                                                          (9.68, 4.84, 2.42)
"""

from __future__ import annotations

import datetime as dt
import zipfile

import numpy as np
import pandas as pd
import pytest

from features.paydate import FEATURES, PERIOD_DAYS
from features.tables import Portfolio
from models.paydate import PaydateParams, fit_hazard
from pipelines.adapters.exports import write_queue
from pipelines.config.nightly import NightlyConfig
from pipelines.engine import Book
from pipelines.ingest.decimals import money_places
from pipelines.scoring.plans import check_plans
from pipelines.scoring.queue import build_queues

AS_OF = dt.date(2024, 8, 31)


def kwd_book() -> Portfolio:
    """K1 paid an invoice of 5.000 in July and owes 12.345 (due 08-31); K2 owes 7.023 (due 09-09)."""
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I0", "I1", "I2"],
            "debtor_id": ["K1", "K1", "K2"],
            "issue_date": pd.to_datetime(["2024-06-01", "2024-08-01", "2024-08-10"]),
            "due_date": pd.to_datetime(["2024-07-01", "2024-08-31", "2024-09-09"]),
            "amount": [5.0, 12.345, 7.023],
            "currency": "KWD",
            "disputed": False,
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["P0"],
            "debtor_id": ["K1"],
            "invoice_id": ["I0"],
            "paid_on": pd.to_datetime(["2024-07-01"]),
            "amount": [5.0],
        }
    )
    debtors = pd.DataFrame(
        {
            "debtor_id": ["K1", "K2"],
            "name": ["K one", "K two"],
            "segment": ["retail", "retail"],
            "country": ["KW", "KW"],
            "onboarded_on": pd.Timestamp("2024-01-01"),
        }
    )
    return Portfolio(debtors=debtors, invoices=invoices, payments=payments)


@pytest.fixture(scope="module")
def half_hazard():
    """A real booster of one leaf: hazard 0.5 in every week."""
    rows = pd.DataFrame({f: np.zeros(400, dtype=np.float32) for f in FEATURES})
    rows["label"] = np.tile([0, 1], 200)
    params = PaydateParams(horizon_weeks=16, n_estimators=40, min_child_samples=1000, rows_per_leaf=0)
    booster = fit_hazard(rows, params)
    assert booster.num_trees() == 1 and booster.predict(np.zeros((1, len(FEATURES)), np.float32))[0] == 0.5
    return booster


def test_money_places() -> None:
    assert [money_places(c) for c in ("KWD", " bhd ", "OMR", "JOD", "TND", "EUR", "JPY", None, "")] == [
        3, 3, 3, 3, 3, 2, 2, 2, 2,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "currency,want_30d,want_weeks",
    [("KWD", [11.684, 6.647, 0.0], [9.684, 4.842, 2.421]), ("EUR", [11.68, 6.65, 0.0], [9.68, 4.84, 2.42])],
)
def test_payment_date_files_keep_the_third_decimal(
    half_hazard, tmp_path, mlflow_uri, currency, want_30d, want_weeks
) -> None:
    from pipelines.adapters.paydate_registry import log_paydate
    from pipelines.adapters.registry import promote
    from pipelines.scoring.paydate import paydate_outputs

    logged = log_paydate(
        half_hazard,
        spec={
            "features": list(FEATURES),
            "horizon_weeks": 16,
            "period_days": PERIOD_DAYS,
            "cash_shock_sd": 0.0,
        },
        metrics={"mae_days": 5.0},
        params={"horizon_weeks": 16},
        tables={},
        provenance={"git_commit": "test"},
        artifacts=tmp_path / "art",
    )
    promote(logged.version, "test", name="ews-paydate")
    queue = pd.DataFrame({"debtor_id": pd.array(["K1", "K2", "K3"], dtype="string")})
    out, files = paydate_outputs.fn(tmp_path, Book.in_memory(kwd_book(), 10**9), AS_OF, queue, None, currency)
    assert out["expected_cash_30d"].tolist() == want_30d
    inv = pd.read_parquet(files["invoice_forecast.parquet"])
    assert inv["open_amount"].tolist() == [12.345, 7.023]
    assert inv["p_paid_30d"].tolist() == [0.9464, 0.9464]
    text = files["invoice_forecast.csv"].read_text(encoding="utf-8-sig")
    assert ",12.345,KWD," in text and ",7.023,KWD," in text  # the invoices' own currency, as read
    cash = pd.read_csv(files["cash_forecast.csv"], encoding="utf-8-sig")
    total = cash[cash["segment"] == "all"]
    assert total["expected_cash"].head(3).tolist() == want_weeks
    assert (total["currency"] == currency).all()


def scored_kwd() -> pd.DataFrame:
    """Live K1 (PD 0.3, exposure 12.345, overdue 2.005 of it disputed 0.003), live K2 (PD 0.35,
    exposure 1.005, overdue 0.004: above queue.min_overdue 0, it queues) and K3 in default (exposure
    10.005)."""
    return pd.DataFrame(
        {
            "debtor_id": pd.Series(["K1", "K2", "K3"], dtype="string"),
            "name": ["K one", "K two", "K three"],
            "segment": ["retail"] * 3,
            "in_default": [False, False, True],
            "pd": [0.3, 0.35, 1.0],
            "band": ["D", "C", "default"],
            "open_balance": [12.345, 1.005, 10.005],
            "overdue_amount": [2.005, 0.004, 10.005],
            "overdue_amount_1_30": [2.005, 0.004, 0.0],
            "overdue_amount_31_60": [0.0, 0.0, 0.0],
            "overdue_amount_61_90": [0.0, 0.0, 0.0],
            "overdue_amount_90p": [0.0, 0.0, 10.005],
            "open_disputed_amount": [0.003, 0.0, 0.0],
            "dpd_current_max": [0.0, 0.0, 0.0],
            "as_of": pd.Timestamp(AS_OF),
        }
    )


def test_queues_keep_the_third_decimal() -> None:
    """LGD 0.4 (queue.lgd.default), no days-past-due weight at 0 DPD:
    K1 EL = 0.3 x 12.345 x 0.4 = 1.4814 -> 1.481 (1.48 in cents); K2 0.35 x 1.005 x 0.4 = 0.1407 -> 0.141
    (0.14); K3 (recovery) recoverable 10.005 x 0.6 = 6.003 (6.00 in cents).
    K1's 0.003 disputed is a dispute in fils (above half a fils), not in cents (below half a cent)."""
    cfg = NightlyConfig.model_validate({"queue": {"lgd": {"default": 0.4}}})
    none = pd.DataFrame(columns=["debtor_id", "oldest_invoice_id", "oldest_due_date"])
    q, r = build_queues(scored_kwd(), none, cfg, places=3)
    q = q.set_index("debtor_id")
    assert q["expected_loss"].to_dict() == {"K1": 1.481, "K2": 0.141}
    assert q["priority"].to_dict() == {"K1": 1.481, "K2": 0.141}
    assert r["recoverable_amount"].tolist() == [6.003]
    assert r["recovery_priority"].tolist() == [6.003]  # 0 days past due: not halved
    assert q.loc["K1", "disputed_amount"] == 0.003
    cents_q, cents_r = build_queues(scored_kwd(), none, cfg)  # 2 decimals: the rounding of before
    assert cents_q.set_index("debtor_id")["expected_loss"].to_dict() == {"K1": 1.48, "K2": 0.14}
    assert cents_r["recoverable_amount"].tolist() == [6.0]
    # the dispute: 0.003 is above half a fils (a dispute to resolve beside the action), below half a cent
    assert q.loc["K1", "dispute_action"] == "resolve_dispute"
    assert cents_q.set_index("debtor_id").loc["K1", "dispute_action"] == ""


def test_plan_short_by_one_fils_is_broken() -> None:
    """2 x 10.125 due by 08-31 (first due 07-15, the second 08-15, both at least 7 days before T):
    20.250 due; paid 20.249: short by 0.001, above half a fils -> broken; in cents 20.25 paid, kept."""
    plans = pd.DataFrame(
        {
            "debtor_id": pd.Series(["K1"], dtype="string"),
            "agreed_on": pd.to_datetime(["2024-07-01"]),
            "first_due": pd.to_datetime(["2024-07-15"]),
            "installment_amount": [10.125],
            "installments": pd.array([6], dtype="Int64"),
            "status": pd.Series(["active"], dtype="string"),
        }
    )
    pay = pd.DataFrame(
        {
            "debtor_id": pd.Series(["K1", "K1"], dtype="string"),
            "paid_on": pd.to_datetime(["2024-07-15", "2024-08-15"]),
            "amount": [10.125, 10.124],
        }
    )
    fils = check_plans(plans, pay, pd.Timestamp(AS_OF), places=3).loc["K1"]
    assert fils["due"] == 20.25 and fils["paid"] == 20.249 and not fils["kept"]
    assert fils["text"].startswith(
        "payment plan broken: 20.249 paid since 2024-07-01 of 20.250 due by 2024-08-31"
    )
    assert "6 x 10.125 from 2024-07-15" in fils["text"]
    cents = check_plans(plans, pay, pd.Timestamp(AS_OF)).loc["K1"]
    assert cents["paid"] == 20.25 and bool(cents["kept"]) and cents["text"].startswith("6 x 10.12 from")


def test_workbook_amounts_show_the_third_decimal(tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "debtor_id": pd.Series(["K1", "K2"], dtype="string"),
            "pd": [0.3, 0.001],
            "expected_loss": [1.481, 0.002],
            "expected_cash_30d": [11.684, 0.0],
        }
    )
    when = dt.datetime(2024, 8, 31)
    for currency, fmt in (("KWD", "#,##0.000"), ("EUR", "#,##0.00")):
        (tmp_path / currency).mkdir()
        files = write_queue(frame, tmp_path / currency, "collections_queue", "q", when, 10, currency)
        with zipfile.ZipFile(files["collections_queue.xlsx"]) as z:
            styles = z.read("xl/styles.xml").decode()
            sheet = z.read("xl/worksheets/sheet1.xml").decode()
        assert f'formatCode="{fmt}"' in styles
        assert "<v>1.481</v>" in sheet and "<v>11.684</v>" in sheet  # the cells: as stored
        # the totals row's cached value of expected_loss (1.481 + 0.002): the currency's decimals
        assert ("<v>1.483</v>" if currency == "KWD" else "<v>1.48</v>") in sheet


def test_the_amounts_currency_without_a_reporting_currency_in_the_manifest(tmp_path) -> None:
    """s23: ``ews train`` chose the queue key at the decimals of ingest's manifest only; an ingest
    output without a reporting currency (an older ingest) gave 2 decimals for a dinar book, where
    ``ews score`` reads the data's currency. ``feed_currency``: the manifest's, else the main
    currency of most debtors (per debtor: of most of its invoices), else the project config's."""
    import json

    from pipelines.engine import open_feed
    from pipelines.ingest import ingest_dir
    from pipelines.ingest.decimals import feed_currency

    def untouched():  # the manifest names it: the invoices are not read
        raise AssertionError("invoices read although the manifest names the reporting currency")
        yield

    assert feed_currency({"currency": {"reporting": "KWD"}}, untouched(), "EUR") == "KWD"
    # K1: 2 KWD invoices and 1 EUR -> KWD; K2: KWD; K3: EUR -> KWD on 2 of 3 debtors
    a = pd.DataFrame({"debtor_id": ["K1", "K1", "K1"], "currency": ["KWD", "EUR", "KWD"]})
    b = pd.DataFrame({"debtor_id": ["K2", "K3"], "currency": ["KWD", "EUR"]})
    assert feed_currency({}, iter([a, b]), "EUR") == "KWD"
    assert feed_currency({"currency": {"reporting": None}}, iter([a.iloc[1:2], b]), "KWD") == "EUR"
    blank = pd.DataFrame({"debtor_id": ["K1"], "currency": pd.Series([None], dtype="string")})
    assert feed_currency({"currency": {}}, iter([blank, None]), "BHD") == "BHD"  # the config's
    assert feed_currency({}, iter([blank]), None) is None
    # an ingest output whose manifest lost its currency section, read as `ews train` reads it
    raw, out = tmp_path / "raw", tmp_path / "ingested"
    raw.mkdir()
    kwd = kwd_book()
    kwd.invoices.to_parquet(raw / "invoices.parquet", index=False)
    kwd.payments.to_parquet(raw / "payments.parquet", index=False)
    ingest_dir(raw, out, as_of=AS_OF)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["currency"]["reporting"] == "KWD"
    del manifest["currency"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    feed = open_feed(out)
    book = feed.book
    assert feed_currency(feed.manifest, (book.read(k).invoices for k in range(book.buckets)), "EUR") == "KWD"
