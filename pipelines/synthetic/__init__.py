"""Synthetic B2B receivables portfolio with known ground truth (see ``core.py`` and ``oracle.py``).

``generate(params, out_dir)`` writes the canonical debtors/invoices/payments/events tables plus
``truth.parquet`` (latent health, oracle PD and realised first-default date per debtor per
month-end) and ``generate-summary.json``.
"""

from pipelines.synthetic.params import DEFAULT_SEGMENTS, GeneratorParams, Segment
from pipelines.synthetic.regimes import REGIMES, regime_params
from pipelines.synthetic.writer import LEDGER_TABLES, TABLES, build_economy, generate

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
