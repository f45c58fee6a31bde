"""Words in user text: counts ("1 month-end", "2 month-ends"; before session 28 some messages read "1 month-ends",
"1 debtors", "none of 1 rows") and model metrics named as a reader says them ("AUC", not ``test_auc``)."""

from __future__ import annotations

from models.gate_words import METRIC_WORDS, counted

__all__ = ["METRIC_WORDS", "counted", "metric_words"]


def metric_words(key: str) -> str:
    """A model metric's MLflow key in words, as ``ews train``'s tables, report.html's calibration table and
    the gate's checks say it (:data:`METRIC_WORDS`, one table in ``models.gate_words``): ``test_auc`` ->
    "AUC", ``test_ece`` -> "ECE (calibration)", ``test_rows`` -> "rows" (the report listed the keys before
    session 28)."""
    bare = key.removeprefix("test_")
    if bare in METRIC_WORDS:
        return METRIC_WORDS[bare][0]
    return {"rows": "rows", "defaults": "defaults", "snapshots": "month-ends"}.get(
        bare, bare.replace("_", " ")
    )
