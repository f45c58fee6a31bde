from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.scorecard import ScorecardParams, fit_scorecard, scorecard_predict, scorecard_table


def test_scorecard_learns_monotone_risk_and_categories() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    X = pd.DataFrame(
        {
            "dpd": rng.gamma(2, 10, size=n),
            "noise": rng.normal(size=n),
            "segment": pd.Categorical(rng.choice(["a", "b"], n)),
        }
    )
    logit = -3 + 0.06 * X["dpd"] + 1.0 * (X["segment"] == "a")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = fit_scorecard(X, y, ["segment"], ScorecardParams(max_n_bins=5))
    p = scorecard_predict(model, X, ["segment"])
    assert p.min() >= 0 and p.max() <= 1
    assert roc_auc_score(y, p) > 0.75
    probe = pd.DataFrame({"dpd": [1.0, 80.0], "noise": [0.0, 0.0], "segment": pd.Categorical(["b", "b"])})
    low, high = scorecard_predict(model, probe, ["segment"])
    assert high > low
    table = scorecard_table(model)
    assert {"Variable", "Bin", "WoE", "Points"} <= set(table.columns)
    assert set(table["Variable"]) >= {"dpd", "segment"}
