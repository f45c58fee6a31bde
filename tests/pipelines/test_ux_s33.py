"""Session 33 (s33-ux): what users read: the backtest's list sizes, report.html's feed checks and drift
variables in words, the quarantine's amounts in the notation the ingest read, and the debtors scored
without some of their invoices named on their own rows of the exports."""

from __future__ import annotations

# ---------------------------------------------------------------- the backtest's list sizes in words


def test_the_backtests_list_size_lines_and_table_say_the_rule_in_words() -> None:
    """`ews backtest` printed "  rank  top 2%: ..." and "  rules top 2%: ..." (the rules' codes, s32-ux
    leftover); backtest.html's list-size table had a column "rule" holding "rank" / "rules"."""
    from pipelines.backtest_report import _list_sizes_table
    from pipelines.commands.backtest import list_size_lines

    row = {"share": 0.05, "list_share": 0.05, "precision": 0.1, "recall": 0.5, "lead_time_median_days": 30.0}
    rows = [{**row, "rule": "rank"}, {**row, "rule": "rules"}]
    lines = list_size_lines(rows)
    assert lines[1] == (
        "  Highest PDs alone, top 5%: list 5.0% of live debtors, precision 10.0%, recall 50.0%, strict lead 30 days"
    )
    assert lines[2].startswith("  Highest PDs + the other triggers, top 5%: list 5.0% of live debtors")
    assert not any(line.lstrip().startswith(("rank ", "rules ")) for line in lines)
    table = _list_sizes_table(rows)
    assert "<td>Highest PDs alone</td>" in table and "<td>Highest PDs + the other triggers</td>" in table
    assert "<td>rank</td>" not in table and "<td>rules</td>" not in table
