"""Prefect flows: ``train`` (fit, calibrate, register) and ``nightly`` (score, watchlist, queue, report)."""
