"""Nightly scoring steps: PD scoring, watchlist triggers, collections queue and exports.

Each module is a coarse step of the nightly flow (``pipelines.flows.nightly``); the functions take
frames and typed config and return frames, so they are tested without Prefect or MLflow.
"""
