"""A cut-off export (payments or debtors with a header and no rows beside a full invoices file) is
refused by a streamed ingest right after the read, before any validation: s29-review measured the
refusal only after the whole read and validation (42-62 s on an 800-debtor night; every partition
validated first at 1M). The line is the in-memory ingest's."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source
from pipelines.ingest.stream import StreamRun
from pipelines.sources.read import TableError

HEADERS = {
    "debtors": "debtor_id,name\n",
    "invoices": "invoice_id,debtor_id,issue_date,due_date,amount\n",
    "payments": "payment_id,debtor_id,invoice_id,paid_on,amount\n",
}


def _book(folder: Path, empty: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = {
        "debtors": [f"D{i},Firm {i}\n" for i in range(12)],
        "invoices": [
            f"I{i},D{i % 12},2024-01-{1 + i % 28:02d},2024-02-{1 + i % 28:02d},{100 + i}\n" for i in range(40)
        ],
        "payments": [f"P{i},D{i % 12},I{i},2024-02-{1 + i % 28:02d},{100 + i}\n" for i in range(30)],
    }
    files = {}
    for table, header in HEADERS.items():
        files[table] = folder / f"{table}.csv"
        files[table].write_text(header + ("" if table == empty else "".join(rows[table])), encoding="utf-8")
    return files


def _refusal(files: dict[str, Path], out: Path, **stream) -> str:
    rules = RulesConfig(data_docs=False, refuse_empty_table_rows=10)
    source = SourceConfig(name="files", rules=rules, tables={t: FileSource(path=p) for t, p in files.items()})
    import datetime as dt

    with pytest.raises(TableError) as err:
        ingest_source(source, out, as_of=dt.date(2024, 3, 31), **stream)
    return str(err.value)


@pytest.mark.parametrize("empty", ["payments", "debtors"])
def test_streamed_cut_off_export_is_refused_before_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty: str
) -> None:
    files = _book(tmp_path / "in", empty)
    in_memory = _refusal(files, tmp_path / "mem")
    assert "has a header but no rows, while invoices has 40 rows" in in_memory
    calls: list[str] = []
    for name in ("validate", "fused"):
        original = getattr(StreamRun, name)

        def record(self, *args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(StreamRun, name, record)
    streamed = _refusal(files, tmp_path / "stream", stream=True, chunk_rows=7, partitions=3, workers=1)
    assert streamed == in_memory
    assert calls == []  # refused after the read, no partition validated
    assert not (tmp_path / "stream" / "manifest.json").exists()
