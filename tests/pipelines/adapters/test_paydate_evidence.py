"""The evidence the payment-date gate's figures rest on (session 25, issue 13).

Before session 25 the gate named no count: on a 13-month book the held-out model behind the figures
trained on 1 month-end and passed, and neither ``ews train`` nor ``ews models history`` said on how
many month-ends, invoices and debtors. Now the first check names them, and ``paydate.gate_min_*``
(0 by default: no minimum) refuses a version whose figures rest on fewer, saying what is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.adapters import registry
from pipelines.adapters.paydate_registry import EvidenceMinimum, gate_decision, gate_paydate, load_paydate
from tests.pipelines.adapters.test_paydate_gate import PASSING  # better than the baselines, coverage in band

# base 300 x 37 s79 cut at 13 months (benchmarks/paygate.py): 3 test month-ends, the held-out model on 1
THIN = {
    "test_month_ends": 3.0,
    "heldout_month_ends": 1.0,
    "invoices": 5495.0,
    "paid_in_horizon": 5391.0,
    "paid_debtors": 226.0,
}
SHOWN = (
    "5,495 held-out invoices (5,391 paid within the horizon, of 226 debtors) on 3 test month-ends, "
    "the held-out model trained on 1 month-end"
)
E = EvidenceMinimum(heldout_month_ends=6, test_month_ends=3, paid_debtors=100)


def test_the_gate_names_its_evidence_and_refuses_below_the_minimum() -> None:
    """Without a minimum (the default) the counts are the first check and pass. With 6 held-out
    month-ends, 3 test month-ends and 100 paying debtors required: 1 held-out month-end is refused
    with what is missing (5 more months); 6 passes (the boundary); 2 test month-ends or 99 debtors
    are refused, each named; several shortfalls all named. Figures without the counts (a version
    logged before session 25): no evidence check."""
    d = gate_decision({**PASSING, **THIN})
    assert d.passed and d.reasons[0] == f"ok evidence: {SHOWN}"
    assert d.reasons[1].startswith("ok MAE 8.00 days vs the better baseline 12.00")

    thin = gate_decision({**PASSING, **THIN}, minimum=E)
    assert not thin.passed
    assert thin.reasons[0] == (
        f"FAIL too little evidence: {SHOWN}; needs held-out model's month-ends 1 < "
        "paydate.gate_min_heldout_snapshots 6 (about 5 more months of history)"
    )
    assert all(r.startswith("ok ") for r in thin.reasons[1:])  # only the evidence fails

    assert gate_decision({**PASSING, **THIN, "heldout_month_ends": 6.0}, minimum=E).passed
    two = gate_decision({**PASSING, **THIN, "heldout_month_ends": 6.0, "test_month_ends": 2.0}, minimum=E)
    assert not two.passed and two.reasons[0].endswith(
        "needs test month-ends 2 < paydate.gate_min_test_snapshots 3 (about 1 more month of history)"
    )
    few = gate_decision({**PASSING, **THIN, "heldout_month_ends": 6.0, "paid_debtors": 99.0}, minimum=E)
    assert not few.passed and few.reasons[0].endswith(
        "needs debtors with a paid test invoice 99 < paydate.gate_min_debtors 100 (a book with more paying debtors)"
    )
    both = gate_decision({**PASSING, **THIN, "paid_debtors": 99.0}, minimum=E)
    assert "gate_min_heldout_snapshots 6" in both.reasons[0] and "gate_min_debtors 100" in both.reasons[0]

    old = gate_decision(PASSING, minimum=E)  # no counts: nothing to judge them on
    assert old.passed and old.reasons[0].startswith("ok MAE ")
    assert (
        not gate_decision({**PASSING, **THIN, "paid_debtors": float("nan")})
        .reasons[0]
        .startswith("ok evidence")
    )


@pytest.mark.filterwarnings("ignore")
def test_ews_models_history_says_why_with_the_counts(mlflow_uri) -> None:
    """A real version (LightGBM booster, MLflow on SQLite) refused for too little evidence without a
    champion: the history's reason is the plain sentence (what is missing, what the nightly does
    without a champion, the command that accepts it), then the checks with the counts; no champion
    alias, and loading the champion (the nightly) names the refused version instead of "run ews
    train". The same figures without a minimum: promoted, the history's checks name the counts. An
    empty registry: "run ews train"."""
    import lightgbm as lgb
    from mlflow.tracking import MlflowClient

    from pipelines.adapters.paydate_registry import log_paydate, spec_record

    with pytest.raises(registry.NoChampionError, match="run `ews train --data DIR`"):
        load_paydate(tracking_uri=mlflow_uri)  # nothing registered yet
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1},
        lgb.Dataset(pd.DataFrame(x, columns=["a", "b"]), label=(x[:, 0] > 0).astype(int)),
        num_boost_round=3,
    )

    def version() -> str:
        spec = spec_record(
            ["a", "b"], 26, 7, trained_through="2024-01-31", test_as_of="2023-05-31..2023-07-31"
        )
        metrics = {**PASSING, **THIN}
        return log_paydate(
            booster, spec=spec, metrics=metrics, params={}, tables={}, provenance={}, tracking_uri=mlflow_uri
        ).version

    v1 = version()
    refused = gate_paydate(v1, {**PASSING, **THIN}, tracking_uri=mlflow_uri, minimum=E)
    assert not refused.passed
    why = (
        f"Not promoted: too little evidence: {SHOWN}; needs held-out model's month-ends 1 < "
        "paydate.gate_min_heldout_snapshots 6 (about 5 more months of history)."
    )
    assert refused.summary.startswith(
        why + " Until a version of ews-paydate is champion, the nightly writes no invoice or cash-in forecast"
    )
    assert f"`ews models promote {v1} --name ews-paydate --reason" in refused.summary
    history = registry.history("ews-paydate", tracking_uri=mlflow_uri)
    last = history["reason"].iloc[-1]
    assert last.startswith(refused.summary + " Checks: FAIL too little evidence: 5,495 held-out invoices")
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    assert "champion" not in client.get_registered_model("ews-paydate").aliases
    # the nightly's note without a champion: the refused version and where the reason is, not "run
    # `ews train`" (which the user did)
    with pytest.raises(registry.NoChampionError) as no_champion:
        load_paydate(tracking_uri=mlflow_uri)
    assert str(no_champion.value).endswith(
        f"its latest version v{v1} was refused by its gate and none is champion; `ews models history --name "
        f'ews-paydate` says why; to use it anyway: `ews models promote {v1} --name ews-paydate --reason "..."`'
    )
    assert "run `ews train" not in str(no_champion.value)

    v2 = version()
    promoted = gate_paydate(v2, {**PASSING, **THIN}, tracking_uri=mlflow_uri)
    assert promoted.passed
    assert str(client.get_model_version_by_alias("ews-paydate", "champion").version) == v2
    last = registry.history("ews-paydate", tracking_uri=mlflow_uri)["reason"].iloc[-1]
    # a pass says it before its checks, as the PD gate's (s35-walk; before: the checks alone)
    assert last.startswith(f"Promoted: every check passed. Checks: ok evidence: {SHOWN}; ok MAE 8.00")
