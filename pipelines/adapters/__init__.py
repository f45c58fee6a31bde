"""Adapters: the only code that talks to storage and services.

- :mod:`pipelines.adapters.registry`: MLflow tracking and the model registry (log, promote, load).

``features/`` and ``models/`` never import from here; flows and commands do.
"""
