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


def test_a_column_without_values_in_the_fit_rows_is_left_out() -> None:
    """The early month-ends of a short export hold no year-window values (NaN by the catalog's rule):
    the scorecard fits without that column, exactly as if it were absent, and predicts on frames
    that carry it (with values, at later month-ends)."""
    rng = np.random.default_rng(1)
    n = 2000
    X = pd.DataFrame({"dpd": rng.gamma(2, 10, size=n), "year": np.full(n, np.nan)})
    y = (rng.random(n) < 1 / (1 + np.exp(3 - 0.06 * X["dpd"]))).astype(int)
    model = fit_scorecard(X, y, [])
    alone = fit_scorecard(X[["dpd"]], y, [])
    later = X.assign(year=rng.normal(size=n))
    np.testing.assert_array_equal(
        scorecard_predict(model, later, []), scorecard_predict(alone, X[["dpd"]], [])
    )
    assert set(scorecard_table(model)["Variable"]) == {"dpd"}
