"""``debtor_history`` at ingest (quarantine with reasons, rows in = accepted + quarantined), its rows read
point in time by the features, and the training's warning for month-ends it does not cover.

Expected values computed by hand from the inline rows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from features.engine import build_bucket
from features.schema import dtypes
from pipelines.flows.train import master_data_warning
from pipelines.ingest import ingest_files

AS_OF = dt.date(2024, 6, 30)


def _files(tmp_path: Path) -> dict[str, Path]:
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2"],
            "debtor_id": ["D1", "D2"],
            "issue_date": ["2024-01-01", "2024-01-15"],
            "due_date": ["2024-01-31", "2024-02-14"],
            "amount": ["100", "300"],
            "currency": ["EUR", "EUR"],
        }
    )
    debtors = pd.DataFrame(
        {
            "debtor_id": ["D1", "D2"],
            "credit_limit": ["0", "1000"],
            "segment": ["x", "y"],
            "country": ["DE", "FR"],
        }
    )
    history = pd.DataFrame(
        {
            "debtor_id": ["D1", "D1", "D1", "D2", "D2", "D9", "D2", ""],
            "valid_from": [
                "2023-06-01",
                "2024-03-15",
                "2024-03-15",  # the same day as the row before: which limit held is unknown
                "",
                "2024-02-01",
                "2024-01-01",
                "2024-08-01",  # after the as-of date
                "2024-01-01",
            ],
            "credit_limit": ["500", "0", "10", "700", "-5", "100", "900", "1"],
            "segment": ["", "z", "", "", "", "", "", ""],
            "country": ["", "", "Germany", "", "", "", "", ""],
        }
    )
    files = {}
    for name, frame in (("invoices", invoices), ("debtors", debtors), ("debtor_history", history)):
        files[name] = tmp_path / f"{name}.csv"
        frame.to_csv(files[name], index=False)
    return files


def test_bad_history_rows_are_quarantined_with_their_reasons(tmp_path: Path) -> None:
    result = ingest_files(_files(tmp_path), None, as_of=AS_OF, default_currency="EUR")
    got = result.portfolio.debtor_history
    assert got["debtor_id"].tolist() == ["D1"] and got["credit_limit"].tolist() == [500.0]
    assert {c: str(t) for c, t in got.dtypes.items()} == dtypes("debtor_history")
    q = result.quarantine["debtor_history"]
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        2: "duplicate_valid_from",
        3: "bad_country; duplicate_valid_from",
        4: "missing_value:valid_from",
        5: "negative_credit_limit",
        6: "unknown_debtor",
        7: "date_after_as_of:valid_from",
        8: "missing_value:debtor_id",
    }
    m = result.manifest["tables"]["debtor_history"]
    assert (m["rows_in"], m["rows_accepted"], m["rows_quarantined"]) == (8, 1, 7)
    # the accepted row is read point in time: D1's limit 500 (not the snapshot's 0), utilisation
    # 100 / 500; D2 has no accepted row: the snapshot's 1000, utilisation 300 / 1000
    feats = build_bucket(result.portfolio, ["2024-01-31"]).features
    assert feats["credit_limit"].tolist() == [500.0, 1000.0]
    assert feats["utilisation"].round(6).tolist() == [0.2, 0.3]


def test_training_warns_when_the_history_leaves_month_ends_to_the_snapshot() -> None:
    history = pd.DataFrame(
        {
            "debtor_id": pd.array(["D1", "D2"], dtype="string"),
            "valid_from": pd.to_datetime(["2023-06-01", "2024-03-01"]),
            "credit_limit": [500.0, 700.0],
        }
    )
    dataset = pd.DataFrame(
        {
            "debtor_id": pd.array(["D1", "D2", "D2", "D2"], dtype="string"),
            "as_of": pd.to_datetime(["2024-01-31", "2024-01-31", "2024-02-29", "2024-03-31"]),
        }
    )
    said = master_data_warning(history, dataset)
    # D2 has no row by 2024-01-31 and 2024-02-29 (its first is 2024-03-01): 2 of the 4 rows
    assert said is not None and said.startswith(
        "debtor_history: 1 debtor at 2 month-ends (2024-01-31 to 2024-02-29; 2 of 4 training rows) "
        "had no row valid by then and read today's debtors table instead (e.g. D2)"
    )
    assert master_data_warning(None, dataset) is None  # no history given: nothing to say here
    assert master_data_warning(history, dataset.iloc[[0, 3]]) is None  # every row covered


def _rows(defaulting: int, cut_limit: float) -> pd.DataFrame:
    """One labelled month-end: ``defaulting`` debtors whose limit is ``cut_limit`` and 40 others at 100,
    every one invoicing 600 over the last 365 days (600 / 6 = 100: a limit of 100 is 1 x its volume)."""
    ids = [f"P{i}" for i in range(defaulting)] + [f"N{i}" for i in range(40)]
    return pd.DataFrame(
        {
            "debtor_id": pd.array(ids, dtype="string"),
            "as_of": pd.Timestamp("2024-01-31"),
            "label": pd.array([1] * defaulting + [0] * 40, dtype="Int64"),
            "credit_limit": [cut_limit] * defaulting + [100.0] * 40,
            "invoice_amount_365d": 600.0,
        }
    )


def test_training_warns_when_the_snapshot_limit_looks_cut_after_trouble() -> None:
    from pipelines.flows.train import limit_cut_warning

    said = limit_cut_warning(None, _rows(20, 30.0))  # 30 / 100 = 0.30 x against 1.00 x: below 0.75
    assert said is not None and said.startswith(
        "credit_limit looks cut after trouble: the training rows of the 20 debtors that defaulted within the "
        "horizon had a median limit of 0.30 x their own invoicing of the last 365 days / 6, the others 1.00 x"
    )
    assert limit_cut_warning(None, _rows(19, 30.0)) is None  # 19 defaulting debtors: too few to say
    assert limit_cut_warning(None, _rows(20, 80.0)) is None  # 0.80 x: not below 0.75
    # a history dated before the month-end covers every row: nothing read from the snapshot
    history = pd.DataFrame(
        {
            "debtor_id": _rows(20, 30.0)["debtor_id"],
            "valid_from": pd.Timestamp("2023-01-01"),
            "credit_limit": 1.0,
        }
    )
    assert limit_cut_warning(history, _rows(20, 30.0)) is None


def test_the_backtest_says_what_ews_train_says_of_its_limits() -> None:
    """``ews backtest`` fires limit_breach on the limit valid at each month-end (session 34): the
    look-ahead warnings of ``ews train`` are said of its live debtor-months, with what the look-ahead
    does there; the rows in default are not counted, and a config without limit_breach says nothing."""
    from features.tables import Portfolio
    from pipelines.commands.backtest import limit_warnings
    from pipelines.config.nightly import NightlyConfig

    cut = _rows(20, 30.0)
    panel = cut.rename(columns={"credit_limit": "credit_limit_current"}).assign(in_default=False)
    gone = panel.iloc[:3].assign(in_default=True, credit_limit_current=0.0, label=pd.NA)
    panel = pd.concat([panel, gone], ignore_index=True)
    cfg = NightlyConfig()
    said = limit_warnings(Portfolio(), panel, cfg)
    assert len(said) == 1 and said[0].startswith(
        "credit_limit looks cut after trouble: the live debtor-months of the 20 debtors that defaulted within "
        "the horizon had a median limit of 0.30 x their own invoicing of the last 365 days / 6, the others 1.00 x"
    )
    assert "limit_breach read the cut at month-ends before the default" in said[0]
    history = pd.DataFrame(
        {
            "debtor_id": pd.array(["P0"], dtype="string"),
            "valid_from": pd.to_datetime(["2024-03-01"]),
            "credit_limit": [5.0],
        }
    )
    said = limit_warnings(Portfolio(debtor_history=history), panel, cfg)
    assert said[0].startswith(
        "debtor_history: 60 debtors at 1 month-end (2024-01-31 to 2024-01-31; 60 of 60 live debtor-months) had no "
        "row valid by then and read today's debtors table instead (e.g. N0, N1, N10): limit_breach read a limit "
        "cut after trouble there before the cut"
    )
    off = NightlyConfig.model_validate({"triggers": {"limit_breach": {"enabled": False}}})
    assert limit_warnings(Portfolio(), panel, off) == []
    assert limit_warnings(Portfolio(), panel.drop(columns="credit_limit_current"), cfg) == []
