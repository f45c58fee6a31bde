"""Shared by the hostile-input tests of sessions 18 and 19 (test_hostile_s18.py, test_hostile_s19.py):
ingest a hand-built export through a source config written next to it, and read a table's row counts
from the manifest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.config import load_config
from pipelines.config.source import SourceConfig

AS_OF = dt.date(2024, 12, 4)


def ingest_config(tmp_path: Path, text: str, config: str, name: str = "export.csv"):
    """Write ``text`` as ``name`` and ``config`` (``{path}`` = the export) as source.yaml in
    ``tmp_path``, check the inputs as `ews ingest` does, and ingest as of :data:`AS_OF`."""
    from pipelines.ingest import ingest_source
    from pipelines.ingest.sources import check_inputs

    export = tmp_path / name
    export.write_text(text, encoding="utf-8")
    path = tmp_path / "source.yaml"
    path.write_text(config.format(path=export), encoding="utf-8")
    source = load_config(path, SourceConfig)
    check_inputs(source)
    return ingest_source(source, None, as_of=AS_OF)


def counts(result, table: str) -> tuple[int, int, int, int]:
    """(read, accepted, quarantined, filtered) rows of ``table`` in the ingest's manifest."""
    t = result.manifest["tables"][table]
    return (t["rows_read"], t["rows_accepted"], t["rows_quarantined"], t.get("rows_filtered", 0))
