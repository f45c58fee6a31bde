"""The package layers: ``features/`` and ``models/`` are pure transforms (docs/architecture.md).

Importing every module of both packages in a fresh interpreter must not load MLflow, Prefect or Great
Expectations: those live in ``pipelines/`` (adapters and flows).
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("mlflow", "prefect", "great_expectations")


def _modules(package: str) -> list[str]:
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(ROOT / package)])]


def _loaded_after_import(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=600
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_features_and_models_import_no_service_library():
    modules = _modules("features") + _modules("models")
    assert "models.train" in modules and "features.build" in modules  # the walk found the packages
    loaded = _loaded_after_import(modules)
    assert set(modules) <= set(loaded)
    leaked = sorted(m for m in loaded if m.split(".")[0] in SERVICES)
    assert not leaked, f"features/ or models/ import a service library: {leaked[:5]}"


def test_the_registry_adapter_does_load_mlflow():
    """The check above can fail: the MLflow adapter, imported the same way, is caught."""
    loaded = _loaded_after_import(["pipelines.adapters.registry"])
    assert "mlflow" in loaded
