"""Words in user text: counts ("1 month-end", "2 month-ends"; before session 28 some messages read "1 month-ends",
"1 debtors", "none of 1 rows") and model metrics named as a reader says them ("AUC", not ``test_auc``)."""

from __future__ import annotations


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``n`` with thousands separators, then ``word``, plural (``word`` + "s", or ``plural``) unless
    ``n`` is 1: ``counted(1, "month-end")`` -> "1 month-end", ``counted(1200, "row")`` -> "1,200 rows"."""
    return f"{int(n):,} {word if int(n) == 1 else (plural or word + 's')}"


# the console's metric rows: name in words, and whether the figure is a rate (shown in %); the
# MLflow run keeps the test_* keys (before session 27 the tables showed those keys and rates as fractions)
METRIC_WORDS: dict[str, tuple[str, bool]] = {
    "auc": ("AUC", False),
    "gini": ("Gini", False),
    "ks": ("KS", False),
    "brier": ("Brier score", False),
    "ece": ("ECE (calibration)", False),
    "logloss": ("log loss", False),
    "capture_5pct": ("capture in top 5 %", True),  # share of the defaults among the top 5 % of PDs
    "capture_10pct": ("capture in top 10 %", True),
    "mean_pd": ("mean PD", True),
    "default_rate": ("default rate", True),
}


def metric_words(key: str) -> str:
    """A model metric's MLflow key in words, as ``ews train``'s tables and report.html's calibration table say
    it: ``test_auc`` -> "AUC", ``test_ece`` -> "ECE (calibration)", ``test_rows`` -> "rows" (the report listed
    the keys before session 28)."""
    bare = key.removeprefix("test_")
    if bare in METRIC_WORDS:
        return METRIC_WORDS[bare][0]
    return {"rows": "rows", "defaults": "defaults", "snapshots": "month-ends"}.get(
        bare, bare.replace("_", " ")
    )
