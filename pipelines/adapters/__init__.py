"""Adapters: the only code that talks to storage and services.

- :mod:`pipelines.adapters.registry`: MLflow tracking and the model registry (log, promote, load);
  :mod:`pipelines.adapters.registry_view` reads it fast for ``ews models list|history``.
- :mod:`pipelines.adapters.files`: Parquet/CSV reading and writing, the one atomic writer
  (``atomic_path``), output file mode and write errors.
- :mod:`pipelines.adapters.publish`: the nightly run folder, staged and published atomically.
- :mod:`pipelines.adapters.exports`: CSV/XLSX/Parquet exports (formula-safe).

``features/`` and ``models/`` never import from here; flows and commands do.
"""
