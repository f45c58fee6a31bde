"""Compare two output folders byte for byte (e.g. two ``ews ingest --out`` folders of the same book,
from two commits or two worker counts).

    python benchmarks/same_outputs.py OUT_A OUT_B [--skip data_docs]

Prints every file that differs or exists on one side only, then one JSON line:
``{"benchmark": "same_outputs", "files": N, "differ": K, "only_a": [...], "only_b": [...]}``.
Exit status 0 when the folders hold the same files with the same bytes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path


def digests(folder: Path, skip: list[str]) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path -> hex), hidden lock files excluded."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or rel.startswith(".") or any(rel.startswith(s) for s in skip):
            continue
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out[rel] = h.hexdigest()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--skip", action="append", default=[], help="relative path prefix to leave out")
    args = ap.parse_args(argv)
    for folder in (args.a, args.b):
        if not folder.is_dir():
            print(f"error: {folder} is not a folder", file=sys.stderr)
            return 2
    a, b = digests(args.a, args.skip), digests(args.b, args.skip)
    differ = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
    only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
    for name in differ:
        print(f"differs: {name}")
    for name in only_a:
        print(f"only in {args.a}: {name}")
    for name in only_b:
        print(f"only in {args.b}: {name}")
    files = len(a.keys() | b.keys())
    print(f"{files} files, {len(differ) + len(only_a) + len(only_b)} differ")
    print(
        json.dumps(
            {
                "benchmark": "same_outputs",
                "files": files,
                "differ": len(differ),
                "only_a": only_a,
                "only_b": only_b,
            }
        )
    )
    return 0 if not (differ or only_a or only_b) else 1


if __name__ == "__main__":
    raise SystemExit(main())
