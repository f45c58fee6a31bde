"""Synthetic B2B receivables portfolio with known ground truth (see ``core.py`` and ``oracle.py``).

``generate(params, out_dir)`` writes the canonical debtors/invoices/payments/events tables plus
``truth.parquet`` (latent health, oracle PD and realised first-default date per debtor per
month-end) and ``generate-summary.json``.
"""

import importlib
from typing import Any

# Names are loaded on first use (PEP 562), so that ``pipelines.synthetic.regimes`` can be imported for
# the ``ews generate --help`` text without the writer's scikit-learn import.
_WHERE = {
    "DEFAULT_SEGMENTS": "params",
    "GeneratorParams": "params",
    "Segment": "params",
    "REGIMES": "regimes",
    "regime_params": "regimes",
    "LEDGER_TABLES": "writer",
    "TABLES": "writer",
    "build_economy": "writer",
    "generate": "writer",
}

__all__ = [
    "DEFAULT_SEGMENTS",
    "LEDGER_TABLES",
    "REGIMES",
    "TABLES",
    "GeneratorParams",
    "Segment",
    "build_economy",
    "generate",
    "regime_params",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
