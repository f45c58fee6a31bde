"""Review of session 19 (s19-review; BENCHMARKS.md "Hostile inputs tried", "Session 19
(s19-review)"): defects found in the code session 19 landed (each such test failed on main before
its fix), and a guard where a session-19 change had no test that could fail (said in its docstring);
hand-built inputs, expected values by hand or recomputed independently."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from features.tables import Portfolio
from pipelines.engine import Book
from pipelines.scoring.plans import broken_plans, check_plans, plan_payments
from tests.pipelines.test_payment_plans import AS_OF, plans


def _memo_payments() -> pd.DataFrame:
    """Debtor k (plan 6 x 250 from 2024-05-31, agreed 2024-05-02; 1 instalment of 250 due by
    2024-06-30) gets a credit memo of 250 on 2024-06-01 and pays no cash; debtor r (3 x 100 from
    2024-04-30, agreed 2024-04-15; 2 x 100 due) pays 100 cash on 05-01 and 100 cash on 06-02 and
    gets a 100 memo on 06-05 (paid 200 = due: kept either way)."""
    rows = [
        ("k", "2024-06-01", 250.0, "credit"),
        ("r", "2024-05-01", 100.0, "cash"),
        ("r", "2024-06-02", 100.0, "cash"),
        ("r", "2024-06-05", 100.0, "credit"),
    ]
    frame = pd.DataFrame(rows, columns=["debtor_id", "paid_on", "amount", "kind"])
    return frame.assign(
        debtor_id=frame["debtor_id"].astype("string"),
        paid_on=pd.to_datetime(frame["paid_on"]),
        kind=frame["kind"].astype("string"),
        payment_id=pd.Series([f"p{i}" for i in range(len(rows))], dtype="string"),
    )


def _check_k_and_r(paid: pd.DataFrame) -> None:
    got = check_plans(plans(), paid, AS_OF)
    # k: 0.00 cash of 250.00 due (the memo reduces what k owes; it pays no instalment)
    assert got.loc["k", ["due", "paid"]].tolist() == [250.0, 0.0]
    assert not got.loc["k", "kept"]
    assert got.loc["k", "text"].startswith("payment plan broken: 0.00 paid since 2024-05-02 of 250.00 due")
    # r: 100 + 100 cash = 200.00 of 200.00 due, the memo left out
    assert got.loc["r", ["due", "paid"]].tolist() == [200.0, 200.0] and got.loc["r", "kept"]
    assert "k" in broken_plans(plans(), paid, AS_OF).index


def test_a_credit_memo_pays_no_instalment_of_a_payment_plan() -> None:
    """dc2da41 made a credit memo no cash for the payment features, but a plan's instalments were
    still checked against every payments row: k's 250 memo kept k's plan (250.00 paid of 250.00
    due) though k paid nothing. Cash only now, in check_plans and in plan_payments (both reads)."""
    _check_k_and_r(_memo_payments())  # check_plans given the rows with their kind
    book = Book.in_memory(Portfolio(payments=_memo_payments()), 10)
    read = plan_payments(book, plans())
    assert read is not None and sorted(read["amount"].tolist()) == [100.0, 100.0]
    _check_k_and_r(read)


def test_plan_payments_of_an_ingested_folder_leave_the_credit_memos_out(tmp_path: Path) -> None:
    from pipelines.adapters.files import bucket_file, bucket_parts, write_bucket_atomic

    (tmp_path / "manifest.json").write_text(json.dumps({"layout": {"buckets": 3}}))
    for k, part in enumerate(bucket_parts(_memo_payments(), 3)):
        write_bucket_atomic(part, bucket_file(tmp_path, "payments", k))
    read = plan_payments(Book.ingested(tmp_path), plans())
    assert read is not None and sorted(read["amount"].tolist()) == [100.0, 100.0]
    assert read["debtor_id"].tolist() == ["r", "r"]
    _check_k_and_r(read)


def test_each_calibration_methods_test_log_loss_is_its_own() -> None:
    """58aa392 reuses the chosen calibrator for its own test log-loss record instead of refitting
    it; every other method is still fitted on the calibration window. The record
    (``calibration_test_logloss_<method>`` in MLflow) had no test of its values: each method's entry
    must equal the log-loss of that method fitted on the calibration window's scores, recomputed
    here. Scores of a real scorecard; 4 as-of dates x 300 debtors, 3 methods tried (isotonic at
    >= 20 defaults). A guard (passes on a64c72e and on main; fails when every entry is the chosen
    calibrator's, the mutation that left the suite green)."""
    import dataclasses

    import numpy as np
    from sklearn.metrics import log_loss

    from models.calibrate import fit_calibrator
    from models.scorecard import fit_scorecard
    from models.train import TrainParams, _candidate

    rng = np.random.default_rng(11)
    n = 300
    X, y, rows = {}, {}, {}
    for k, window in enumerate(("train", "validation", "calibration", "test")):
        x = rng.normal(size=(n, 2))
        X[window] = pd.DataFrame({"a": x[:, 0], "b": x[:, 1]})
        y[window] = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x[:, 0] - 2.0)))).astype("int64")
        rows[window] = pd.DataFrame(
            {
                "as_of": pd.Timestamp("2024-01-31") + pd.DateOffset(months=k),
                "debtor_id": [f"d{i}" for i in range(n)],
            }
        )
    params = dataclasses.replace(TrainParams(), min_isotonic_defaults=20)
    fit_X = pd.concat([X["train"], X["validation"]])
    scorer = fit_scorecard(fit_X, np.concatenate([y["train"], y["validation"]]), [], params.scorecard)
    cand = _candidate("scorecard", scorer, X, y, [], params, rows["calibration"], record=True)
    losses = cand.choice.test_logloss
    assert sorted(losses) == ["beta", "isotonic", "sigmoid"]
    for method, got in losses.items():
        fitted = fit_calibrator(cand.s_cal, y["calibration"], method)
        p = np.clip(fitted.predict(cand.s_test), params.pd_floor, params.pd_ceiling)
        assert got == float(log_loss(y["test"], p, labels=[0, 1])), method
    assert len(set(losses.values())) == 3  # three different calibrators: a copy of one would show
