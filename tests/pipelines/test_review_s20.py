"""Review of session 20's product code (s20-review; BENCHMARKS.md "Hostile inputs tried", "Session 20
(s20-review)"). Each test failed on main before its fix unless it says it is a guard; the inputs are
hand-written and the expected figures computed by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hostile_sources import ingest_config as _ingest_config

# ---------------------------------------------------------------- 3-decimal currencies in suggest

# a Kuwaiti ledger: the dinar has 3 decimals (1 KWD = 1,000 fils), every amount is written with them
KWD = (
    "Invoice No,Customer,Invoice Date,Due Date,Amount,Currency\n"
    "INV-1,C100,2024-09-05,2024-10-05,12.000,KWD\n"
    "INV-2,C100,2024-10-20,2024-11-19,1.500,KWD\n"
    "INV-3,C200,2024-09-10,2024-10-10,250.750,KWD\n"
    "INV-4,C200,2024-09-12,2024-10-12,3.125,KWD\n"
)


def test_suggest_reads_a_three_decimal_currency_as_decimals(tmp_path: Path) -> None:
    """d4b6585 drafted decimal "," thousands "." for a column whose every dotted value looks like a
    whole number grouped by thousands (1.500, 12.000). A dinar export writes every amount with 3
    decimals: 12.000 is twelve dinars, 250.750 is 250 dinars 750 fils. On main the draft read them
    as 12,000 / 1,500 / 250,750 / 3,125 (x 1,000, no warning). Only a value written without a dot
    (750: #.##0 writes the hundreds bare) or with two groups (1.500.000) shows the thousands dot;
    by hand the ingest of the draft reads 12.0, 1.5, 250.75, 3.125 (4 = 4 + 0)."""
    from pipelines.sources.suggest import _number, suggest_source

    export = tmp_path / "invoices_kwd.csv"
    export.write_text(KWD, encoding="utf-8")
    draft = suggest_source(export).text
    assert 'decimal: "."' in draft and "thousands: null" in draft, draft
    escaped = draft.replace("{", "{{").replace("}", "}}").replace(str(export), "{path}")
    result = _ingest_config(tmp_path, KWD, escaped, name="invoices_kwd.csv")
    t = result.manifest["tables"]["invoices"]
    assert (t["rows_in"], t["rows_accepted"], t["rows_quarantined"]) == (4, 4, 0)
    amounts = result.portfolio.invoices.set_index("invoice_id")["amount"].astype(float).to_dict()
    assert amounts == {"INV-1": 12.0, "INV-2": 1.5, "INV-3": 250.75, "INV-4": 3.125}
    # the evidence of a thousands dot: a bare hundreds value, or two groups
    assert _number(pd.Series(["1.500", "12.000", "750"])) == (",", ".")
    assert _number(pd.Series(["1.500", "1.250.000"])) == (",", ".")
    assert _number(pd.Series(["1.500", "12.000", "2.250"])) == (".", None)
