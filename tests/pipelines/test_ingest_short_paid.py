"""Ingest names short-paid rests when the default definition has no materiality threshold (s36-minopen)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

# as of 2024-06-30, every invoice due 2024-01-31 except I9b (due 2024-07-31, not yet due)
INVOICES = "invoice_id,debtor_id,issue_date,due_date,amount,currency\n" + "".join(
    f"{i},{d},2024-01-01,{due},{amount},EUR\n"
    for i, d, due, amount in (
        ("I1", "D1", "2024-01-31", "1000.00"),
        ("I2", "D2", "2024-01-31", "1000.00"),
        ("I3", "D3", "2024-01-31", "1000.00"),
        ("I4", "D4", "2024-01-31", "1000.00"),
        ("I5", "D5", "2024-01-31", "1000.00"),
        ("I6", "D6", "2024-01-31", "1000.00"),
        ("I7", "D7", "2024-01-31", "1000.00"),
        ("I8a", "D8", "2024-01-31", "1000.00"),
        ("I8b", "D8", "2024-01-31", "500.00"),
        ("I9a", "D9", "2024-01-31", "200.00"),
        ("I9b", "D9", "2024-07-31", "300.00"),
    )
)
PAYMENTS = "payment_id,debtor_id,invoice_id,paid_on,amount\n" + "".join(
    f"P{i},{d},{i},2024-02-10,{amount}\n"
    for i, d, amount in (
        ("I1", "D1", "999.40"),  # 0.60 open: a rest
        ("I2", "D2", "999.40"),
        ("I3", "D3", "999.40"),
        ("I4", "D4", "999.40"),
        ("I5", "D5", "990.50"),  # 9.50 open, 0.95 % of 1,000: a rest
        ("I6", "D6", "985.00"),  # 15.00 open, 1.5 %: not a rest
        ("I8a", "D8", "999.40"),  # a rest, but I8b (500.00) is overdue and unpaid: not only rests
        ("I9a", "D9", "199.50"),  # 0.50 open; I9b is not due yet: only rests overdue
    )
)  # D7: nothing paid, not a rest


def _project(tmp_path: Path, min_open: float) -> Path:
    text = (ROOT / "conf" / "ews.yaml").read_text(encoding="utf-8")
    path = tmp_path / f"ews_{min_open:g}.yaml"
    path.write_text(
        text.replace("  min_open_amount: 0 ", f"  min_open_amount: {min_open:g} "), encoding="utf-8"
    )
    return path


def test_short_paid_rests_are_named_without_a_threshold(tmp_path: Path) -> None:
    """By hand: D1-D4 (0.60 each), D5 (9.50) and D9 (0.50; its other invoice is not due) owe nothing
    overdue but rests: 6 debtors, 6 invoices, 4 x 0.60 + 9.50 + 0.50 = 12.40. D6 (15.00, 1.5 %), D7 (unpaid)
    and D8 (a rest beside an unpaid overdue invoice) are not counted. The manifest records it; `ews ingest`
    warns once under min_open_amount 0, in words that name the option, and not under 10."""
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    (tmp_path / "payments.csv").write_text(PAYMENTS, encoding="utf-8")
    said = {}
    for min_open in (0.0, 10.0):
        out = tmp_path / f"out{min_open:g}"
        args = [
            "ingest",
            "--invoices",
            str(tmp_path / "invoices.csv"),
            "--payments",
            str(tmp_path / "payments.csv"),
        ]
        args += ["--project-config", str(_project(tmp_path, min_open)), "--out", str(out), "--no-docs"]
        result = runner.invoke(app, [*args, "--as-of", "2024-06-30"], env={"COLUMNS": "400"})
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output[-3000:]
        said[min_open] = " ".join(result.output.split())
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["short_paid_rests"] == {
            "debtors": 6,
            "invoices": 6,
            "amount": 12.40,
            "example": "I1 of D1: 0.60 of 1,000.00 open, due 2024-01-31",
            "buckets_read": 1,
            "buckets": 1,
        }
    assert said[0.0].count("short-paid rests") == 1, said[0.0]
    assert (
        "warning: invoices: 6 debtors owe nothing overdue but short-paid rests, each below 1.00 or 1% of its "
        "invoice (6 invoices, 12.40 in all; e.g. I1 of D1: 0.60 of 1,000.00 open, due 2024-01-31). With "
        "default_definition.min_open_amount 0"
    ) in said[0.0], said[0.0]
    assert "90 days after the due date it puts its debtor in default" in said[0.0]
    assert "(s)" not in said[0.0]
    assert "short-paid" not in said[10.0], said[10.0]
