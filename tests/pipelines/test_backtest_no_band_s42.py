"""Session 42 (lead): `ews backtest`'s rows give a debtor never invoiced no band, as the nightly does.

Since session 41 (s41-limits, 4e98885) the nightly's scores leave the band of a live debtor with no invoice, payment
or statement by T empty ("never invoiced: no band"): its PD is the model's reading of empty features. The backtest's
replay still banded those rows by their PD, so its rows (backtest_rows.csv) and its watchlist replay put prospects in
a band the nightly never shows. Fails on main 7de4095 (P's rows in band E).

Hand-built: month-ends 2024-01-31 and 02-29; A invoiced 2023-12-01 (1,000, due 2023-12-31, never paid); P in the
debtors table since 2023-11-01, never invoiced until 2024-02-10 (500, due 2024-03-10). Fixed PDs: A 0.10 (band D:
0.07 <= 0.10 < 0.15), P 0.20 (band E: >= 0.15). Jan: A band D, P no band (no history). Feb: P invoiced on 02-10, so it
has history and takes the band of its PD, E.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features"))
from ledgers import inv, portfolio  # noqa: E402

from features.params import DefaultDefinition  # noqa: E402
from pipelines.backtest import replay  # noqa: E402
from pipelines.config.nightly import NightlyConfig  # noqa: E402

DATES = [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-29")]
PD = {"A": 0.10, "P": 0.20}


def _pd(live: pd.DataFrame) -> pd.Series:
    ids = live["debtor_id"].astype("string")
    return pd.Series(ids.map(PD).to_numpy(dtype="float64"), index=ids.to_numpy())


def test_the_backtest_rows_leave_a_debtor_never_invoiced_without_a_band_until_its_first_invoice() -> None:
    book = portfolio(
        [
            inv("A1", "A", "2023-12-01", "2023-12-31", 1000.0),
            inv("P1", "P", "2024-02-10", "2024-03-10", 500.0),
        ],
        [],
        debtors=[
            {"debtor_id": d, "credit_limit": 5_000.0, "onboarded_on": pd.Timestamp("2023-11-01")}
            for d in "AP"
        ],
    )
    panel = replay(book, DATES, _pd, NightlyConfig(), DefaultDefinition()).set_index(["as_of", "debtor_id"])
    jan, feb = DATES
    assert not panel.loc[(jan, "P"), "has_history"] and not panel.loc[(jan, "P"), "in_default"]
    assert pd.isna(panel.loc[(jan, "P"), "band"])  # before: "E", the band of the PD read from empty features
    assert panel.loc[(jan, "A"), "band"] == "D"
    assert panel.loc[(feb, "P"), "has_history"] and panel.loc[(feb, "P"), "band"] == "E"
    assert panel.loc[(feb, "A"), "band"] == "D"
