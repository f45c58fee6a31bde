"""The words of the promotion gate's checks (:func:`models.evaluate.gate_decision`), with no heavy
import: ``ews models history`` and ``ews score``'s refusal read a registry's stored reasons through
:func:`in_words` without loading numpy or scikit-learn."""

from __future__ import annotations

import re

# the gate's checks name the metric as ews train's tables do (before session 28: test_auc, test_ece)
ECE_WORDS = "calibration error (ECE)"


# a registry written before session 28 keeps the checks' config-style words; shown in today's words
_OLD_WORDS = (
    (re.compile(r"\btest_auc\b"), "AUC"),
    (re.compile(r"\btest_ece\b"), ECE_WORDS),
    (re.compile(r"\bmin_auc (\d\.\d+)"), r"the floor \1 (gate.min_auc)"),
)


def in_words(reason: str) -> str:
    """A gate's reason (one check, or a registry's stored text of several) in the words
    :func:`gate_decision` uses since session 28: ``test_auc`` -> AUC, ``test_ece`` -> calibration
    error (ECE), ``min_auc 0.7000`` -> the floor 0.7000 (gate.min_auc). Text without them is returned
    as it is."""
    for pattern, words in _OLD_WORDS:
        reason = pattern.sub(words, reason)
    return reason
