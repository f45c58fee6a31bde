"""Pure transforms: canonical ledgers -> point-in-time features and default labels.

Nothing in this package reads files, reads config or imports Prefect.
"""
