"""The feature catalog is built from the registered functions without a circular import."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_register_is_a_leaf_module() -> None:
    tree = ast.parse((ROOT / "features" / "register.py").read_text(encoding="utf-8"))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith("features")]


def test_family_modules_do_not_import_the_catalog() -> None:
    for path in sorted((ROOT / "features").glob("*.py")):
        # engine.py and paydate.py build features from the catalog; family modules only register
        if path.name in ("catalog.py", "build.py", "engine.py", "paydate.py"):
            continue
        assert "features.catalog import" not in path.read_text(encoding="utf-8"), path.name


def _catalog_after_importing(first: str) -> list[str]:
    code = (
        f"import json, {first}\n"
        "from features.catalog import CATALOG, FUNCTIONS\n"
        "print(json.dumps([list(CATALOG), list(FUNCTIONS)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_catalog_order_does_not_depend_on_which_module_is_imported_first() -> None:
    from features.catalog import CATALOG, FUNCTIONS

    expected = [list(CATALOG), list(FUNCTIONS)]
    assert expected[0][:2] == ["segment", "country"] and len(expected[1]) == len(expected[0]) - 2
    for first in ("features.timing", "features.statements", "features.behaviour"):
        assert _catalog_after_importing(first) == expected
