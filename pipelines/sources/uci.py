"""The UCI "default of credit card clients" file (Yeh & Lien 2009) as canonical statements.

The file has one row per card holder and six monthly periods side by side, April to September
2005. Column suffixes run backwards in time: ``PAY_0`` / ``BILL_AMT1`` / ``PAY_AMT1`` are September,
``PAY_6`` / ``BILL_AMT6`` / ``PAY_AMT6`` are April. Mapping (one row per account per month):

- ``debtor_id`` = ``ID`` (text), ``period_end`` = month end 2005-04-30 ... 2005-09-30;
- ``balance`` = ``BILL_AMT`` of the month (may be negative: a credit balance);
- ``amount_paid`` = ``PAY_AMT`` of the month;
- ``amount_due`` = previous month's balance clipped at 0 (``NaN`` in April, the first period);
- ``days_past_due`` = max(``PAY``, 0) x 30 (``PAY`` = months of delay; -2, -1, 0 = not late);
- ``credit_limit`` = ``LIMIT_BAL``.

Numbers may be written in scientific notation (``5E+05``). ``EDUCATION`` and ``MARRIAGE`` contain
codes the documentation does not define (0, 5, 6): they are kept as given and flagged in
:func:`read_uci` ``attributes`` (``education_documented`` / ``marriage_documented``).

The label ``DEFAULT`` (1 = defaulted on the October 2005 payment) is returned separately by
:func:`read_uci` as ``labels`` (debtor_id, as_of = 2005-09-30, default_next_month) so that it can
never leak into the statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.schema import STATEMENTS
from pipelines.sources.parse import parse_numbers
from pipelines.words import counted

__all__ = ["UCIData", "read_uci", "read_uci_labels", "read_uci_statements", "uci_long"]

PERIOD_ENDS: tuple[pd.Timestamp, ...] = tuple(pd.date_range("2005-04-30", periods=6, freq="ME"))
# (PAY, BILL_AMT, PAY_AMT) columns for April ... September.
PERIOD_COLUMNS: tuple[tuple[str, str, str], ...] = tuple(
    (f"PAY_{p}", f"BILL_AMT{b}", f"PAY_AMT{b}")
    for p, b in zip((6, 5, 4, 3, 2, 0), (6, 5, 4, 3, 2, 1), strict=True)
)
REQUIRED = ("ID", "LIMIT_BAL", *[c for cols in PERIOD_COLUMNS for c in cols])
LABEL = "DEFAULT"
LABEL_ALIASES = ("DEFAULT", "default.payment.next.month", "default payment next month")
DOCUMENTED = {"SEX": {1, 2}, "EDUCATION": {1, 2, 3, 4}, "MARRIAGE": {1, 2, 3}}
STATEMENT_COLUMNS = STATEMENTS.names  # the data contract's order (features/schema.py)


@dataclass(frozen=True)
class UCIData:
    """The UCI file split into canonical tables plus the label and the static attributes.

    ``statements``: 6 rows per account (canonical statements dtypes). ``debtors``: one row per
    account (debtor_id, credit_limit, other canonical columns empty). ``labels``: debtor_id, as_of
    (2005-09-30), default_next_month (Int64 0/1). ``attributes``: debtor_id, sex, education, marriage,
    age (Int64, as coded in the file) and ``education_documented`` / ``marriage_documented`` (bool).
    ``unparseable``: per canonical statement column, the long-format rows whose cell was not a number.
    """

    statements: pd.DataFrame
    debtors: pd.DataFrame
    labels: pd.DataFrame
    attributes: pd.DataFrame
    unparseable: dict[str, np.ndarray]


def _read_wide(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")


def uci_long(wide: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Wide UCI rows (text or numbers) -> canonical statements, account-major then month order.

    Returns the statements frame (``len(wide) * 6`` rows) and, per canonical column, the boolean
    mask of long rows whose source cell was present but not a number.
    """
    missing = [c for c in REQUIRED if c not in wide.columns]
    if missing:
        raise ValueError(
            f"UCI file lacks {counted(len(missing), 'column')} {missing}; expected the layout of uci_credit_card.csv"
        )
    n = len(wide)
    ids = wide["ID"].astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    limit, limit_bad = parse_numbers(wide["LIMIT_BAL"])
    pays, bills, paid = [], [], []
    bad_dpd, bad_bal, bad_paid = [], [], []
    for pay_col, bill_col, paid_col in PERIOD_COLUMNS:
        p, pb = parse_numbers(wide[pay_col])
        b, bb = parse_numbers(wide[bill_col])
        a, ab = parse_numbers(wide[paid_col])
        pays.append(p.to_numpy())
        bills.append(b.to_numpy())
        paid.append(a.to_numpy())
        bad_dpd.append(pb)
        bad_bal.append(bb)
        bad_paid.append(ab)
    # (n accounts, 6 months) matrices, months April..September
    pay_m = np.column_stack(pays)
    bill_m = np.column_stack(bills)
    paid_m = np.column_stack(paid)
    due_m = np.full_like(bill_m, np.nan)
    due_m[:, 1:] = np.clip(bill_m[:, :-1], 0, None)
    dpd_m = np.where(np.isnan(pay_m), np.nan, np.clip(pay_m, 0, None) * 30)
    periods = len(PERIOD_COLUMNS)
    dpd = pd.array(np.where(np.isnan(dpd_m), 0, dpd_m).ravel().astype(np.int64), dtype="Int64")
    dpd[np.isnan(dpd_m).ravel()] = pd.NA
    statements = pd.DataFrame(
        {
            "debtor_id": pd.array(np.repeat(ids.to_numpy(dtype=object), periods), dtype="string"),
            "period_end": np.tile(np.array(PERIOD_ENDS, dtype="datetime64[ns]"), n),
            "balance": bill_m.ravel(),
            "amount_due": due_m.ravel(),
            "amount_paid": paid_m.ravel(),
            "days_past_due": dpd,
            "credit_limit": np.repeat(limit.to_numpy(), periods),
        }
    )
    bad_bal_m = np.column_stack(bad_bal)
    bad_due_m = np.zeros_like(bad_bal_m)
    bad_due_m[:, 1:] = bad_bal_m[:, :-1]
    unparseable = {
        "balance": bad_bal_m.ravel(),
        "amount_due": bad_due_m.ravel(),
        "amount_paid": np.column_stack(bad_paid).ravel(),
        "days_past_due": np.column_stack(bad_dpd).ravel(),
        "credit_limit": np.repeat(limit_bad, periods),
    }
    return statements, unparseable


def _int_codes(raw: pd.Series) -> pd.Series:
    values, _ = parse_numbers(raw)
    return pd.array(values.round().to_numpy(), dtype="Float64").astype("Int64")


def read_uci(path: str | Path) -> UCIData:
    """Read the UCI wide file at ``path`` (never committed; pass it as an argument)."""
    wide = _read_wide(Path(path))
    statements, unparseable = uci_long(wide)
    ids = statements["debtor_id"].iloc[:: len(PERIOD_COLUMNS)].reset_index(drop=True)
    limit = statements["credit_limit"].iloc[:: len(PERIOD_COLUMNS)].reset_index(drop=True)
    debtors = pd.DataFrame(
        {
            "debtor_id": ids,
            "name": pd.array([pd.NA] * len(ids), dtype="string"),
            "segment": pd.array([pd.NA] * len(ids), dtype="string"),
            "country": pd.array([pd.NA] * len(ids), dtype="string"),
            "credit_limit": limit,
            "onboarded_on": pd.Series(pd.NaT, index=range(len(ids)), dtype="datetime64[ns]"),
        }
    )
    label_col = next((c for c in LABEL_ALIASES if c in wide.columns), None)
    label = _int_codes(wide[label_col]) if label_col else pd.array([pd.NA] * len(ids), dtype="Int64")
    labels = pd.DataFrame(
        {
            "debtor_id": ids,
            "as_of": pd.Series(PERIOD_ENDS[-1], index=range(len(ids)), dtype="datetime64[ns]"),
            "default_next_month": label,
        }
    )
    attributes = pd.DataFrame({"debtor_id": ids})
    for col in ("SEX", "EDUCATION", "MARRIAGE", "AGE"):
        if col in wide.columns:
            attributes[col.lower()] = _int_codes(wide[col])
    for col in ("EDUCATION", "MARRIAGE"):
        if col in wide.columns:
            codes = attributes[col.lower()]
            attributes[f"{col.lower()}_documented"] = codes.isin(DOCUMENTED[col]).fillna(False).astype(bool)
    return UCIData(statements, debtors, labels, attributes, unparseable)


def read_uci_statements(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(statements, debtors) of the UCI file: 6 statement rows per account, one debtor row each.

    The label is not included; get it with :func:`read_uci_labels` (or :func:`read_uci`).
    """
    data = read_uci(path)
    return data.statements, data.debtors


def read_uci_labels(path: str | Path) -> pd.DataFrame:
    """debtor_id, as_of (2005-09-30), default_next_month (Int64, 1 = defaulted in October 2005)."""
    return read_uci(path).labels
