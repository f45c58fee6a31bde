"""Great Expectations validation: stored suites, reasons, chunking, Data Docs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.schema import TABLES
from pipelines.validation import Validator, load_suite

PARAMS = {
    "as_of": pd.Timestamp("2024-06-30"),
    "min_date": pd.Timestamp("1990-01-01"),
    "max_date": pd.Timestamp("2099-12-31"),
}


def _invoices(n: int) -> pd.DataFrame:
    ids = [f"I{i}" for i in range(n)]
    ids[n - 1] = "I0"  # duplicate of the first id, far away in the file
    amount = np.full(n, 10.0)
    amount[min(5, n - 1)] = -1.0
    return pd.DataFrame(
        {
            "invoice_id": pd.array(ids, dtype="string"),
            "debtor_id": pd.array(["D1"] * n, dtype="string"),
            "issue_date": pd.Series([pd.Timestamp("2024-01-01")] * n, dtype="datetime64[ns]"),
            "due_date": pd.Series([pd.Timestamp("2024-01-31")] * n, dtype="datetime64[ns]"),
            "amount": amount,
            "currency": pd.array(["EUR"] * n, dtype="string"),
            "disputed": np.zeros(n, dtype=bool),
        }
    )


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(chunk_rows=7)


def test_every_expectation_has_a_reason_and_suites_cover_all_tables() -> None:
    for table in TABLES:
        suite = load_suite(table)
        reasons = [e["meta"]["reason"] for e in suite["expectations"]]
        assert len(reasons) == len(set(reasons)), table
        for column in TABLES[table].required:
            assert f"missing_value:{column}" in reasons, (table, column)


@pytest.mark.parametrize("chunk_rows", [7, 1000])
def test_chunked_validation_keeps_uniqueness_exact(chunk_rows: int) -> None:
    frame = _invoices(40)
    outcome = Validator(chunk_rows=chunk_rows).validate("invoices", frame, PARAMS)
    assert outcome.chunks == (1 if chunk_rows >= 40 else int(np.ceil(40 / chunk_rows)))
    assert set(outcome.masks) == {"duplicate_id:invoice_id", "amount_not_positive"}
    assert np.flatnonzero(outcome.masks["duplicate_id:invoice_id"]).tolist() == [0, 39]
    assert np.flatnonzero(outcome.masks["amount_not_positive"]).tolist() == [5]
    assert outcome.evaluated == len(load_suite("invoices")["expectations"])


def test_masks_are_positional_whatever_the_index(validator: Validator) -> None:
    frame = _invoices(10)
    frame.index = range(100, 110)
    outcome = validator.validate("invoices", frame, PARAMS)
    assert np.flatnonzero(outcome.masks["amount_not_positive"]).tolist() == [5]


def test_date_bounds_come_from_parameters(validator: Validator) -> None:
    frame = _invoices(3)
    outcome = validator.validate("invoices", frame, {**PARAMS, "as_of": pd.Timestamp("2023-12-31")})
    assert outcome.masks["date_after_as_of:issue_date"].tolist() == [True, True, True]


def test_suite_without_reason_is_rejected(tmp_path: Path) -> None:
    bad = {
        "name": "events",
        "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "kind"}}],
    }
    (tmp_path / "events.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"expectations\[0\] .* has no meta.reason"):
        load_suite("events", tmp_path)
    with pytest.raises(FileNotFoundError, match="payments.json not found"):
        load_suite("payments", tmp_path)


def test_data_docs_are_rendered(tmp_path: Path) -> None:
    v = Validator(docs_dir=tmp_path / "docs")
    v.validate("invoices", _invoices(5), PARAMS)
    index = v.build_docs()
    assert index == tmp_path / "docs" / "index.html"
    html = index.read_text()
    assert "invoices" in html
    assert list((tmp_path / "docs" / "validations").rglob("*.html"))


def test_batch_fingerprint_only_when_data_docs_show_it(tmp_path: Path) -> None:
    """GX hashes every row of a batch for a marker that only Data Docs show: without Data Docs
    it is skipped (a third of GX's CPU on a ledger table), the rows rejected are the same, and
    GX's own threshold is restored afterwards."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    threshold = engine.HASH_THRESHOLD
    markers, masks = {}, {}
    for docs in (None, tmp_path / "docs"):
        v = Validator(docs_dir=docs)
        outcome = v.validate("invoices", _invoices(9), PARAMS)
        store = v.context.validation_results_store
        (key,) = store.list_keys()
        markers[docs is not None] = store.get(key).meta["batch_markers"]
        masks[docs is not None] = {k: m.tolist() for k, m in outcome.masks.items()}
    assert masks[False] == masks[True] and set(masks[True]) == {
        "duplicate_id:invoice_id",
        "amount_not_positive",
    }
    assert "pandas_data_fingerprint" not in markers[False]
    assert len(markers[True]["pandas_data_fingerprint"]) == 32  # md5 hex, as GX records it
    assert engine.HASH_THRESHOLD == threshold


@pytest.mark.parametrize("table", sorted(TABLES))
def test_committed_suite_is_the_one_generated_from_the_schema(table: str) -> None:
    """One contract: conf/expectations/<table>.json is `ews config expectations`'s output."""
    from pipelines.validation import DEFAULT_EXPECTATIONS_DIR, suite_text

    committed = (DEFAULT_EXPECTATIONS_DIR / f"{table}.json").read_text(encoding="utf-8")
    assert committed == suite_text(table), "run `ews config expectations` after editing features/schema.py"


def test_generated_suite_follows_a_schema_rule() -> None:
    """The suites are derived from the schema, rule by rule (invoices, hand-listed)."""
    from pipelines.validation import expectation_suite

    got = {
        (e["type"], json.dumps(e["kwargs"], sort_keys=True), e["meta"]["reason"])
        for e in expectation_suite("invoices")["expectations"]
    }
    assert (
        "expect_column_values_to_be_between",
        '{"column": "amount", "min_value": 0, "strict_min": true}',
        "amount_not_positive",
    ) in got
    assert ("expect_column_values_to_be_unique", '{"column": "invoice_id"}', "duplicate_id:invoice_id") in got
    assert (
        "expect_column_values_to_be_between",
        '{"column": "due_date", "max_value": {"$PARAMETER": "max_date"}}',
        "date_too_late:due_date",
    ) in got
    assert (
        "expect_column_values_to_not_be_null",
        '{"column": "currency"}',
        "missing_value:currency",
    ) not in got  # optional
    assert len(got) == 5 + 1 + 1 + 1 + 1 + 4  # not-null x5, unique, amount, currency, pair, 2 dates x 2


def test_row_query_only_when_data_docs_show_it(tmp_path: Path) -> None:
    """Without Data Docs GX does not build ``unexpected_index_query`` (the rejected rows as a
    ``df.filter`` text, read only by the pages; it copied the whole batch per expectation); the
    rows rejected are the same, hand-counted: ids 0 and 9 repeat, row 5 has amount -1."""
    queries, masks = {}, {}
    for docs in (None, tmp_path / "docs"):
        v = Validator(docs_dir=docs)
        outcome = v.validate("invoices", _invoices(10), PARAMS)
        store = v.context.validation_results_store
        (key,) = store.list_keys()
        failed = [r for r in store.get(key).results if not r.success]
        queries[docs is not None] = {
            r.expectation_config.meta["reason"]: r.result.get("unexpected_index_query") for r in failed
        }
        masks[docs is not None] = {k: np.flatnonzero(m).tolist() for k, m in outcome.masks.items()}
    expected = {"duplicate_id:invoice_id": [0, 9], "amount_not_positive": [5]}
    assert masks[False] == masks[True] == expected
    assert queries[False] == {"duplicate_id:invoice_id": None, "amount_not_positive": None}
    assert queries[True]["amount_not_positive"] == "df.filter(items=[5], axis=0)"
