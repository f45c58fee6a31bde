"""The lost-column check of ``--keep-history`` (:func:`pipelines.ingest.history.refuse_lost_columns`,
s42-attack) decides from the Parquet footers when they prove a kept column states nothing (s43-scale:
at 1M debtors a generated book's night read 42.7M null cells of payments' ``allocated_on``,
``currency`` and ``kind`` for nothing). Same verdicts and counts as reading the column; hand-built
kept tables in the ingest's bucket layout (``<table>/bucket=<k>/part-0.parquet``), two buckets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.ingest import TableError, history
from pipelines.ingest.history import _footers_state_nothing, _stated, refuse_lost_columns


def _kept(base: Path, table: str, buckets: list[pd.DataFrame], statistics: bool = True) -> Path:
    for k, frame in enumerate(buckets):
        path = base / table / f"bucket={k}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, write_statistics=statistics)
    return base / table


STR = "string"


@pytest.mark.parametrize(
    ("name", "kind", "default", "cells", "proved", "stated"),
    [
        # all null, typed (the ingest writes the schema's type) and untyped (Arrow's null type, no statistics)
        ("currency", "str", None, ([None, None], [None]), True, 0),
        ("allocated_on", "date", None, (pd.to_datetime([None, None]), pd.to_datetime([None])), True, 0),
        ("disputed", "bool", None, ([False, None], [False]), True, 0),
        ("disputed", "bool", None, ([False, None], [True]), False, 1),
        ("currency", "str", "EUR", (["EUR", None], ["EUR"]), True, 0),
        ("currency", "str", None, (["EUR", None], ["EUR"]), False, 2),  # no default: EUR states EUR
        ("currency", "str", "EUR", (["EUR", None], ["USD"]), False, 1),
        ("kind", "str", None, (["cash", None], ["cash"]), True, 0),
        ("kind", "str", None, (["cash", "credit_note"], ["cash"]), False, 1),
        ("credit_limit", "float", None, ([float("nan"), None], [None]), True, 0),
        ("credit_limit", "float", None, ([float("nan"), 5000.0], [None]), False, 1),
    ],
)
def test_the_footers_prove_nothing_stated_exactly_when_the_read_counts_none(
    tmp_path: Path, name: str, kind: str, default: str | None, cells: tuple, proved: bool, stated: int
) -> None:
    """Each case by hand: the footers' answer, and the count of the column read (what the check
    did before); a proof never stands beside a stated row."""
    dtype = STR if kind == "str" else None
    folder = _kept(
        tmp_path, "t", [pd.DataFrame({"debtor_id": "D", name: pd.Series(c, dtype=dtype)}) for c in cells]
    )
    assert _footers_state_nothing(folder, name, kind, default) is proved
    assert _stated(pd.read_parquet(folder, columns=[name])[name], kind, default, name) == stated


def test_an_untyped_null_column_is_proved_empty_without_statistics(tmp_path: Path) -> None:
    """pandas' object column of None only is written as Arrow's null type, without statistics."""
    folder = _kept(tmp_path, "t", [pd.DataFrame({"debtor_id": ["D1"], "kind": [None]})])
    assert (
        pq.ParquetFile(folder / "bucket=0" / "part-0.parquet").metadata.row_group(0).column(1).statistics
        is None
    )
    assert _footers_state_nothing(folder, "kind", "str", None) is True


def test_without_statistics_the_column_is_read_and_the_refusal_counts_as_before(tmp_path: Path) -> None:
    """A history written without statistics: no proof, the column is read; 1 disputed invoice of 3
    kept refuses an export without ``disputed``, "1 row marked true" (s42-attack's message)."""
    frames = [
        pd.DataFrame({"invoice_id": ["I1", "I2"], "disputed": [True, False]}),
        pd.DataFrame({"invoice_id": ["I3"], "disputed": [False]}),
    ]
    _kept(tmp_path, "invoices", frames, statistics=False)
    assert _footers_state_nothing(tmp_path / "invoices", "disputed", "bool", None) is False
    given = {"invoices": {"invoice_id", "debtor_id", "issue_date", "due_date", "amount", "currency"}}
    with pytest.raises(TableError, match="holds it for 1 row marked true"):
        refuse_lost_columns(tmp_path, given, tmp_path, {"invoices": "inv.csv"}, None)


def test_a_column_the_footers_clear_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Payments kept as a generated book's (``allocated_on``, ``currency``, ``kind`` null, ``invoice_id``
    given): the export without the three columns passes, and no column is read (a read fails here).
    One kept payment of kind ``credit_note``: refused, "1 row with a value", as before."""
    payments = pd.DataFrame(
        {
            "payment_id": ["P1", "P2"],
            "invoice_id": ["I1", None],
            "allocated_on": pd.to_datetime([None, None]),
            "currency": pd.Series([None, None], dtype=STR),
            "kind": pd.Series([None, "cash"], dtype=STR),
        }
    )
    _kept(tmp_path, "payments", [payments, payments.iloc[:1]])
    given = {"payments": {"payment_id", "debtor_id", "invoice_id", "paid_on", "amount"}}

    def no_read(*_args: object, **_kwargs: object) -> pd.DataFrame:
        raise AssertionError("read a column the footers clear")

    with monkeypatch.context() as patched:
        patched.setattr(history.pd, "read_parquet", no_read)
        refuse_lost_columns(tmp_path, given, tmp_path, {"payments": "pay.csv"}, None)
    _kept(tmp_path, "payments", [payments.assign(kind=pd.Series(["cash", "credit_note"], dtype=STR))])
    with pytest.raises(TableError, match=r"pay.csv \(payments\) has no column 'kind'.*1 row with a value"):
        refuse_lost_columns(tmp_path, given, tmp_path, {"payments": "pay.csv"}, None)
