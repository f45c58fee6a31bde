"""Review of session 18 (s18-review; BENCHMARKS.md "Hostile inputs tried", "Session 18
(s18-review)"): defects found in the code session 18 landed. Each test failed on main before its
fix; hand-built inputs, expected values by hand."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from pipelines.config import load_config
from pipelines.config.source import SourceConfig
from tests.pipelines.test_hostile_s18 import AS_OF, TWO_YEARS, _ids_config


def _ingest_parquet(tmp_path: Path, frame: pd.DataFrame, scoped: bool):
    from pipelines.ingest import ingest_source
    from pipelines.ingest.sources import check_inputs

    export = tmp_path / f"export_{scoped}.parquet"
    frame.to_parquet(export, index=False)
    config = tmp_path / f"source_{scoped}.yaml"
    config.write_text(_ids_config(scoped).replace('csv: {{delimiter: ";"}}\n', "").format(path=export))
    source = load_config(config, SourceConfig)
    check_inputs(source)
    return ingest_source(source, None, as_of=AS_OF)


def test_id_scope_on_a_parquet_export_writes_float_numbers_as_the_bare_ids_do(tmp_path: Path) -> None:
    """The two-year FBL5N export of test_hostile_s18 as Parquet, as a spreadsheet stores it: the
    document and clearing numbers float64 (a row without a number makes the column float), company
    code and year int64. Without id_scope the one id left is '9000002' (a whole float loses its
    '.0', pipelines.sources.parse.parse_text); with it, before the fix, every id ended in '.0'
    ('1000/2024/9000002.0', payment '1000/2023/1400000001.0'): the same document had another id
    than in the CSV export. By hand: invoices 1000/2023/9000001, 1000/2024/9000001,
    1000/2024/9000002 (the row without a number: missing_value:invoice_id), payments
    1000/2023/1400000001 on 1000/2023/9000001 (600.00) and 1000/2024/1400000001 on
    1000/2024/9000001 (500.00)."""
    text = TWO_YEARS + "1000;2024;K1;;RV;2024-04-01;2024-04-30;10.00;;\n"
    frame = pd.read_csv(io.StringIO(text), sep=";", dtype=str)
    for column in ("Document Number", "Clearing Document", "Amount"):
        frame[column] = pd.to_numeric(frame[column])
    for column in ("Company Code", "Fiscal Year"):
        frame[column] = frame[column].astype("int64")
    assert frame["Document Number"].dtype == "float64"
    bare = _ingest_parquet(tmp_path, frame, False)
    assert bare.portfolio.invoices["invoice_id"].astype(str).tolist() == ["9000002"]
    result = _ingest_parquet(tmp_path, frame, True)
    assert sorted(result.portfolio.invoices["invoice_id"].astype(str)) == [
        "1000/2023/9000001",
        "1000/2024/9000001",
        "1000/2024/9000002",
    ]
    assert result.manifest["tables"]["invoices"]["reasons"] == {"missing_value:invoice_id": 1}
    payments = {
        str(r.payment_id): (str(r.invoice_id), float(r.amount))
        for r in result.portfolio.payments.itertuples()
    }
    assert payments == {
        "1000/2023/1400000001": ("1000/2023/9000001", 600.0),
        "1000/2024/1400000001": ("1000/2024/9000001", 500.0),
    }


def test_a_group_row_printed_again_inside_its_group_stays_a_group_row(tmp_path: Path) -> None:
    """A Sage report printed with a page break repeats the account's own row (telephone, credit
    limit, balance) inside its group. At 17f70b3 it was a group_balance row; daf38e5 (a row taken
    for a group row only by a text cell in a group-rows column must open its group) made it a
    detail row, quarantined for its missing number and dates. An exact copy of the row that opened
    the group is that group's row again; s18-robust's note row (its text in a column the opening
    row leaves empty) stays a detail row (test_hostile_s18). By hand: 5 rows read = 2 invoices +
    0 quarantined + 3 filtered (group_balance 2: the account row and its copy; group_total 1)."""
    from tests.pipelines.test_hostile_s18 import SAGE, _counts, _ingest_config

    text = (
        "A/C,Name,Telephone,Credit Limit,No,Type,Date,Ref,Due,Balance,Note\n"
        "ACME01,Acme Ltd,0044-20-7946-0958,5000.00,,,,,,370.00,\n"
        ",,,,101,SI,01/10/2024,INV-1,31/10/2024,200.00,\n"
        "ACME01,Acme Ltd,0044-20-7946-0958,5000.00,,,,,,370.00,\n"
        ",,,,102,SI,05/10/2024,INV-2,04/11/2024,170.00,\n"
        ",,,,,,,,Totals:,370.00,\n"
    )
    result = _ingest_config(tmp_path, text, SAGE)
    table = result.manifest["tables"]["invoices"]
    assert _counts(result, "invoices") == (5, 2, 0, 3)
    assert table["filtered"] == {"group_balance": 2, "group_total": 1} and table["reasons"] == {}
    invoices = result.portfolio.invoices.set_index("invoice_id")
    assert invoices["debtor_id"].to_dict() == {"INV-1": "ACME01", "INV-2": "ACME01"}
    assert invoices["amount"].to_dict() == {"INV-1": 200.0, "INV-2": 170.0}
