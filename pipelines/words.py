"""Counts in user text: "1 month-end", "2 month-ends" (before session 28 some messages read "1 month-ends",
"1 debtors", "none of 1 rows")."""

from __future__ import annotations


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``n`` with thousands separators, then ``word``, plural (``word`` + "s", or ``plural``) unless
    ``n`` is 1: ``counted(1, "month-end")`` -> "1 month-end", ``counted(1200, "row")`` -> "1,200 rows"."""
    return f"{int(n):,} {word if int(n) == 1 else (plural or word + 's')}"
