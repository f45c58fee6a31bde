"""`ews train` no longer prints MLflow's cloudpickle warning on every run (README says why)."""

from __future__ import annotations

import logging

import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression

from pipelines.adapters.registry import _pickle_note_once


def test_the_cloudpickle_note_is_silenced_only_while_logging(mlflow_uri, caplog) -> None:
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    caplog.set_level(logging.WARNING)
    with mlflow.start_run(), _pickle_note_once():
        mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle", pip_requirements=[])
    assert "pickle" not in caplog.text, caplog.text
    with mlflow.start_run():  # outside the block MLflow warns as before: the note is not lost globally
        mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle", pip_requirements=[])
    assert "Saving scikit-learn models in the pickle or cloudpickle format" in caplog.text
