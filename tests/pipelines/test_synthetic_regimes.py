"""Named regimes of the generator: distinct economies and behaviour, exact oracle in each."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.synthetic import REGIMES, GeneratorParams, generate, regime_params
from tests.pipelines.test_synthetic import check_oracle_by_monte_carlo


def test_regimes_vary_size_history_rate_shocks_and_behaviour() -> None:
    params = {name: regime_params(name) for name in REGIMES}
    assert len(params) >= 3 and params["base"] == GeneratorParams(debtors=5000, months=36, volume_scale=1.4)
    for field in ("debtors", "months", "annual_default_rate", "delay_health"):
        assert len({getattr(p, field) for p in params.values()}) >= 2, field
    assert params["stress"].shocks and params["quiet"].sudden_share > params["base"].sudden_share
    loadings = {s.name: s.downturn_loading for s in params["contagion"].segments}
    assert (
        loadings["construction"] == 3.0 and max(v for k, v in loadings.items() if k != "construction") < 0.5
    )
    assert regime_params("quiet", debtors=300, months=None).debtors == 300
    assert regime_params("quiet", debtors=300, months=None).months == 24
    with pytest.raises(ValueError, match="unknown regime 'nope'; choose one of base, stress"):
        regime_params("nope")


def test_stress_drift_has_downturn_recovery_and_second_dip() -> None:
    from pipelines.synthetic.dynamics import downturn_drift

    drift = downturn_drift(regime_params("stress", months=20), 20)
    # downturn at 0.2 x 20 = month 4 for 4 months, recovery at month 9 for 4, second dip at 14 for 3
    assert drift.tolist() == [0.0] * 4 + [-0.2] * 4 + [0.0] + [0.1] * 4 + [0.0] + [-0.2] * 3 + [0.0] * 3


@pytest.mark.parametrize("name", ["quiet", "stress"])
def test_oracle_is_exact_in_the_regime(name) -> None:
    """Quiet changes the stop lag (days late barely move); stress adds jumps and shocks."""
    params = regime_params(name, debtors=10, months=24, seed=2)
    check_oracle_by_monte_carlo(params, [(10, 3, 2, 0, -2.0), (6, 1, 2, 1, -1.0)])


def _invoice_behaviour(params: GeneratorParams, out) -> pd.DataFrame:
    """Per settled allocated invoice: days late, part-paid flag and health at the month-end before due."""
    generate(params, out)
    inv = pd.read_parquet(out / "invoices.parquet")
    pay = pd.read_parquet(out / "payments.parquet").dropna(subset=["invoice_id"])
    truth = pd.read_parquet(out / "truth.parquet")[["debtor_id", "month_end", "health"]]
    per = pay.groupby("invoice_id").agg(paid_on=("paid_on", "max"), pieces=("payment_id", "size"))
    inv = inv.merge(per, left_on="invoice_id", right_index=True)
    inv["delay"] = (inv.paid_on - inv.due_date).dt.days
    inv["month_end"] = inv.due_date.dt.to_period("M").dt.to_timestamp() - pd.Timedelta(days=1)
    inv = inv.merge(truth, on=["debtor_id", "month_end"])
    return inv.assign(part=inv.pieces > 1, weak=inv.health < -1.0, strong=inv.health > 0.5)


def test_quiet_regime_shows_health_in_partial_payments_not_days_late(tmp_path) -> None:
    out = {}
    for name in ("base", "quiet"):
        inv = _invoice_behaviour(regime_params(name, debtors=800, months=12, seed=4), tmp_path / name)
        weak, strong = inv[inv.weak], inv[inv.strong]
        assert len(weak) > 300 and len(strong) > 300
        out[name] = (weak.delay.mean() - strong.delay.mean(), weak.part.mean() - strong.part.mean())
    # days late: weak minus strong debtors (days); part-paid share: weak minus strong
    assert out["base"][0] > 15 and out["quiet"][0] < 0.4 * out["base"][0], out
    assert out["quiet"][1] > 3 * out["base"][1] > 0, out


def test_cli_generate_regime(tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["generate", "--regime", "stress", "--debtors", "150", "--months", "10", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert "regime stress, 150 debtors x 10 months" in " ".join(res.output.split())
    params = json.loads((tmp_path / "generate-summary.json").read_text())["params"]
    assert params["regime"] == "stress" and params["annual_default_rate"] == 0.10
    assert np.isclose(params["volume_scale"], 0.6)
    bad = runner.invoke(app, ["generate", "--regime", "calm", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown regime 'calm'" in bad.output
