"""The words of the model metrics and of the promotion gate's checks, with no heavy import: the one
table ``ews train``'s metric tables, report.html's calibration table, the gate's checks
(:func:`models.evaluate.gate_decision`) and the train flow's log line read (``pipelines.words``
re-exports it; before session 29 the tables said "ECE (calibration)" and the gate "calibration error
(ECE)"). ``ews models history`` and ``ews score``'s refusal read a registry's stored reasons through
:func:`in_words` without loading numpy or scikit-learn."""

from __future__ import annotations

import re

# a model metric's name in words and whether the figure is a rate (shown in %); the MLflow run keeps
# the test_* keys (before session 27 the tables showed those keys and rates as fractions). The names
# are short: ews train's LightGBM table fits 80 columns ("calibration error (ECE)" cut its interval)
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
AUC_WORDS = METRIC_WORDS["auc"][0]
ECE_WORDS = METRIC_WORDS["ece"][0]


# a registry keeps the checks as they were written: before session 28 in config-style words (test_auc,
# test_ece, min_auc), in session 28 the ECE check as "calibration error (ECE)"; shown in today's words
_OLD_WORDS = (
    (re.compile(r"\btest_auc\b"), AUC_WORDS),
    (re.compile(r"\btest_ece\b"), ECE_WORDS),
    (re.compile(r"\bcalibration error \(ECE\)"), ECE_WORDS),
    (re.compile(r"\bmin_auc (\d\.\d+)"), r"the floor \1 (gate.min_auc)"),
    # before session 30 the first check named the model by its ews.kind tag: "the rollrate model"
    (
        re.compile(r"\bchallenger is the (lightgbm|rollrate) model"),
        lambda m: f"challenger is the {KIND_WORDS[m[1]]} model",
    ),
)

# a model kind (the version's ews.kind tag) as the gate's first check names it
KIND_WORDS: dict[str, str] = {"lightgbm": "LightGBM", "scorecard": "scorecard", "rollrate": "roll-rate"}


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``n`` with thousands separators, then ``word``, plural (``word`` + "s", or ``plural``) unless
    ``n`` is 1: ``counted(1, "month-end")`` -> "1 month-end", ``counted(1200, "row")`` -> "1,200 rows".
    The one plural helper (``pipelines.words`` re-exports it; here so that ``models`` need not import
    ``pipelines``: the reason sentences use it)."""
    return f"{int(n):,} {word if int(n) == 1 else (plural or word + 's')}"


OLDER_DATA = "older data than champion v"


def older_data(champion_version: str, challenger_end: str, champion_end: str) -> str:
    """The gate's check (without its FAIL word) that keeps the champion when the challenger learned
    from older data: its last training month-end ``challenger_end`` is before the champion's
    ``champion_end`` (a training for ``ews backtest --model``, with an earlier ``snapshots.end``, or an
    older export). The PD gate and the payment-date gate word it alike; before session 31 such a
    challenger was promoted whenever the champion, having seen every test row, could not be compared."""
    return (
        f"{OLDER_DATA}{champion_version}: trained on month-ends through {challenger_end}, v{champion_version} "
        f"through {champion_end} (e.g. a training for `ews backtest --model`, with an earlier snapshots.end); "
        "the gate never replaces a champion with a model of older data"
    )


def champion_rows(champion_version: str, month_ends: list[str], rows: int, defaults: int) -> str:
    """Which test rows the champion is compared on: those after its own training (it learned from the
    earlier ones), named in the gate's check so that a data scientist reading "worse than the champion"
    knows on what (before session 37 the check named no rows, while the test window's figures above it
    cover every test month-end). ``month_ends``: the compared month-ends, sorted."""
    span = month_ends[0] if len(month_ends) == 1 else f"{month_ends[0]}..{month_ends[-1]}"
    return (
        f"the test month-ends after v{champion_version}'s training ({counted(len(month_ends), 'month-end')}, "
        f"{span}: {counted(rows, 'row')}, {counted(defaults, 'default')})"
    )


# What a champion comparison was worth on small books' retrains (BENCHMARKS.md "Session 42 (s42-gate)",
# benchmarks/gate_power.py over s39-s41's 100 replayed retrain steps, each judged on the 6 month-ends after
# it): the gate's comparison with the champion's shipped model, made on 36 steps with 3 to 40 defaults
# compared, called 8 of the 11 retrains that proved worse going forward worse, and 14 of the 25 that did not;
# on the 57 steps without a comparison (not refused as older data) the other checks refused 10 of 22 worse
# retrains and 11 of 35 others.
POWER_MEASURED_DEFAULTS = 40  # the most defaults any measured comparison held
POWER_COMPARED = (8, 11, 14, 25)  # worse called worse, worse; others called worse, others
POWER_UNCOMPARED = (10, 22, 11, 35)  # the same, refused by the other checks, without a comparison
# the comparison on the rows both models held out, each with its own out-of-time PDs (candidate F, session 42),
# judged as the gate judges it (higher point log-loss, or the AUC interval below 0), on the 57 of s39-s40's 76
# seen steps that had such rows (3 to 54 defaults; benchmarks/retrain_ceiling.py's signal B): 15 of 16 worse
# retrains called worse, 11 of 41 others
POWER_HELD_OUT_DEFAULTS = 54
POWER_HELD_OUT = (15, 16, 11, 41)


def comparison_power(defaults: int | None, held_out: bool = False) -> str:
    """What a comparison with the champion on ``defaults`` defaults can tell, in one plain sentence from
    the measured figures above (None: no comparison was possible; ``held_out``: on the rows both models
    held out, each with its own out-of-time PDs)."""
    if held_out:
        worse_called, worse, others_called, others = POWER_HELD_OUT
        if defaults is not None and defaults <= POWER_HELD_OUT_DEFAULTS:
            return (
                f"On small books, such a comparison on {POWER_HELD_OUT_DEFAULTS} defaults or fewer called "
                f"{worse_called} of {worse} retrains that proved worse going forward worse, and also "
                f"{others_called} of {others} that did not."
            )
        return (
            f"How often such a comparison on more than {POWER_HELD_OUT_DEFAULTS} defaults misses a worse retrain "
            "was not measured; its interval is the evidence."
        )
    if defaults is None:
        worse_refused, worse, others_refused, others = POWER_UNCOMPARED
        return (
            f"Without a comparison, the other checks refused {worse_refused} of {worse} small-book retrains "
            f"that proved worse going forward (and {others_refused} of {others} that did not)."
        )
    worse_called, worse, others_called, others = POWER_COMPARED
    if defaults <= POWER_MEASURED_DEFAULTS:
        return (
            f"On small books, a comparison on {POWER_MEASURED_DEFAULTS} defaults or fewer called {worse_called} "
            f"of {worse} retrains that proved worse going forward worse, and also {others_called} of {others} "
            "that did not: weak evidence either way."
        )
    return (
        f"How often a comparison on more than {POWER_MEASURED_DEFAULTS} defaults misses a worse retrain was "
        "not measured; its interval is the evidence."
    )


def comparison_words(c: dict) -> str:
    """The gate's comparison with the champion and what it is worth, in two sentences: ``c`` holds
    ``version``, and either ``none`` (why no comparison was possible) or ``rows``, ``debtors``,
    ``defaults``, ``first``, ``last`` (month-ends), ``month_ends`` (how many), ``logloss`` /
    ``logloss_low`` / ``logloss_high`` and ``auc`` / ``auc_low`` / ``auc_high`` (challenger - champion,
    95 % paired debtor interval). The same text goes to ``ews train``, ``ews models history`` and the
    report (tag ``ews.gate.comparison``)."""
    if c.get("none"):
        return f"No comparison with the champion: {c['none']}. {comparison_power(None)}"
    span = c["first"] if c["first"] == c["last"] else f"{c['first']} to {c['last']}"
    held = bool(c.get("held_out"))
    whom = (
        f"champion v{c['version']}'s own out-of-time PDs on the {counted(c['rows'], 'row')} both held out"
        if held
        else f"champion v{c['version']} on {counted(c['rows'], 'row')}"
    )
    return (
        f"Against {whom} ({counted(c['debtors'], 'debtor')}, "
        f"{counted(c['defaults'], 'default')}, {counted(c['month_ends'], 'month-end')}, {span}): log-loss "
        f"{c['logloss']:+.4f} (95 % interval {c['logloss_low']:+.4f} to {c['logloss_high']:+.4f}), AUC "
        f"{c['auc']:+.4f} ({c['auc_low']:+.4f} to {c['auc_high']:+.4f}), challenger minus champion. "
        + comparison_power(int(c["defaults"]), held)
    )


def held_out_rows(
    champion_version: str, month_ends: list[str], rows: int, defaults: int, debtors: int
) -> str:
    """The rows the champion is compared on when both models held them out (candidate F, session 42): its
    own out-of-time PDs there, from its logged test rows, against the challenger's; named like
    :func:`champion_rows`."""
    span = month_ends[0] if len(month_ends) == 1 else f"{month_ends[0]}..{month_ends[-1]}"
    return (
        f"the test rows both models held out, each scored out of time ({counted(len(month_ends), 'month-end')}, "
        f"{span}: {counted(rows, 'row')}, {counted(debtors, 'debtor')}, {counted(defaults, 'default')})"
    )


def in_words(reason: str) -> str:
    """A gate's reason (one check, or a registry's stored text of several) in the words
    :func:`gate_decision` uses since session 29: ``test_auc`` -> AUC, ``test_ece`` and session 28's
    "calibration error (ECE)" -> ECE (calibration), ``min_auc 0.7000`` -> the floor 0.7000
    (gate.min_auc), "the rollrate model" -> "the roll-rate model" (:data:`KIND_WORDS`). Text without them is
    returned as it is."""
    for pattern, words in _OLD_WORDS:
        reason = pattern.sub(words, reason)
    return reason


def failed_checks(stored: str) -> list[str]:
    """The FAIL checks of a registry's stored gate reasons (``ews.gate.reasons``), each without its FAIL
    word and in today's words. Checks are joined by "; " and a check's own text may hold "; " (the ECE
    line's "; mean PD ..."): the text is split only before the next check's "ok " / "FAIL " / "WARN "."""
    return [
        in_words(r.strip()[5:])
        for r in re.split(r"; (?=(?:ok|FAIL|WARN) )", stored)
        if r.strip().startswith("FAIL ")
    ]


def without_figures(check: str) -> str:
    """A check without its closing parenthesised figures, for a one-line mention: "worse than champion
    v1: higher log-loss with the whole interval above 0 (log-loss +0.0165 [...], on ... (2 month-ends ...))"
    -> "worse than champion v1: higher log-loss with the whole interval above 0". A check that does not
    end with ")" is returned as it is."""
    text = check.rstrip()
    if not text.endswith(")"):
        return text
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return text[:i].rstrip() or text
    return text
