"""Session 37 (s37-walk): the Excel user's month and the data scientist's month, walked.

Each test is one place a walk tripped over; its docstring says what was seen and what is now."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source
from tests.pipelines import test_report

# A tiny book as a user's spreadsheet holds it: real date cells, numbers, an Excel boolean. Row 4 of
# the invoices has a date typed as text ("31/01/2024": not ISO, quarantined), row 5 a negative amount
# a program wrote with float noise (quarantined; shown as Excel's CSV writes it, -0.3), row 6 an issue date stored as a General number (45301 = 2024-01-10: quarantined
# excel_serial_date). The payments' row 3 names an unknown invoice (quarantined).
D = dt.datetime
INVOICES = [
    ["invoice_id", "debtor_id", "issue_date", "due_date", "amount", "currency", "disputed"],
    ["INV-1", "C1", D(2024, 1, 2), D(2024, 2, 1), 1200.5, "EUR", False],
    ["INV-2", "C1", D(2024, 1, 15), D(2024, 2, 14), 800, "EUR", True],
    ["INV-3", "C2", "31/01/2024", D(2024, 3, 1), 99.99, "EUR", False],
    ["INV-4", "C2", D(2024, 2, 1), D(2024, 3, 2), -(0.1 + 0.2), "EUR", False],  # Excel's CSV: -0.3
    ["INV-5", "C2", 45301, D(2024, 2, 9), 350, "EUR", False],
    ["INV-6", "C2", D(2024, 2, 20), D(2024, 3, 21), 4000.25, "EUR", False],
]
PAYMENTS = [
    ["payment_id", "debtor_id", "invoice_id", "paid_on", "amount"],
    ["P-1", "C1", "INV-1", D(2024, 2, 3), 1200.5],
    ["P-2", "C1", "INV-9", D(2024, 2, 20), 100],
    ["P-3", "C2", "INV-6", D(2024, 3, 10), 2000],
    ["P-4", "C2", "INV-6", D(2024, 3, 12), 0.1 + 0.2],  # a program's float: 0.30000000000000004, Excel's 0.3
]
DEBTORS = [["debtor_id", "name", "credit_limit"], ["C1", "Acme BV", 5000], ["C2", "Bolt GmbH", 2500]]


def _cell_text(v: object) -> str:
    """What Excel's "Save As CSV UTF-8" writes for these cells (dates in ISO, as the column is formatted)."""
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return f"{v:.15g}"  # Excel writes 15 significant digits
    return str(v)


def _patch(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the workbook's first sheet XML (once)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert members[sheet].count(old.encode()) == 1
    members[sheet] = members[sheet].replace(old.encode(), new.encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def _book(tmp: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """The same three tables as .xlsx (one sheet each) and as CSV."""
    xlsx, csvs = {}, {}
    for name, rows in (("invoices", INVOICES), ("payments", PAYMENTS), ("debtors", DEBTORS)):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = name.capitalize()
        for row in rows:
            ws.append(row)
        xlsx[name] = tmp / f"{name}.xlsx"
        wb.save(xlsx[name])
        if name == "invoices":  # as Excel stores a calculated -(0.1 + 0.2): 17 digits (openpyxl writes 15)
            _patch(xlsx[name], "<v>-0.3</v>", "<v>-0.30000000000000004</v>")
        csvs[name] = tmp / f"{name}.csv"
        pd.DataFrame([[_cell_text(v) for v in r] for r in rows[1:]], columns=rows[0]).to_csv(
            csvs[name], index=False
        )
    return xlsx, csvs


def _ingest(files: dict[str, Path], out: Path, stream: bool) -> None:
    source = SourceConfig(
        name="files",
        rules=RulesConfig(data_docs=False),
        tables={t: FileSource(path=p) for t, p in files.items()},
    )
    ingest_source(source, out, as_of=dt.date(2024, 3, 31), stream=stream, chunk_rows=2, workers=1)


@pytest.mark.parametrize("stream", [False, True])
def test_ingest_reads_xlsx_as_the_same_data_saved_as_csv(tmp_path: Path, stream: bool) -> None:
    """W5. Before: `ews ingest --invoices invoices.xlsx` stopped ("is an Excel (.xlsx) workbook, not CSV
    text: save the sheet as CSV UTF-8 in Excel"): an Excel user converted every month's export by
    hand. Now the workbook's sheet is read directly: the Parquet tables and quarantine are the bytes
    of the same data saved as CSV (the quarantine's source_file names the workbook), in memory and
    streamed; the manifest names the workbook, its sheet and the workbook's hash."""
    xlsx, csvs = _book(tmp_path)
    _ingest(csvs, tmp_path / "from_csv", stream)
    _ingest(xlsx, tmp_path / "from_xlsx", stream)
    a, b = tmp_path / "from_csv", tmp_path / "from_xlsx"
    for table in ("invoices", "payments", "debtors"):
        assert (a / table / "bucket=0" / "part-0.parquet").read_bytes() == (
            b / table / "bucket=0" / "part-0.parquet"
        ).read_bytes()
    qa = pd.read_csv(a / "quarantine" / "invoices.csv", dtype=str)
    qb = pd.read_csv(b / "quarantine" / "invoices.csv", dtype=str)
    assert list(qb["source_file"].unique()) == [str(xlsx["invoices"])]
    pd.testing.assert_frame_equal(qa.drop(columns="source_file"), qb.drop(columns="source_file"))
    # by hand: invoices 6 in, 3 quarantined (rows 3, 4, 5: text date, amount -0.3, serial date), 3 accepted
    assert sorted(qb["source_row"].astype(int)) == [3, 4, 5]
    assert set(qb["reason"]) == {
        "unparseable_date:issue_date",
        "amount_not_positive",
        "excel_serial_date:issue_date",
    }
    manifest = json.loads((b / "manifest.json").read_text())
    inv = manifest["tables"]["invoices"]
    assert (inv["rows_in"], inv["rows_accepted"], inv["rows_quarantined"]) == (6, 3, 3)
    pay = manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["rows_quarantined"]) == (4, 3, 1)
    assert inv["input"] == str(xlsx["invoices"]) and inv["sheet"] == "Invoices"
    import hashlib

    assert inv["input_sha256"] == hashlib.sha256(xlsx["invoices"].read_bytes()).hexdigest()
    assert sorted(manifest["inputs"]) == sorted(str(p) for p in xlsx.values())
    assert "ews-xlsx-" not in (b / "manifest.json").read_text()  # no scratch path
    disputed = pd.read_parquet(b / "invoices" / "bucket=0" / "part-0.parquet").set_index("invoice_id")[
        "disputed"
    ]
    assert disputed.to_dict() == {"INV-1": False, "INV-2": True, "INV-6": False}  # Excel's TRUE / FALSE
    # a rerun on the same workbook writes the same bytes
    first = (b / "manifest.json").read_bytes()
    _ingest(xlsx, b, stream)
    assert (b / "manifest.json").read_bytes() == first


def _run(args: list[str]) -> object:
    return CliRunner().invoke(app, args, env={"COLUMNS": "300"})


def test_ingest_xlsx_errors_name_the_sheets_and_the_fix(tmp_path: Path) -> None:
    """W5. A workbook with two sheets holding data and no --sheet: refused, naming both, with the
    option (taking the first could ingest a summary sheet as invoices); --sheet picks one. A
    password-protected workbook and a damaged one: one line each with the fix, no traceback."""
    xlsx, _ = _book(tmp_path)
    two = openpyxl.load_workbook(xlsx["invoices"])
    notes = two.create_sheet("Notes")
    notes.append(["exported by", "someone"])
    two.save(tmp_path / "two.xlsx")
    base = ["ingest", "--payments", str(xlsx["payments"]), "--as-of", "2024-03-31", "--no-docs"]
    res = _run([*base, "--invoices", str(tmp_path / "two.xlsx"), "--out", str(tmp_path / "o1")])
    assert res.exit_code == 2, res.output
    assert "2 sheets with data ('Invoices', 'Notes')" in res.output and "--sheet 'Invoices'" in res.output
    res = _run(
        [
            *base,
            "--invoices",
            str(tmp_path / "two.xlsx"),
            "--sheet",
            "invoices=Invoices",
            "--out",
            str(tmp_path / "o2"),
        ]
    )
    assert res.exit_code == 0, res.output
    # an encrypted workbook is an OLE container (what Excel writes under File > Info > Encrypt)
    (tmp_path / "locked.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    res = _run([*base, "--invoices", str(tmp_path / "locked.xlsx"), "--out", str(tmp_path / "o3")])
    assert (
        res.exit_code == 2 and "is password-protected" in res.output and "remove the password" in res.output
    )
    (tmp_path / "cut.xlsx").write_bytes(xlsx["invoices"].read_bytes()[:700])
    res = _run([*base, "--invoices", str(tmp_path / "cut.xlsx"), "--out", str(tmp_path / "o4")])
    assert res.exit_code == 2 and "not a readable Excel workbook (damaged" in res.output
    for r in (res,):
        assert "Traceback" not in r.output


def test_ingest_xlsx_formulas_and_merged_cells(tmp_path: Path) -> None:
    """W5. A formula cell the workbook never calculated (a program wrote it) would ingest as empty:
    refused, naming the cell and the fix. A customer merged over its invoices' rows (C1 over rows
    2-3) is given to each row, as Excel shows it, and the manifest notes it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in INVOICES[:3]:
        ws.append(row)
    ws["E3"] = "=E2*2"
    wb.save(tmp_path / "formula.xlsx")
    res = _run(
        [
            "ingest",
            "--invoices",
            str(tmp_path / "formula.xlsx"),
            "--as-of",
            "2024-03-31",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert res.exit_code == 2 and "1 formula cell without a calculated value (E3)" in res.output
    assert "then run `ews ingest` again" in res.output

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in INVOICES[:3]:
        ws.append(row)
    ws["B3"] = None
    ws.merge_cells("B2:B3")
    wb.save(tmp_path / "merged.xlsx")
    out = tmp_path / "m"
    res = _run(
        [
            "ingest",
            "--invoices",
            str(tmp_path / "merged.xlsx"),
            "--as-of",
            "2024-03-31",
            "--out",
            str(out),
            "--no-docs",
        ]
    )
    assert res.exit_code == 0, res.output
    got = pd.read_parquet(out / "invoices" / "bucket=0" / "part-0.parquet")
    assert got["debtor_id"].tolist() == ["C1", "C1"]
    notes = json.loads((out / "manifest.json").read_text())["notes"]
    assert any("1 merged range over several rows (B2:B3)" in n for n in notes)


def test_watchlist_xlsx_in_words_beside_the_csv_in_codes(tmp_path: Path) -> None:
    """W14. Before: the analyst's watchlist was watchlist.csv/.parquet only, its triggers and status as
    codes ("threshold, jump", "under_review") while report.html and the queue XLSX use words. Now
    watchlist.xlsx holds the same rows with human headers (amounts headed with the currency, which
    replaces the currency column), triggers and status in words, a frozen header and a filter;
    watchlist.csv keeps the codes (programs read it)."""
    from pipelines.adapters.exports import write_watchlist

    wl = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2025-11-30", "2025-11-30"]),
            "debtor_id": ["D1", "D2"],
            "currency": ["EUR", "EUR"],
            "pd": [0.25, 0.125],
            "triggers": ["threshold, jump", "kept on the list after its flag of 2025-10-31"],
            "status": ["under_review", "new"],
            "first_flagged_on": pd.to_datetime(["2025-10-31", "2025-11-30"]),
            "reason_1": ["oldest overdue invoice is 74 days past due", "no payment for 33 days"],
            "reasons": ["x", "y"],
            "open_balance": [25291.57, 1000.0],
            "trigger_threshold": [True, False],
        }
    )
    files = write_watchlist(wl, tmp_path, dt.datetime(2025, 11, 30), xlsx_rows=100, currency="EUR")
    assert set(files) == {"watchlist.csv", "watchlist.xlsx"}
    csv = pd.read_csv(tmp_path / "watchlist.csv", encoding="utf-8-sig")
    assert csv["triggers"].tolist()[0] == "threshold, jump" and csv["status"].tolist() == [
        "under_review",
        "new",
    ]
    book = openpyxl.load_workbook(tmp_path / "watchlist.xlsx")
    ws = book["watchlist"]
    head = [c.value for c in ws[1]]
    assert head == [
        "As of",
        "Debtor ID",
        "PD",
        "Triggers",
        "Status",
        "On the list since",
        "Reason 1",
        "Exposure at default (EUR)",
    ]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2, max_row=3)]
    assert rows[0][3] == "High-risk band, PD jump" and rows[0][4] == "Under review"
    assert rows[1][3] == "kept on the list after its flag of 2025-10-31" and rows[1][4] == "New"
    assert rows[0][7] == 25291.57 and ws.cell(2, 8).number_format == "#,##0.00"
    assert ws.cell(2, 3).number_format == "0.00%"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:H3"
    assert "2 debtors" in book["about"]["A1"].value and "Amounts in EUR." in book["about"]["A1"].value


def test_gate_names_the_rows_the_champion_is_compared_on() -> None:
    """DS walk, month 3 (1,500 debtors, stress s3361): the retrained v2's gate read "FAIL worse than the
    champion: higher log-loss ... (log-loss +0.0165 [...] vs the champion)" under a test window of 6
    month-ends (2025-04-30..2025-09-30), while the champion v1, trained through 2025-07-31, was compared
    on the last 2 only: the data scientist could not tell on what. Now the check names them."""
    from models.evaluate import GateThresholds, gate_decision
    from models.gate_words import champion_rows

    said = champion_rows("1", ["2025-08-31", "2025-09-30"], 2_491, 1)
    assert (
        said
        == "the test month-ends after v1's training (2 month-ends, 2025-08-31..2025-09-30: 2,491 rows, 1 default)"
    )
    assert champion_rows("4", ["2025-09-30"], 1, 0).endswith("(1 month-end, 2025-09-30: 1 row, 0 defaults)")
    decision = gate_decision(
        {"auc": 0.87, "ece": 0.001},
        GateThresholds(min_auc=0.7, ece_margin=0.005),
        ece_tolerance=0.01,
        vs_champion=(
            {"logloss": (0.0105, 0.0218), "auc": (-0.0273, 0.0164)},
            {"logloss": 0.0165, "auc": -0.0039},
        ),
        champion_evidence=said,
    )
    (check,) = [r for r in decision.reasons if "the champion" in r]
    assert check == (
        "FAIL worse than the champion: higher log-loss with the whole interval above 0 (log-loss +0.0165 "
        "[+0.0105, +0.0218], AUC -0.0039 [-0.0273, +0.0164] vs the champion, on " + said + ")"
    )


def test_a_first_model_promoted_with_a_warning_is_not_shown_as_passed() -> None:
    """DS walk: v1, the book's first model, missed the ECE limit (mean PD 4.11% vs 2.75%) and was promoted
    with a WARN; `ews train` said "gate passed: now champion. Promoted with a warning ..." and `ews models
    list` "passed", beside v2 "failed" for the same check. Now "passed with a warning" and "warned"."""
    from pipelines.adapters.registry_view import _gate_shown
    from pipelines.commands.train import gate_verdict

    warned = ("ok challenger is the LightGBM model", "WARN ECE (calibration) 0.0157 > 0.0125 (...)")
    assert gate_verdict(True, warned).plain == "passed with a warning: now champion"
    assert gate_verdict(True, ("ok a",)).plain == "passed: now champion"
    assert gate_verdict(False, ("FAIL a",)).plain == "failed: champion unchanged"
    assert _gate_shown({"ews.gate": "passed", "ews.gate.reasons": "; ".join(warned)}) == "warned"
    assert _gate_shown({"ews.gate": "passed", "ews.gate.reasons": "ok a; ok b"}) == "passed"
    assert _gate_shown({"ews.promotion.manual": "x"}) == "manual"


CASH_PROBE = """<script>
window.addEventListener("load", function () {
  var out = [];
  document.querySelectorAll("#cash svg").forEach(function (svg) {
    var r = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
    if (!r.width) return;  // hidden at this width
    var scale = r.width / vb.width, sizes = [];
    svg.querySelectorAll("text").forEach(function (t) { sizes.push(parseFloat(getComputedStyle(t).fontSize) * scale); });
    out.push({width: Math.round(r.width), smallest: Math.min.apply(null, sizes), words: svg.textContent.replace(/\\s+/g, " ")});
  });
  var pre = parent.document.createElement("pre");
  pre.id = "cash-probe";
  pre.textContent = JSON.stringify({shown: out, page: document.documentElement.scrollWidth});
  parent.document.body.appendChild(pre);
});
</script>"""


report_html = test_report.report_html  # the fixture: a report with a cash forecast


@pytest.mark.parametrize("width", [420, 1280])
def test_cash_chart_is_readable_on_a_phone(report_html: Path, tmp_path: Path, width: int) -> None:  # noqa: F811
    """Task 4 (report.html at 420 px on the walked book): the cash-in chart, drawn 7 inches wide, was
    shrunk into the 360 px column: its week labels, axis and legend at 5-6 px, unreadable without
    zooming. Now below 640 px a chart drawn 4.2 inches wide takes its place (weeks 1..13, amounts as
    2.5M / 750k): no text under 9 px; at 1,280 px the 7-inch chart as before, the narrow one hidden."""
    from tests.pipelines.chromium import CHROMIUM, framed_probe

    if CHROMIUM is None:
        pytest.skip("chromium not installed (.ci/run installs it)")
    got = framed_probe(report_html.read_text("utf-8"), width, CASH_PROBE, tmp_path, "cash-probe")
    assert len(got["shown"]) == 1, got  # one chart shown at each width
    (chart,) = got["shown"]
    assert got["page"] <= width
    if width == 420:
        assert "week" in chart["words"] and "W1" not in chart["words"]
        assert chart["smallest"] >= 9.0, chart
    else:
        assert "W13" in chart["words"] and chart["smallest"] >= 9.0, chart


def test_demo_points_the_analyst_at_the_watchlist_workbook(tmp_path: Path) -> None:
    """W14: `ews demo`'s "where to look" named watchlist.csv (codes) for the analyst; it names the workbook
    in words now, and says the CSV holds the same rows with codes."""
    from types import SimpleNamespace

    from rich.console import Console

    from pipelines.commands.score import where_to_look

    runs = [tmp_path / "2025-12-30", tmp_path / "2025-12-31"]
    cfg = SimpleNamespace(schedule=SimpleNamespace(cron="0 2 * * *", timezone="Europe/Amsterdam"))
    console = Console(record=True, width=300)
    where_to_look(console, runs, tmp_path / "teams.yaml", tmp_path, None, "sqlite:///m.db", cfg)
    text = console.export_text()
    assert (
        f"watchlist:         {runs[-1] / 'watchlist.xlsx'}  (in words; watchlist.csv: the same rows" in text
    )
