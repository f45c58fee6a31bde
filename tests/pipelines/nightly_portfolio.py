"""A seeded, tiny receivables portfolio (canonical tables) for the nightly flow tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

END = pd.Timestamp("2024-08-31")


def make_portfolio(n_debtors: int = 700, months: int = 20, seed: int = 11) -> dict[str, pd.DataFrame]:
    """Monthly invoices per debtor; a latent risk drives payment delays and stopped payments.

    About a fifth of the debtors stop paying at some month (their open invoices then run past
    90 days: a default), so a model has signal and the nightly run has flagged debtors,
    overdue exposure and debtors already in default.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:05d}" for i in range(n_debtors)])
    risk = rng.normal(size=n_debtors)
    start = END - pd.DateOffset(months=months)
    month_starts = pd.date_range(start, periods=months, freq="MS")
    # invoices: one per debtor and month
    d_idx = np.repeat(np.arange(n_debtors), months)
    m_idx = np.tile(np.arange(months), n_debtors)
    issue = (
        month_starts.to_numpy()[m_idx] + pd.to_timedelta(rng.integers(0, 27, d_idx.size), unit="D").to_numpy()
    )
    due = issue + np.timedelta64(30, "D")
    amount = np.round(rng.lognormal(7.5, 0.6, d_idx.size), 2)
    stop_month = np.where(
        rng.random(n_debtors) < 1 / (1 + np.exp(-(risk * 1.5 - 1.8))),
        rng.integers(4, months, n_debtors),
        months + 99,
    )
    paid = m_idx < stop_month[d_idx]
    delay = rng.exponential(
        np.exp(1.8 + 0.7 * risk[d_idx] + 0.15 * np.maximum(m_idx - stop_month[d_idx] + 4, 0))
    )
    paid_on = due + pd.to_timedelta(np.round(delay - 5).astype(int), unit="D").to_numpy()
    paid_on = np.maximum(paid_on, issue)
    paid &= paid_on <= END.to_datetime64()
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"I{i:07d}" for i in range(d_idx.size)],
            "debtor_id": ids[d_idx],
            "issue_date": issue,
            "due_date": due,
            "amount": amount,
            "currency": "EUR",
            "disputed": rng.random(d_idx.size) < 0.02,
        }
    )
    invoices = invoices[invoices["issue_date"] <= END].reset_index(drop=True)
    keep = invoices.index.to_numpy()
    mask = paid[keep]
    payments = pd.DataFrame(
        {
            "payment_id": [f"P{i:07d}" for i in range(int(mask.sum()))],
            "debtor_id": invoices.loc[mask, "debtor_id"].to_numpy(),
            "invoice_id": invoices.loc[mask, "invoice_id"].to_numpy(),
            "paid_on": paid_on[keep][mask],
            "amount": invoices.loc[mask, "amount"].to_numpy(),
        }
    )
    names = np.array([f"Debtor {i} BV" for i in range(n_debtors)], dtype=object)
    names[1] = '=HYPERLINK("http://evil","x")'
    names[2] = "@SUM(A1:A9)"
    debtors = pd.DataFrame(
        {
            "debtor_id": ids,
            "name": names,
            "segment": rng.choice(["retail", "wholesale", "construction"], n_debtors),
            "country": rng.choice(["NL", "DE", "BE"], n_debtors),
            "credit_limit": np.round(rng.uniform(5_000, 50_000, n_debtors), 0),
            "onboarded_on": pd.Timestamp(start) - pd.Timedelta(days=30),
        }
    )
    return {"debtors": debtors, "invoices": invoices, "payments": payments}


def write_portfolio(folder: Path, **kwargs: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in make_portfolio(**kwargs).items():  # type: ignore[arg-type]
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def typed_tables(n_debtors: int, months: int, seed: int) -> dict[str, pd.DataFrame]:
    """:func:`make_portfolio` with text columns as pandas ``string`` (what ingest writes)."""
    typed = {}
    for name, frame in make_portfolio(n_debtors=n_debtors, months=months, seed=seed).items():
        frame = frame.copy()
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].astype("string")
        typed[name] = frame
    return typed
