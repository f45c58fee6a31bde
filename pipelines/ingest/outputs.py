"""Publishing an ingest: accepted Parquet tables (hive-style debtor buckets,
``<table>/bucket=<k>/part-0.parquet``), quarantine CSVs, FX tables, the manifest and the Data Docs,
written into a staging folder and moved into ``--out``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from features.schema import TABLES
from pipelines.adapters.book import book_id_for
from pipelines.adapters.files import (
    ROW_GROUP_ROWS,
    bucket_file,
    bucket_parts,
    output_errors,
    parquet_footer_digest,
    sha256_file,
    write_bucket_atomic,
    write_ingest_csv,
    write_text_atomic,
)

_OUTPUT_NAME = re.compile(
    r"^(?:(?:quarantine/|fx/)?(?:" + "|".join(TABLES) + r")\.(?:parquet|csv)"
    r"|(?:" + "|".join(TABLES) + r")/bucket=\d+/part-0\.parquet)$"
)


def bucket_count_for(accepted: dict[str, pd.DataFrame], bucket_rows: int) -> int:
    """Debtor buckets for the accepted tables: one per ``bucket_rows`` ledger rows (invoices,
    payments, statements), at least 1 (a small book is one bucket: one file per table)."""
    rows = sum(len(f) for t, f in accepted.items() if t in ("invoices", "payments", "statements"))
    return max(1, -(-rows // bucket_rows))


def _stale_outputs(out: Path, outputs: dict[str, str]) -> list[str]:
    """Table files listed by the previous ingest's manifest in ``out`` that this run does not write
    (they would mislead a reader). Nothing that manifest does not list is ever removed."""
    try:
        previous = json.loads((out / "manifest.json").read_text(encoding="utf-8")).get("outputs") or {}
    except (OSError, ValueError, AttributeError):
        return []
    return sorted(k for k in previous if isinstance(k, str) and _OUTPUT_NAME.match(k) and k not in outputs)


def publish_outputs(
    out: Path,
    stage: Path,
    accepted: dict[str, pd.DataFrame],
    quarantine: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    validator: Any,
    fx: dict[str, pd.DataFrame],
    history: Any = None,
) -> None:
    """Write every output into ``stage``, then move them into ``out`` (manifest.json last).

    ``accepted``: the tables published (with ``--keep-history``, the merged history; a table absent
    from ``quarantine`` gets no quarantine file). ``history``: the base of a merge
    (:class:`pipelines.ingest.history.History`), linked into ``OUT/.history``."""
    from pipelines.adapters.publish import publish_ingest
    from pipelines.ingest.checks import case_warnings
    from pipelines.ingest.staged import resent_inputs, staged_checks

    with output_errors(out):
        stage.mkdir(parents=True, exist_ok=True)
        outputs: dict[str, str] = {}
        footers: dict[str, str] = {}
        for table, frame in sorted(fx.items()):  # converted rows: original amount, currency, rate
            path = write_ingest_csv(frame, stage / "fx" / f"{table}.csv")
            outputs[f"fx/{table}.csv"] = sha256_file(path)
        n = bucket_count_for(accepted, manifest["rules"]["bucket_rows"])
        manifest["layout"] = {
            "buckets": n,
            "path": "<table>/bucket=<k>/part-0.parquet",
            "bucket": "SipHash(debtor_id) % buckets (pipelines.adapters.files.bucket_codes)",
            "sorted_by": "debtor_id",
            "row_group_rows": ROW_GROUP_ROWS,
        }
        for table, frame in accepted.items():
            for k, part in enumerate(bucket_parts(frame, n)):
                path = write_bucket_atomic(part, bucket_file(stage, table, k))
                outputs[str(path.relative_to(stage))] = sha256_file(path)
                footers[str(path.relative_to(stage))] = parquet_footer_digest(path)
            if table in quarantine:
                qpath = write_ingest_csv(quarantine[table], stage / "quarantine" / f"{table}.csv")
                outputs[f"quarantine/{table}.csv"] = sha256_file(qpath)
        manifest["outputs"] = outputs
        manifest["bucket_footers"] = footers  # checked by the readers (publish.mixed_ingest)
        manifest["warnings"] += case_warnings(stage)  # one customer spelled two ways
        per_day = staged_checks(stage, manifest)  # rows long after the export's end; statement months
        manifest["warnings"] += resent_inputs(out, manifest, per_day)  # yesterday's files again
        docs = validator.build_docs()
        manifest["data_docs"] = str(docs.relative_to(stage)) if docs is not None else None
        manifest["book_id"] = book_id_for(
            out, manifest["inputs"]
        )  # the same book as before in this folder (adapters.book)
        write_text_atomic(json.dumps(manifest, indent=2, sort_keys=False) + "\n", stage / "manifest.json")
        stale = _stale_outputs(out, outputs)
        if "history" in manifest:
            from pipelines.ingest.history import link_base, stale_base

            stale += stale_base(out, link_base(history, stage))
    publish_ingest(stage, out, stale)
