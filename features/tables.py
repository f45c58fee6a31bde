"""In-memory container for the canonical tables (see ``features.schema``)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Portfolio:
    """Canonical tables after ingest. Frames are never mutated in place.

    ``invoices`` and ``payments`` drive the invoice-ledger path; ``statements`` drives the
    statement-history path. ``debtor_history`` dates the debtors' attributes (``features.master``).
    Any table may be ``None`` when the source does not provide it.
    """

    invoices: pd.DataFrame | None = None
    payments: pd.DataFrame | None = None
    debtors: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    statements: pd.DataFrame | None = None
    payment_plans: pd.DataFrame | None = None
    debtor_history: pd.DataFrame | None = None

    def present(self) -> dict[str, pd.DataFrame]:
        """The tables that are not ``None``, by canonical name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def credit_memos(payments: pd.DataFrame) -> np.ndarray:
    """Rows of a payments table that are credit memos (``kind`` = credit, ``features.schema``): they
    reduce what is open but are no cash (all False without the column)."""
    if "kind" not in payments:
        return np.zeros(len(payments), dtype=bool)
    return (payments["kind"].astype("string") == "credit").fillna(False).to_numpy(dtype=bool)
