"""Ingest and train say once that min_open_amount cannot apply to statements without a balance (s37)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.ingest.staged import statement_balance_warning
from tests.pipelines.test_ingest_short_paid import _project

runner = CliRunner()

# 2 accounts x 3 month-ends; A1 states its balances, A2's cell is empty on 2 of its 3 statements
STATEMENTS = "debtor_id,period_end,balance,amount_due,amount_paid,days_past_due\n" + "".join(
    f"{d},{end},{balance},{balance or 0},0,{dpd}\n"
    for d, balance in (("A1", "500.00"), ("A2", ""))
    for end, dpd in (("2024-01-31", 0), ("2024-02-29", 30), ("2024-03-31", 60))
).replace("A2,2024-03-31,,0", "A2,2024-03-31,5.00,5.00")


def test_statements_without_a_balance_are_named_under_a_threshold(tmp_path: Path) -> None:
    """By hand: 6 statements, A2's of 01-31 and 02-29 state no balance: 2 of 6. The manifest records it
    whatever the threshold; `ews ingest` warns once under min_open_amount 10, naming the option and the
    fix, and not under 0 (nothing is lost without a threshold). A file without the column: 6 of 6."""
    (tmp_path / "statements.csv").write_text(STATEMENTS, encoding="utf-8")
    header, *lines = STATEMENTS.splitlines()
    (tmp_path / "nobalance.csv").write_text(
        "\n".join(",".join(c for i, c in enumerate(r.split(",")) if i != 2) for r in [header, *lines]) + "\n",
        encoding="utf-8",
    )
    said, found = {}, {}
    for name, min_open in (("statements", 0.0), ("statements", 10.0), ("nobalance", 10.0)):
        out = tmp_path / f"out-{name}-{min_open:g}"
        args = ["ingest", "--statements", str(tmp_path / f"{name}.csv"), "--as-of", "2024-04-01"]
        args += ["--project-config", str(_project(tmp_path, min_open)), "--out", str(out), "--no-docs"]
        result = runner.invoke(app, args, env={"COLUMNS": "400"})
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output[-3000:]
        said[name, min_open] = " ".join(result.output.split())
        found[name, min_open] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))[
            "statements_without_balance"
        ]
    assert found["statements", 0.0] == found["statements", 10.0] == {"rows": 2, "of": 6}
    assert found["nobalance", 10.0] == {"rows": 6, "of": 6}
    assert "state no balance" not in said["statements", 0.0]
    for key, rows in ((("statements", 10.0), 2), (("nobalance", 10.0), 6)):
        assert said[key].count("state no balance") == 1, said[key]
        assert (
            f"warning: statements: {rows} of 6 statements state no balance, so default_definition.min_open_amount "
            "(10.00, "
        ) in said[key], said[key]
        assert (
            "their days_past_due alone decide a default" in said[key]
            and "Map the statements' balance" in said[key]
        )
        assert "(s)" not in said[key]
    # one statement of one: "1 of 1 statement states"
    assert statement_balance_warning(
        {"rows": 1, "of": 1}, type("D", (), {"min_open_amount": 5.0})(), "p.yaml"
    )[0].startswith(
        "statements: 1 of 1 statement states no balance, so default_definition.min_open_amount (5.00, p.yaml)"
    )
