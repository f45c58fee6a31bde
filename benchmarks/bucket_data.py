"""Benchmark data preparation: a flat canonical Parquet folder (``ews generate`` output) written in
the bucketed layout of ``ews ingest`` WITHOUT validation, for timing the steps after ingest at sizes
where the in-memory ingest does not fit the shared box (see BENCHMARKS.md, "One engine").

Same layout and bucket function as ingest (``pipelines.adapters.files.bucket_codes``, files sorted by
debtor_id, row groups of ``pipelines.adapters.files.ROW_GROUP_ROWS``); the manifest says ``validated: false``.
Works table by table in Arrow, so memory is about one table.

    nice .venv/bin/python benchmarks/bucket_data.py --data data/bench/gen_1m --out data/bench/gen_1m_buckets
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.adapters.files import ROW_GROUP_ROWS, bucket_codes, bucket_file, sha256_file  # noqa: E402

TABLES = ("debtors", "invoices", "payments", "events", "statements")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--bucket-rows", type=int, default=2_000_000)
    args = parser.parse_args()
    present = [t for t in TABLES if (args.data / f"{t}.parquet").is_file()]
    rows = {t: pq.ParquetFile(args.data / f"{t}.parquet").metadata.num_rows for t in present}
    n = max(1, -(-sum(rows.get(t, 0) for t in ("invoices", "payments", "statements")) // args.bucket_rows))
    tables, outputs = {}, {}
    t0 = time.perf_counter()
    for name in present:
        src = args.data / f"{name}.parquet"
        table = pq.read_table(src)
        ids = table["debtor_id"].combine_chunks()
        uniq = pc.unique(ids)
        uniq = pc.take(uniq, pc.sort_indices(uniq))
        rank = pc.index_in(ids, value_set=uniq).to_numpy(zero_copy_only=False).astype(np.int64)
        code = bucket_codes(pa.chunked_array([uniq]).to_pandas(), n)[rank]
        order = np.argsort(code * len(uniq) + rank, kind="stable")
        cuts = np.searchsorted(code[order], np.arange(n + 1))
        del rank, ids
        for k in range(n):
            path = bucket_file(args.out, name, k)
            path.parent.mkdir(parents=True, exist_ok=True)
            part = table.take(pa.array(order[cuts[k] : cuts[k + 1]]))
            pq.write_table(part, path, row_group_size=ROW_GROUP_ROWS, compression="snappy")
            outputs[str(path.relative_to(args.out))] = sha256_file(path)
        del table, order
        tables[name] = {
            "input": str(src),
            "input_sha256": sha256_file(src),
            "rows_in": rows[name],
            "rows_accepted": rows[name],
            "rows_quarantined": 0,
            "reasons": {},
            "validated": False,
        }
        print(f"{name}: {rows[name]:,} rows -> {n} buckets ({time.perf_counter() - t0:.0f} s)", flush=True)
    manifest = {
        "manifest_version": 1,
        "source": {"name": f"benchmarks/bucket_data.py {args.data} (NOT validated)"},
        "tables": tables,
        "outputs": outputs,
        "layout": {
            "buckets": n,
            "path": "<table>/bucket=<k>/part-0.parquet",
            "row_group_rows": ROW_GROUP_ROWS,
        },
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({"buckets": n, "seconds": round(time.perf_counter() - t0, 1), "rows": rows}))


if __name__ == "__main__":
    main()
