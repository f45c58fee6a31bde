"""``kind: source`` config: valid and invalid examples, each with an actionable message."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import INVALID  # the shared table of invalid examples (tests/pipelines/test_config.py)

from pipelines.config import ConfigError, load_config
from pipelines.config.source import SourceConfig

CONF = Path(__file__).resolve().parents[2] / "conf"
ROOT = CONF.parents[1]

SOURCE_INVALID = {
    "source_unknown_canonical.yaml": ["source_unknown_canonical.yaml", "tables", "invoice_number", "allowed"],
    "source_bad_date_format.yaml": [
        "source_bad_date_format.yaml",
        "values.date_format",
        "dd/mm/yyyy",
        "m/d/Y",
    ],
    "source_no_input.yaml": ["source_no_input.yaml", "give at least one of tables, ar_export or uci_wide"],
    "source_table_twice.yaml": [
        "source_table_twice.yaml",
        "'invoices' comes from both tables.invoices and ar_export",
    ],
    "source_bad_delimiter.yaml": ["source_bad_delimiter.yaml", "csv.delimiter", "exactly one character"],
    "source_bad_currency.yaml": ["source_bad_currency.yaml", "default_currency", "'euro'"],
    "source_ar_no_settlement.yaml": ["source_ar_no_settlement.yaml", "ar_export", "settled_on"],
    "source_same_separators.yaml": [
        "source_same_separators.yaml",
        "tables.payments: csv/values overrides do not combine",
        "both '.'",
    ],
    "source_unknown_key.yaml": ["source_unknown_key.yaml", "tables.invoices.colums", "unknown key"],
    "source_bad_encoding.yaml": ["source_bad_encoding.yaml", "csv.encoding", "utf-9"],
}
INVALID.update(SOURCE_INVALID)


@pytest.mark.parametrize("name", sorted(SOURCE_INVALID))
def test_invalid_source_config_names_file_and_key(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONF / "invalid" / name)
    for fragment in SOURCE_INVALID[name]:
        assert fragment in str(info.value)


@pytest.mark.parametrize("path", sorted((CONF / "valid").glob("source_*.yaml")), ids=lambda p: p.name)
def test_valid_source_configs_load(path: Path) -> None:
    cfg = load_config(path, expect=SourceConfig)
    assert cfg.kind == "source"


@pytest.mark.parametrize("path", sorted((ROOT / "conf" / "sources").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_source_configs_load(path: Path) -> None:
    assert load_config(path, expect=SourceConfig).name


def test_valid_values_reach_the_model() -> None:
    cfg = load_config(CONF / "valid" / "source_tables.yaml", expect=SourceConfig)
    csv, values = cfg.options_for(cfg.tables["payments"])
    assert csv.delimiter == "\t"
    assert (values.decimal, values.thousands, values.date_format) == (".", ",", "%Y%m%d")
    assert cfg.values.strptime("onboarded_on") == "%d.%m.%Y"
    assert cfg.values.strptime("issue_date") == "%Y%m%d"
    assert cfg.tables["invoices"].file_format() == "parquet"
    ar = load_config(CONF / "valid" / "source_ar_export.yaml", expect=SourceConfig)
    assert ar.csv.na_values == ("", "-") and ar.csv.skip_rows == 2
    assert ar.ar_export.settled_amount is None and ar.ar_export.payment_id_suffix == "-S"
    assert ar.rules.overpayment_tolerance == 0.05


def test_source_config_is_frozen() -> None:
    cfg = load_config(CONF / "valid" / "source_uci.yaml", expect=SourceConfig)
    with pytest.raises(Exception, match="frozen"):
        cfg.name = "y"  # type: ignore[misc]
