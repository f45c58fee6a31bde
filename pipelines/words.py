"""Words in user text: counts ("1 month-end", "2 month-ends"; before session 28 some messages read "1 month-ends",
"1 debtors", "none of 1 rows"), model metrics named as a reader says them ("AUC", not ``test_auc``), and the
codes of actions, statuses, triggers and events in words ("Agency referral", not ``agency_referral``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.gate_words import METRIC_WORDS, counted

if TYPE_CHECKING:  # pandas is imported where it is used: `ews --help` loads none (test_cli)
    import pandas as pd

__all__ = [
    "ACTION_WORDS",
    "EVENT_WORDS",
    "LIST_RULE_WORDS",
    "METRIC_WORDS",
    "NO_CURRENCY_CODE",
    "STATUS_WORDS",
    "TRIGGER_WORDS",
    "amounts_in",
    "cash_error_said",
    "code_words",
    "in_sentence",
    "counted",
    "metric_figure",
    "metric_words",
    "reason_words",
    "triggers_words",
    "words_column",
]


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


def metric_figure(key: str, value: float) -> str:
    """A model metric's value as people read it, the same in ``ews train``'s tables and report.html's
    Calibration table: rates (:data:`METRIC_WORDS`' flag: mean PD, default rate, the captures) in %
    with two decimals ("0.71%"), every other figure with four decimals ("0.9288"). ``key`` with or
    without ``test_``. Before session 36 the report printed the rates as fractions (0.0071) beside
    ``ews train``'s 0.71%."""
    rate = METRIC_WORDS.get(key.removeprefix("test_"), ("", False))[1]
    return f"{100 * float(value):.2f}%" if rate else f"{float(value):.4f}"


# Codes in words: the machine columns of the CSV/Parquet files keep the codes (``agency_referral``,
# ``under_review``, ``limit_breach``); what people read (report.html, the XLSX files' cells, the
# command summaries, ``ews watchlist history``) shows these words (session 32: they read as codes).
ACTION_WORDS: dict[str, str] = {
    "reminder": "Reminder",
    "call": "Call",
    "payment_plan": "Offer a payment plan",
    "final_notice": "Final notice",
    "agency_referral": "Agency referral",
    "legal_review": "Legal review",
    "write_off_review": "Write-off review",
    "resolve_dispute": "Resolve the dispute",
    "monitor_plan": "Monitor the payment plan",
    "file_claim": "File a creditor's claim",
    "claim_follow_up": "Follow up the creditor's claim",
    "agency_follow_up": "Follow up with the agency",
    "written_off_recovery": "Recovery after write-off",
}
"""Queue actions (``next_action``, ``dispute_action``): ``pipelines.config.nightly.Action`` and
``EventAction``, and the two the queue sets itself."""

STATUS_WORDS: dict[str, str] = {
    "new": "New",
    "under_review": "Under review",
    "escalated": "Escalated",
    "cleared": "Cleared",
    "payment_plan": "Payment plan",
}
"""Watchlist statuses (``pipelines.scoring.watch_state``) and override statuses
(``pipelines.scoring.overrides.STATUSES``)."""

TRIGGER_WORDS: dict[str, str] = {
    "threshold": "High-risk band",
    "jump": "PD jump",
    "migration": "Moved to a worse band",
    "new_entrant": "New debtor in a high-risk band",
    "limit_breach": "Over the credit limit",
    "rank": "Among the highest PDs",
    "dpd_bucket": "Days past due into a later bucket",
    "event": "New event, dispute or broken plan",
}
"""Watchlist triggers (``pipelines.scoring.watchlist.TRIGGERS``)."""

EVENT_WORDS: dict[str, str] = {
    "insolvency": "Insolvency",
    "agency_placement": "Agency placement",
    "write_off": "Write-off",
}
"""Kinds of the events table (``pipelines.config.nightly.EventKind``)."""

LIST_RULE_WORDS: dict[str, str] = {
    "rank": "Highest PDs alone",
    "rules": "Highest PDs + the other triggers",
}
"""The backtest's list-size rules (``pipelines.backtest.list_size_config``): ``rank``, the rank trigger
alone at a top share of the live debtors; ``rules``, the same beside the config's other triggers
(``ews backtest``'s console and backtest.html read "rank" / "rules" before session 33)."""

REASON_WORDS: dict[str, str] = {
    "missing_value": "{column} is missing",
    "duplicate_row": "Exact copy of another row",
    "duplicate_id": "{column} used twice",
    "duplicate_period": "Two statements for the same debtor and month",
    "duplicate_plan": "The same payment plan twice",
    "duplicate_valid_from": "Two master rows for the same debtor and date",
    "date_after_as_of": "{column} is after the run's date",
    "date_too_old": "{column} is implausibly old",
    "date_too_late": "{column} is implausibly far ahead",
    "date_out_of_range": "{column} is outside the dates a ledger holds",
    "due_before_issue": "Due before it was issued",
    "unparseable_date": "{column} is not a date",
    "unparseable_number": "{column} is not a number",
    "unparseable_id": "{column} is not a readable id",
    "unparseable_bool": "{column} is not yes or no",
    "excel_serial_date": "{column} is an Excel serial number",
    "excel_scientific_id": "{column} was cut short by Excel (scientific notation)",
    "day_month_swapped": "{column} has day and month swapped",
    "thousands_as_decimal": "{column} has a thousands separator read as a decimal point",
    "amount_not_positive": "Amount zero or negative",
    "negative_amount": "Negative amount",
    "negative_amount_paid": "Negative amount paid",
    "negative_credit_limit": "Negative credit limit",
    "negative_annual_turnover": "Negative annual turnover",
    "negative_days_past_due": "Negative days past due",
    "implausible_days_past_due": "Implausible days past due",
    "installment_amount_not_positive": "Instalment amount zero or negative",
    "implausible_installments": "Implausible number of instalments",
    "first_due_before_agreed": "First instalment due over a month before the plan was agreed",
    "below_minimum": "{column} is below its minimum",
    "bad_currency": "Unknown currency code",
    "bad_country": "Unknown country code",
    "unknown_debtor": "Debtor not in the debtors table",
    "unknown_invoice": "Payment of an unknown invoice",
    "invoice_before_export": "Payment of an invoice issued before the export began",
    "unknown_event_kind": "Unknown kind of event",
    "unknown_plan_status": "Unknown payment-plan status",
    "unknown_payment_kind": "Unknown kind of payment",
    "debtor_quarantined": "Its debtor's master row was rejected",
    "invoice_quarantined": "Its invoice was rejected",
    "totals_row": "A totals line, not an invoice",
    "repeated_header": "The file's header again",
    "reversed_payment": "A payment and its reversal",
    "reversal": "A negative payment reversing an earlier one",
    "reversal_unmatched": "A negative payment matching no earlier payment",
    "currency_mismatch": "Paid in another currency than its invoice",
    # the CSV reader's and the row options' reasons for a line it could not read (s34-review: report.html's
    # feed table showed them as codes)
    "unterminated_quote": "A quote that opens a value and is not closed",
    "cut_last_line": "The file's last line, cut off while written or copied",
    "fill_down_no_value_above": "No value above to fill down (a row before the report's first group)",
    "paid_before_issue": "Paid before the invoice was issued",
    # the currency conversion's and the CSV reader's reasons (pipelines.ingest.currency, sources.read)
    "no_fx_rate": "No exchange rate for {column}",
    "malformed_row": "A line that does not split into the header's columns",
}
"""Quarantine reasons (``quarantine/<table>.csv``'s ``reason``; the ingest's rules and the GX suites'
``meta.reason``) in words for report.html's feed table; ``{column}`` is the column after the colon
(``missing_value:paid_on`` -> "Paid on is missing"). A reason not listed reads as its code."""


def reason_words(reason: str) -> str:
    """A quarantine reason in words: ``missing_value:due_date`` -> "Due date is missing", ``duplicate_row``
    -> "Exact copy of another row"; a reason not in :data:`REASON_WORDS` as it is."""
    kind, _, column = reason.partition(":")
    words = REASON_WORDS.get(kind)
    if words is None or ("{column}" in words) != bool(column):
        return reason
    said = words.replace("{column}", column.replace("_", " "))
    return said[:1].upper() + said[1:]


_KINDS = {"action": ACTION_WORDS, "status": STATUS_WORDS, "trigger": TRIGGER_WORDS, "event": EVENT_WORDS}


def code_words(code: object, kind: str) -> str:
    """A code of ``kind`` (action, status, trigger, event) in words: ``agency_referral`` -> "Agency
    referral"; "" for a missing value; a text that is no code as it is."""
    import pandas as pd  # here, not at the top: pipelines.config imports this module for `counted`

    if code is None or code is pd.NA or (isinstance(code, float) and code != code):
        return ""
    text = str(code)
    return _KINDS[kind].get(text, text)


def triggers_words(triggers: object) -> str:
    """A watchlist's ``triggers`` cell in words: "threshold, rank" -> "High-risk band, Among the highest
    PDs"; "override (under_review)" -> "Override (under review)"; other text (the stay's "kept on the
    list after its flag of ...") as it is."""
    text = code_words(triggers, "trigger")
    parts = []
    for part in text.split(", ") if text else []:
        if part.startswith("override (") and part.endswith(")"):
            part = f"Override ({code_words(part[len('override (') : -1], 'status').lower()})"
        parts.append(TRIGGER_WORDS.get(part, part))
    return ", ".join(parts)


def words_column(values: pd.Series, kind: str) -> pd.Series:
    """A column of codes in words (:func:`code_words`; :func:`triggers_words` for ``trigger``), as text;
    missing values stay missing."""
    said = triggers_words if kind == "trigger" else (lambda v: code_words(v, kind))
    return values.astype("string").map(said, na_action="ignore").astype("string")


def in_sentence(words: str) -> str:
    """Words of :func:`code_words` inside a sentence: "Among the highest PDs" -> "among the highest PDs";
    a leading abbreviation stays ("PD jump")."""
    if len(words) > 1 and words[1].isupper():
        return words
    return words[:1].lower() + words[1:]


NO_CURRENCY_CODE = (
    "Amounts carry no currency code: the data name none and conf/ews.yaml sets no currency.reporting. Name it "
    "there (currency: {reporting: EUR}, your currency's ISO code); the next run writes it beside every amount."
)


def amounts_in(currency: str | None) -> str:
    """What a workbook's "about" sheet says of its amounts: "Amounts in EUR.", or, with no currency known
    (statements, invoices without a currency column), :data:`NO_CURRENCY_CODE`, as report.html says it.
    Before session 34 the workbooks said nothing then: headers such as "Exposure at default" over bare
    numbers, as if in a currency."""
    return f"Amounts in {currency}." if currency else NO_CURRENCY_CODE


# above this mean weekly error on held-out weeks the 13-week cash-in forecast is said to be a rough guide
# (a judgement, not a measured cut: books of 2,000 debtors measured 5-20 % in BENCHMARKS.md, a 120-debtor
# book 94 % in s37-walk)
CASH_ERROR_ROUGH = 0.30


def cash_error_said(cash_wape: float | None, weeks: int | None = None) -> str | None:
    """The payment-date model's weekly cash error (``cash_wape``: the mean of |forecast - actual| / actual
    over its held-out weeks with cash) in a sentence for a reader of the cash-in forecast, with the advice
    to read it as a rough guide above :data:`CASH_ERROR_ROUGH`; None without a figure. ``weeks``: how many
    held-out weeks it rests on (None: not said)."""
    if cash_wape is None or cash_wape != cash_wape:
        return None
    on = f" ({counted(weeks, 'forecast week')} from held-out month-ends)" if weeks else " on held-out weeks"
    said = f"weekly totals were off by {cash_wape:.0%} on average{on}"
    if cash_wape > CASH_ERROR_ROUGH:
        return f"{said}: use the 13-week forecast as a rough guide only"
    return said
