"""The README's data-contract table states the contract of features/schema.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from features.schema import TABLES

README = Path(__file__).resolve().parents[2] / "README.md"


def _contract_rows() -> dict[str, tuple[str, str]]:
    """table -> (columns cell, rules cell) of the README's '## Data contract' table."""
    text = README.read_text(encoding="utf-8").split("## Data contract", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        found = re.match(r"`(\w+)`", cells[0]) if len(cells) == 3 else None
        if found and found.group(1) in TABLES:
            rows[found.group(1)] = (cells[1], cells[2])
    return rows


def test_readme_lists_every_table() -> None:
    assert sorted(_contract_rows()) == sorted(TABLES)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_readme_columns_and_required_match_the_schema(table: str) -> None:
    columns, _ = _contract_rows()[table]
    named = re.findall(r"\*\*`(\w+)`\*\*|`(\w+)`", columns)
    assert [bold or plain for bold, plain in named] == TABLES[table].names
    assert [bold for bold, _ in named if bold] == TABLES[table].required


@pytest.mark.parametrize("table", sorted(TABLES))
def test_readme_rules_state_every_schema_rule(table: str) -> None:
    spec = TABLES[table]
    _, rules = _contract_rows()[table]
    phrases = [f"`{c.name}` unique" for c in spec.columns if c.unique]
    if spec.unique_together:
        phrases.append("one row per " + " and ".join(f"`{c}`" for c in spec.unique_together))
    for c in spec.columns:
        if c.min_value is not None:
            phrases.append(f"`{c.name}` {'>' if c.strict_min else '>='} {c.min_value:g}")
        if c.max_value is not None:
            phrases.append(f"`{c.name}` <= {c.max_value:g}")
        if c.allowed:
            phrases.append(f"`{c.name}` in " + ", ".join(f"`{v}`" for v in c.allowed))
    phrases += [f"`{later}` >= `{earlier}`" for later, earlier, _ in spec.not_before]
    phrases += [f"`{later}` >= `{earlier}` - {days} days" for later, earlier, days, _ in spec.not_before_by]
    assert phrases  # every table has at least one rule
    missing = [p for p in phrases if p not in rules]
    assert not missing, f"README contract row for {table} does not state {missing}"
