"""Session 30 (s30-ux): what users read and open. Every test fails on main 1153b62 (before the fixes)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.config import ConfigError, load_config
from pipelines.config.credit import CreditPolicyConfig

COLS = ["credit_limit_recommended", "credit_limit_conservative", "credit_limit_aggressive"]


def _need(invoiced: float, band: str = "C") -> pd.DataFrame:
    """One debtor invoiced ``invoiced`` over the last 365 days (the default window since session 41) on 30-day
    terms: need = invoiced / 365 x 30 (36,500 -> 3,000)."""
    return pd.DataFrame(
        [{"band": band, "in_default": False, "invoiced": invoiced, "terms_days": 30.0}], index=["d0"]
    )


def test_credit_limit_step_follows_the_currency() -> None:
    from pipelines.scoring.limits import recommend_limits, round_step

    policy = CreditPolicyConfig()
    # EUR / USD / an unnamed currency: 500 as before. need 3,000; band C 1.0 / 0.75 / 1.5 = 3,000 / 2,250 / 4,500
    for code in ("EUR", "USD", None):
        out = recommend_limits(_need(36_500.0), policy, code)
        assert out[COLS].iloc[0].tolist() == [3000.0, 2000.0, 4500.0]
    # JPY: need 3,000,000 yen; 2,250,000 rounded down to 100,000 (500 x 160 = 80,000 -> 1-2-5: 100,000)
    out = recommend_limits(_need(36_500_000.0), policy, "JPY")
    assert out[COLS].iloc[0].tolist() == [3_000_000.0, 2_200_000.0, 4_500_000.0]
    # band E: 0.25 x 3,000,000 = 750,000 -> 700,000 (was 750,000 on a 500-yen step)
    out = recommend_limits(_need(36_500_000.0, "E"), policy, "JPY")
    assert out["credit_limit_recommended"].iloc[0] == 700_000.0
    # KWD: need 3,000 dinars; 2,250 -> 2,200 on a 200-dinar step (500 x 0.33 = 165 -> 200); was 2,000
    out = recommend_limits(_need(36_500.0), policy, "KWD")
    assert out[COLS].iloc[0].tolist() == [3000.0, 2200.0, 4400.0]
    assert round_step(policy, "kwd") == 200.0


def test_credit_limit_step_of_ones_own_per_currency(tmp_path) -> None:
    from pipelines.scoring.limits import recommend_limits, round_step

    policy = CreditPolicyConfig(round_to_by_currency={"JPY": 10_000.0})
    out = recommend_limits(_need(36_500_000.0, "E"), policy, "JPY")
    assert out["credit_limit_recommended"].iloc[0] == 750_000.0
    assert round_step(policy, "EUR") == 500.0
    with pytest.raises(ConfigError, match="round_to_by_currency: 'yen' is not an ISO-4217 code"):
        path = tmp_path / "credit.yaml"
        path.write_text("kind: credit\nround_to_by_currency: {yen: 100}\n")
        load_config(path, CreditPolicyConfig)


def test_reason_sentences_say_one_invoice_and_one_day() -> None:
    """Reason codes read "1 invoice(s) overdue", "no payment for 1 days", "customer for only 1 days"
    before session 30 (the catalog's templates, formatted as they stood)."""
    from features.catalog import CATALOG
    from models.reasons import render_reason

    def said(feature: str, value: float) -> str:
        return render_reason(CATALOG[feature], feature, value, "EUR")

    assert said("overdue_invoice_count", 1) == "1 invoice overdue"
    assert said("overdue_invoice_count", 3) == "3 invoices overdue"
    assert said("open_disputed_count", 1.0) == "1 disputed invoice open"
    assert said("payment_count_90d", 1) == "only 1 payment in the last 90 days"
    assert said("payment_count_90d", 0) == "no payment in the last 90 days"
    assert said("days_since_last_payment", 1) == "no payment for 1 day"
    assert said("days_since_last_payment", 1204) == "no payment for 1,204 days"
    assert said("late30_count_365d", 2) == "2 invoices paid more than 30 days late in the last year"


def _string_literals(path: Path) -> list[tuple[int, str]]:
    import io
    import tokenize

    out = []
    with path.open(encoding="utf-8") as fh:
        for tok in tokenize.generate_tokens(io.StringIO(fh.read()).readline):
            kind = getattr(tokenize, "FSTRING_MIDDLE", None)
            if tok.type == tokenize.STRING or (kind is not None and tok.type == kind):
                out.append((tok.start[0], tok.string))
    return out


def test_no_word_with_an_s_in_brackets_in_what_users_read() -> None:
    """About 80 messages said "row(s)", "column(s)", "day(s)", "feed check(s)" (errors, ingest warnings,
    the console, the backtest's notes); each now counts with ``counted``. A reason template's
    "{value:.0f} invoice(s)" is the one allowed form: ``render_reason`` says it in words (test above).
    Docstrings and comments are not read by users."""
    import re

    root = Path(__file__).resolve().parents[2]
    allowed = re.compile(r"\{value:\.0f\} [a-z ]+\(s\)")
    found = []
    for package in ("pipelines", "features", "models"):
        for path in sorted((root / package).rglob("*.py")):
            for line, text in _string_literals(path):
                if text.startswith(('"""', "'''", 'r"""', 'f"""')):
                    continue  # docstrings
                if re.search(r"[a-z]\(s\)", allowed.sub("", text)):
                    found.append(f"{path.relative_to(root)}:{line}: {text[:80]}")
    assert not found, "\n".join(found)


def test_the_gate_names_the_model_in_words() -> None:
    """`ews train` and `ews models history` read "ok challenger is the rollrate model" (the ews.kind tag)
    next to "roll-rate model" everywhere else; a registry's older text is shown in the new words."""
    from models.evaluate import GateThresholds, gate_decision
    from models.gate_words import in_words

    gate = GateThresholds(min_auc=0.7, ece_margin=0.005)
    figures = {"auc": 0.8, "ece": 0.006}
    assert gate_decision(figures, gate, ece_tolerance=0.005, kind="rollrate").reasons[0] == (
        "ok challenger is the roll-rate model"
    )
    assert (
        gate_decision(figures, gate, ece_tolerance=0.005).reasons[0] == "ok challenger is the LightGBM model"
    )
    assert in_words("Checks: ok challenger is the rollrate model; ok AUC 0.8") == (
        "Checks: ok challenger is the roll-rate model; ok AUC 0.8"
    )


def _statements(tmp_path: Path) -> Path:
    path = tmp_path / "statements.csv"
    path.write_text(
        "debtor_id,period_end,balance\n"
        + "".join(
            f"D{d},2024-0{m}-{28 if m == 2 else 30 if m in (4, 6) else 31},100\n"
            for d in (1, 2)
            for m in (1, 2, 3)
        ),
        encoding="utf-8",
    )
    return path


def test_a_statements_book_without_a_currency_is_told_once_how_to_name_it(tmp_path) -> None:
    """A statements book names no currency: before session 30 `ews ingest` said nothing, and every output
    left the currency out in silence (empty currency column, "expected loss 9,855"). Now its summary says
    once how to name it; named in the project config, nothing is said."""
    import datetime as dt

    from rich.console import Console

    from pipelines.commands.ingest import print_summary
    from pipelines.config.project import CurrencyConfig
    from pipelines.ingest import ingest_files
    from pipelines.ingest.currency import NO_CURRENCY

    def summary(manifest: dict) -> str:
        console = Console(record=True, width=400)
        print_summary(console, manifest, None)
        return " ".join(console.export_text().split())

    path = _statements(tmp_path)
    bare = ingest_files({"statements": path}, None, as_of=dt.date(2024, 6, 30)).manifest
    assert bare["currency"]["reporting"] is None
    assert summary(bare).count("no currency named") == 1 and f"note: {NO_CURRENCY}" in summary(bare)
    assert "`currency: {reporting: EUR}`" in NO_CURRENCY and "conf/ews.yaml" in NO_CURRENCY
    named = ingest_files(
        {"statements": path}, None, as_of=dt.date(2024, 6, 30), currency=CurrencyConfig(reporting="EUR")
    ).manifest
    assert named["currency"]["reporting"] == "EUR" and "no currency named" not in summary(named)


def test_a_run_without_a_currency_says_so_in_the_console_and_the_report(tmp_path) -> None:
    """`ews score`'s summary said "expected loss 9,855" and report.html showed bare amounts with no word
    on why; now "9,855, currency not named" and one note in the report naming the key to set."""
    from pipelines.commands.score import _money
    from tests.pipelines.test_ux_s29 import _report

    assert _money(9855.2, None, named=False) == "9,855, currency not named"
    assert _money(9855.2, "EUR", named=False) == "9,855 EUR"
    assert _money(9855.2, None) == "9,855"  # a manifest from before session 25: no currency key
    bare = _report(tmp_path, None)
    assert 'id="no-currency"' in bare and "currency: {reporting: EUR}" in bare
    assert 'id="no-currency"' not in _report(tmp_path, "EUR")


def test_the_backtests_list_sizes_show_a_half_day_median_as_the_summary_does() -> None:
    """The walk's backtest printed "Lead time, median (strict) 11.5 days" and, for the same list at
    top 10 %, "strict lead 12 days"."""
    from pipelines.commands.backtest import list_size_lines

    row = {"rule": "rank", "share": 0.1, "list_share": 0.116, "precision": 0.032, "recall": 1.0}
    lines = list_size_lines([{**row, "lead_time_median_days": v} for v in (11.5, 1.0, 24.0, None)])
    assert [line.rsplit("strict lead ", 1)[1] for line in lines[1:]] == [
        "11.5 days",
        "1 day",
        "24 days",
        "n/a",
    ]


def test_an_override_in_force_tonight_is_in_the_reports_overrides_section(tmp_path) -> None:
    """The README walk, monthly: an analyst escalated a debtor after the 2024-11-30 run; the 2024-12-31
    report said "0 debtors overridden ... 1 override in force tonight" and "No overrides in this period"
    (the 30 days before 2024-12-31 start on 2024-12-01, after the run the override was entered on)."""
    import datetime as dt

    from pipelines.scoring.overrides import Override, active_overrides, append_override
    from pipelines.scoring.watch_state import override_summary

    now = dt.datetime(2024, 12, 1, 9, 30, tzinfo=dt.UTC)
    reviewed = dt.date(2024, 11, 30)
    append_override(
        tmp_path, Override("D1", "escalated", "walk check", "anna", reviewed, 0.12, None, None), now=now
    )
    append_override(  # ended before tonight: not in force, and entered before the window: not listed
        tmp_path,
        Override("D2", "cleared", "paid", "anna", reviewed, 0.02, None, dt.date(2024, 12, 15)),
        now=now,
    )
    night = dt.date(2024, 12, 31)
    effects = active_overrides(tmp_path, night).set_index("debtor_id")
    effects = effects.assign(suppressed=False, reflagged=False)
    watchlist = pd.DataFrame({"debtor_id": ["D1", "D3"]})
    got = override_summary(tmp_path, night, watchlist, effects)
    assert [r["debtor_id"] for r in got["rows"]] == ["D1"]
    assert (got["debtors"], got["flagged"], got["in_force"]) == (1, 2, 1)


def _cash() -> pd.DataFrame:
    """cash_forecast.csv's rows for 2 weeks, segments 'retail' and 'wholesale' (week 2: wholesale only)."""
    rows = [
        (1, "all", 1000.25, 800.0, 1200.5),
        (1, "retail", 400.0, 300.0, 500.0),
        (1, "wholesale", 600.25, 450.0, 750.0),
        (2, "all", 300.0, 200.0, 400.0),
        (2, "wholesale", 300.0, 200.0, 400.0),
    ]
    frame = pd.DataFrame(rows, columns=["week", "segment", "expected_cash", "cash_low_80", "cash_high_80"])
    frame["week_start"] = pd.to_datetime("2025-01-01") + pd.to_timedelta(7 * (frame["week"] - 1), "D")
    frame["week_end"] = frame["week_start"] + pd.Timedelta(days=6)
    frame["segment"] = frame["segment"].astype("string")
    frame["invoices"] = 3
    return frame


def test_the_cash_forecast_workbook_has_a_row_per_week_and_totals_only_what_adds_up(tmp_path) -> None:
    """No workbook before session 30 (cash_forecast.csv only: a row per week and segment, so a column
    sum doubles the cash). One row per week, a column per segment, totals of the expected cash-in
    (1,300.25 = 1,000.25 + 300; retail 400; wholesale 900.25), none for the interval's ends."""
    import datetime as dt

    import openpyxl

    from pipelines.scoring.paydate import write_cash_workbook

    path = write_cash_workbook(
        _cash(), tmp_path / "cash_forecast.xlsx", dt.date(2024, 12, 31), "EUR", "ews-paydate v1"
    )
    ws = openpyxl.load_workbook(path)["cash forecast"]
    assert [c.value for c in ws[1]] == [
        "Week",
        "From",
        "To",
        "Expected cash-in (EUR)",
        "Low end of the 80 % interval (EUR)",
        "High end of the 80 % interval (EUR)",
        "retail: expected cash-in (EUR)",
        "wholesale: expected cash-in (EUR)",
    ]
    assert [c.value for c in ws[2]] == [
        1,
        dt.datetime(2025, 1, 1),
        dt.datetime(2025, 1, 7),
        1000.25,
        800.0,
        1200.5,
        400.0,
        600.25,
    ]
    assert [c.value for c in ws[3]][6:] == [0.0, 300.0]  # retail has no invoice due in week 2
    assert ws["B2"].number_format == "yyyy-mm-dd" and ws["D2"].number_format == "#,##0.00"
    total = [c.value for c in ws[4]]
    assert total[0] == "Total (2 rows)" and total[4] is None and total[5] is None
    assert total[3] == "=SUBTOTAL(109,D2:D3)" and total[6] == "=SUBTOTAL(109,G2:G3)"
    values = openpyxl.load_workbook(path, data_only=True)["cash forecast"]
    assert [values.cell(4, j).value for j in (4, 7, 8)] == [1300.25, 400.0, 900.25]
    about = openpyxl.load_workbook(path)["about"]["A1"].value
    assert "do not add up, so they have no total" in about and "Amounts in EUR" in about
    # JPY: whole yen, formatted without decimals, the segments too
    jpy = write_cash_workbook(_cash().round(0), tmp_path / "jpy.xlsx", dt.date(2024, 12, 31), "JPY", "v1")
    sheet = openpyxl.load_workbook(jpy)["cash forecast"]
    assert sheet["D2"].number_format == "#,##0" and sheet["H2"].number_format == "#,##0"
