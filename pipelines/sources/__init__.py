"""Readers and mappings that turn external files into raw canonical-named frames.

``read`` reads CSV/Parquet with table-level checks (empty, encoding, delimiter, missing columns);
``parse`` turns cell texts into typed columns and reports the rows that do not parse;
``ar_export`` and ``uci`` map the two non-tabular layouts onto the canonical tables.
"""
