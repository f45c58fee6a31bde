"""Compare two nightly run folders file by file: same bytes or not (report.html without its time stamps).

Used to check that a change to the nightly keeps every output identical: run the nightly with the
code before and after on the same book, then::

    python benchmarks/compare_runs.py RUN_BEFORE/2023-12-29 RUN_AFTER/2023-12-29

Every file under both folders is hashed (SHA-256). ``report.html`` is compared with every ISO
date-time (``YYYY-MM-DD[T ]HH:MM[:SS...]``) replaced by a placeholder: the feed-override and
generation time stamps. ``manifest.json`` holds the run's timings, peak memory and time stamps, so it
differs by nature: it is compared key by key without ``timings_s``, ``cpu_s``, ``peak_rss_mib``,
``created_at``, the feed override's ``at`` and the hash it lists for ``report.html`` (keys in
``--manifest-skip``), and the keys that still differ are printed. Prints one line per file and ends
with one JSON line: ``{"same": N, "different": [...], "only_in_a": [...], "only_in_b": [...]}``. Exit 1
when any file differs or is missing on one side.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

STAMP = re.compile(rb"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z| UTC)?")
MANIFEST_SKIP = ("timings_s", "cpu_s", "peak_rss_mib", "created_at", "at", "report.html")


def _strip(obj: object, skip: tuple[str, ...]) -> object:
    if isinstance(obj, dict):
        return {k: _strip(v, skip) for k, v in obj.items() if k not in skip}
    if isinstance(obj, list):
        return [_strip(v, skip) for v in obj]
    return obj


def _differences(
    x: object, y: object, skip: tuple[str, ...], path: str = ""
) -> list[tuple[str, object, object]]:
    if isinstance(x, dict) and isinstance(y, dict):
        out = []
        for k in sorted(set(x) | set(y)):
            if k not in skip:
                out += _differences(x.get(k), y.get(k), skip, f"{path}/{k}")
        return out
    return [] if x == y else [(path, x, y)]


def digest(path: Path, skip: tuple[str, ...]) -> str:
    data = path.read_bytes()
    if path.name == "report.html":
        data = STAMP.sub(b"<time>", data)
    elif path.name == "manifest.json":
        data = json.dumps(_strip(json.loads(data), skip), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--manifest-skip", nargs="*", default=list(MANIFEST_SKIP))
    args = parser.parse_args()
    skip = tuple(args.manifest_skip)
    files_a = {p.relative_to(args.a) for p in args.a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(args.b) for p in args.b.rglob("*") if p.is_file()}
    same, different = [], []
    for rel in sorted(files_a & files_b):
        ok = digest(args.a / rel, skip) == digest(args.b / rel, skip)
        (same if ok else different).append(str(rel))
        print(f"{'same     ' if ok else 'DIFFERENT'} {rel}")
        if not ok and rel.name == "manifest.json":
            for key, x, y in _differences(
                *(json.loads((d / rel).read_text()) for d in (args.a, args.b)), skip
            ):
                print(f"    {key}: {x!r:.80} | {y!r:.80}")
    only_a, only_b = sorted(map(str, files_a - files_b)), sorted(map(str, files_b - files_a))
    for rel in only_a:
        print(f"only in a {rel}")
    for rel in only_b:
        print(f"only in b {rel}")
    print(json.dumps({"same": len(same), "different": different, "only_in_a": only_a, "only_in_b": only_b}))
    sys.exit(1 if different or only_a or only_b else 0)


if __name__ == "__main__":
    main()
