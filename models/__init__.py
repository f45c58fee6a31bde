"""Train, calibrate, evaluate and explain PD models; ``pipelines.adapters.registry`` talks to MLflow."""

import logging as _logging


def _drop_cvxpy_solver_noise(record: _logging.LogRecord) -> bool:
    # optbinning imports cvxpy, which logs "Encountered unexpected exception importing solver
    # HIGHS: ImportError(...)" to stderr for an optional solver the scorecard never uses. It
    # reached users whenever a scorecard version was unpickled (nightly, backtest). The filter
    # sits on cvxpy's own logger, so it holds however optbinning gets imported.
    return "importing solver" not in record.getMessage()


_logging.getLogger("__cvxpy__").addFilter(_drop_cvxpy_solver_noise)
