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
