"""Session 34 review (s34-review): tests for what the session's landings left untested.

Each test names the commit it covers and the wrong edit (mutation) it catches."""

from __future__ import annotations

from pathlib import Path

from tests.pipelines.test_walk_s34 import _check, _project_with_debtors


def _ingest(tmp_path: Path, debtors: str, history: str = "") -> Path:
    """An `ews ingest` of a 2-debtor book whose debtors table is ``debtors`` (CSV text), with the
    dated master data ``history`` (CSV text) when given."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    raw = tmp_path / "raw2"
    raw.mkdir()
    (raw / "debtors.csv").write_text(debtors)
    (raw / "invoices.csv").write_text(
        "invoice_id,debtor_id,issue_date,due_date,amount\nI1,D1,2025-01-01,2025-02-01,100.00\n"
        "I2,D2,2025-01-02,2025-02-02,50.00\n"
    )
    (raw / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I1,2025-02-01,100.00\n"
    )
    out = tmp_path / "ingested2"
    args = ["ingest", "--invoices", str(raw / "invoices.csv"), "--payments", str(raw / "payments.csv")]
    args += ["--debtors", str(raw / "debtors.csv"), "--as-of", "2025-02-28", "--currency", "EUR", "--no-docs"]
    if history:
        (raw / "debtor_history.csv").write_text(history)
        args += ["--debtor-history", str(raw / "debtor_history.csv")]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_teams_check_says_plainly_that_no_debtor_states_a_country(tmp_path, monkeypatch) -> None:
    """7660bab: a teams file split by country, checked against debtors that state a segment but no
    country, printed "no debtor ... has country 'DE' yet (country values there: )": an empty list, as if
    the debtors had been read and had other countries. Now the note says no debtor states a country, so
    the collector covers nobody by it (exit 0: a note, as for a country with no customer yet). A debtor
    without a segment adds no value to the list (mutation J2: 'None, retail')."""
    project = _project_with_debtors(tmp_path)
    folder = _ingest(tmp_path, "debtor_id,name,segment\nD1,A,retail\nD2,B,\n")
    teams = (
        "kind: teams\ncollectors:\n  - {name: Anna, countries: [DE], segments: [wholesale], capacity: 10}\n"
    )
    code, out = _check(project, teams, monkeypatch, "--data", str(folder))
    assert code == 0, out
    notes, ok = out.split(" ok conf/teams.yaml ")
    assert notes == (
        f"note conf/teams.yaml: Anna: no debtor in --data {folder} has segment 'wholesale' yet (segment values "
        f"there: retail) note conf/teams.yaml: Anna: country 'DE': no debtor in --data {folder} states a country, "
        "so Anna covers no debtor by it"
    )
    assert ok.endswith(f"(segments and countries checked against the debtors of --data {folder})")


def test_the_owner_note_names_no_countries_when_nobody_splits_by_country() -> None:
    """7660bab named the unowned rows' countries beside their segments; a teams file split by segment
    alone must not name countries (nobody's cause: mutation J3, "(segments services; countries ES)").
    By hand: Anna takes retail; D2 (services, ES) is nobody's, 1 of 2 rows."""
    import pandas as pd

    from pipelines.config.teams import Collector
    from pipelines.scoring.owners import assign_owners, coverage_gaps, owner_gaps_note

    collectors = (Collector(name="Anna", segments=("retail",), capacity=5),)
    queue = pd.DataFrame(
        {"debtor_id": ["D1", "D2"], "segment": ["retail", "services"], "country": ["DE", "ES"]}
    )
    q = queue.join(assign_owners(queue, collectors, None, "collections"))
    assert q["owner"].tolist() == ["Anna", "unassigned"]
    gaps = coverage_gaps(collectors, queue, {"collections": q})
    assert gaps["uncovered"] == ["services"] and gaps["uncovered_countries"] == []
    assert owner_gaps_note(gaps) == (
        "1 of 2 collections queue rows went to 'unassigned': no collector in the teams file covers them "
        "(segments services)"
    )


def test_teams_check_reads_the_segments_of_dated_master_data(tmp_path, monkeypatch) -> None:
    """7660bab looks the teams file's values up in the debtors table and in debtor_history: a book whose
    segments are dated rows only (the debtors table states none) must still fail a segment that differs
    from one there in case (mutation J1, the history not read: "not checked: no debtor ... states one")."""
    project = _project_with_debtors(tmp_path)
    history = "debtor_id,valid_from,segment\nD1,2025-01-01,retail\nD2,2025-01-01,services\n"
    folder = _ingest(tmp_path, "debtor_id,name\nD1,A\nD2,B\n", history)
    teams = "kind: teams\ncollectors:\n  - {name: Anna, segments: [Retail], capacity: 10}\n"
    code, out = _check(project, teams, monkeypatch, "--data", str(folder))
    assert code == 2, out
    assert out == (
        f"FAIL conf/teams.yaml: Anna: segment 'Retail': no debtor in --data {folder} has it, they have 'retail' "
        "(segment values are compared exactly, case included: as written Anna covers none of them). Edit "
        "conf/teams.yaml"
    )


def test_country_codes_people_write_for_another_iso_code_are_named() -> None:
    """7660bab: 'UK' is named with GB; 'EL' (the EU's code for Greece) is the other code people write
    for a country whose ISO code differs, and must be named with GR (mutation J4: it passed as a code).
    ' de' (a space, lower case) is named with the code to write; 'DE' passes; 'Germany' is no code."""
    from pipelines.config.teams import Collector, country_code_problems

    anna = Collector(name="Anna", countries=("EL", " de", "DE", "Germany"), capacity=5)
    assert country_code_problems((anna,)) == [
        ("Anna", "EL", "Anna: country 'EL' is not a country code ews stores (the ISO code is 'GR')"),
        (
            "Anna",
            " de",
            "Anna: country ' de' is not a country code ews stores (write 'DE': countries are compared exactly, as "
            "ingest stores them)",
        ),
        (
            "Anna",
            "Germany",
            "Anna: country 'Germany' is not a country code ews stores (countries are ISO-3166 alpha-2 codes, two "
            "capital letters such as 'DE')",
        ),
    ]


def test_the_cash_workbook_without_a_currency_says_so_in_its_about_sheet(tmp_path) -> None:
    """d0dc3f6 made the queue and credit-limit workbooks say that amounts carry no currency code, and
    the cash-forecast workbook too, which its test left out (mutation J8, the cash workbook's old "" back:
    not caught). By hand: one week of 100.0 cash-in, no currency."""
    import datetime as dt

    import openpyxl

    from pipelines.scoring.paydate import write_cash_workbook
    from tests.pipelines.test_review_s30 import _cash_rows

    path = write_cash_workbook(
        _cash_rows([(1, "all", 100.0)]), tmp_path / "c.xlsx", dt.date(2024, 12, 31), None, "v1"
    )
    about = openpyxl.load_workbook(path)["about"]["A1"].value
    assert about.endswith(
        "they have no total. Amounts carry no currency code: the data name none and conf/ews.yaml sets no "
        "currency.reporting. Name it there (currency: {reporting: EUR}, your currency's ISO code); the next run "
        "writes it beside every amount. cash_forecast.csv holds the same weeks with each segment's interval."
    )


def test_teams_check_fails_a_segment_one_typo_from_a_debtors(tmp_path, monkeypatch) -> None:
    """7660bab fails a value that differs from a debtor's "only in case, spaces or a typo"; its test
    tried case only (mutation J6, a typo taken as a value no debtor has yet: a note, exit 0). By hand:
    'retial' is one swap from the debtors' 'retail'."""
    project = _project_with_debtors(tmp_path)
    teams = "kind: teams\ncollectors:\n  - {name: Anna, segments: [retial], capacity: 10}\n"
    code, out = _check(project, teams, monkeypatch)
    assert code == 2, out
    assert out == (
        "FAIL conf/teams.yaml: Anna: segment 'retial': no debtor in data/ingested (data_dir of conf/nightly.yaml) "
        "has it, they have 'retail' (segment values are compared exactly, case included: as written Anna covers "
        "none of them). Edit conf/teams.yaml"
    )


def test_teams_check_note_lists_twelve_of_the_debtors_values(tmp_path, monkeypatch) -> None:
    """7660bab's note lists at most 12 of the debtors' values and counts the rest (a book with every
    country of the world would fill the screen); its test had 3 (mutation J7, no cap: not caught). By
    hand: 14 segments s01..s14, the note shows s01..s12 "and 2 more"."""
    project = _project_with_debtors(tmp_path)
    debtors = "debtor_id,name,segment\n" + "".join(f"D{k},N,s{k:02d}\n" for k in range(1, 15))
    folder = _ingest(tmp_path, debtors)
    teams = "kind: teams\ncollectors:\n  - {name: Anna, segments: [zzz], capacity: 10}\n"
    code, out = _check(project, teams, monkeypatch, "--data", str(folder))
    assert code == 0, out
    assert out.startswith(
        f"note conf/teams.yaml: Anna: no debtor in --data {folder} has segment 'zzz' yet (segment values there: "
        "s01, s02, s03, s04, s05, s06, s07, s08, s09, s10, s11, s12 and 2 more) ok conf/teams.yaml"
    )


def test_the_csv_readers_quarantine_reasons_read_in_words() -> None:
    """f7cd03d put three more quarantine reasons in words for report.html's feed table; the lines the CSV
    reader and the row options cannot read (pipelines.sources.read / rows) were still codes there:
    "unterminated_quote", "cut_last_line", "fill_down_no_value_above". test_review_s33's guard reads the
    ingest's ``flag(masks, ...)`` reasons only; this one reads the reader's malformed lines too."""
    import re

    from pipelines.words import REASON_WORDS, reason_words

    assert [reason_words(r) for r in ("unterminated_quote", "cut_last_line", "fill_down_no_value_above")] == [
        "A quote that opens a value and is not closed",
        "The file's last line, cut off while written or copied",
        "No value above to fill down (a row before the report's first group)",
    ]
    root = Path(__file__).resolve().parents[2] / "pipelines" / "sources"
    code = (root / "read.py").read_text(encoding="utf-8") + (root / "rows.py").read_text(encoding="utf-8")
    kinds = set(re.findall(r'bad\.append\(\s*\(\s*[^,]+,\s*[^,]+,\s*"([a-z_]+)"', code))
    kinds |= set(re.findall(r'"reason": pd\.Series\(\["([a-z_]+)"\]', code))
    assert {"malformed_row", "unterminated_quote", "cut_last_line", "fill_down_no_value_above"} <= kinds
    assert sorted(k for k in kinds if k not in REASON_WORDS) == []


def test_the_backtest_reads_a_statements_books_past_month_ends_for_limit_breach() -> None:
    """e776a44 made the nightly read a statements book's past month-ends for limit_breach (the latest
    statement's balance against the limit valid then); 4596fd3's backtest replay read the invoices only,
    so on a statements book a debtor over its limit before a replayed month-end fired again as a new
    breach. By hand, limits 1,000, amounts due 5,000 a month (the recommended limit far above every
    balance): A 1,500 / 500 / 1,500 on 01-31 / 02-29 / 03-31, B 500 / 500 / 1,500, C 500 each. Replayed
    02-29 and 03-31: A was over on 01-31 (within rearm_days), so only B's breach is new on 03-31."""
    import pandas as pd

    from features.labels import DefaultDefinition
    from features.tables import Portfolio
    from pipelines.backtest import replay
    from pipelines.config.credit import load_credit_policy
    from tests.features.ledgers import frame
    from tests.pipelines.test_backtest import LIMIT_CFG, _low_pd

    balances = {"A": (1500.0, 500.0, 1500.0), "B": (500.0, 500.0, 1500.0), "C": (500.0, 500.0, 500.0)}
    ends = [pd.Timestamp(t) for t in ("2024-01-31", "2024-02-29", "2024-03-31")]
    statements = frame(
        "statements",
        [
            {"debtor_id": d, "period_end": t, "balance": b[i], "amount_due": 5000.0, "amount_paid": 5000.0,
             "days_past_due": 0, "credit_limit": 1000.0}
            for d, b in balances.items()
            for i, t in enumerate(ends)
        ],
    )  # fmt: skip
    book = Portfolio(
        statements=statements,
        debtors=frame("debtors", [{"debtor_id": d, "credit_limit": 1000.0} for d in "ABC"]),
    )
    policy = load_credit_policy(None, [b.name for b in LIMIT_CFG.bands])
    p = replay(book, ends[1:], _low_pd, LIMIT_CFG, DefaultDefinition(), policy=policy)
    fired = p.loc[p["flagged"]].groupby("as_of")["debtor_id"].apply(lambda s: "".join(sorted(s)))
    assert fired.reindex(ends[1:], fill_value="").tolist() == ["", "B"]
    memory = p.set_index(["as_of", "debtor_id"])["limit_over_ledger_on"]
    assert memory[(ends[2], "A")] == ends[0] and pd.isna(memory[(ends[2], "B")])


def test_the_scoring_buckets_name_candidates_on_tonights_dated_limit() -> None:
    """73719f8: each scoring bucket names limit_breach's ledger candidates itself, with tonight's limits
    as the nightly computes them: the attributes valid tonight (debtor_history), not the snapshot. With
    the snapshot (mutation J24) the bucket misses X and the nightly reads X's rows from the book again
    (the output stays right, the saving is lost). By hand: X's limit 50,000 in the debtors table, 5,000
    by its debtor_history since 2024-01-01; open 6,000 tonight (2024-06-15), 4,000 in the previous run."""
    import pandas as pd

    from features.tables import Portfolio
    from pipelines.config.credit import load_credit_policy
    from pipelines.config.nightly import NightlyConfig
    from pipelines.scoring.watchlist import bucket_ledger_memory, ledger_ask
    from tests.features.ledgers import frame, inv

    cfg = NightlyConfig.model_validate({"triggers": {"limit_breach": {"margin": 10.0}}})
    part = Portfolio(
        invoices=frame("invoices", [inv("X1", "X", "2024-06-01", "2024-07-01", 6_000.0)]),
        debtors=frame("debtors", [{"debtor_id": "X", "credit_limit": 50_000.0}]),
        debtor_history=frame(
            "debtor_history",
            [{"debtor_id": "X", "valid_from": pd.Timestamp("2024-01-01"), "credit_limit": 5_000.0}],
        ),
    )
    as_of = pd.Timestamp("2024-06-15")
    row = {"debtor_id": pd.array(["X"], dtype="string"), "pd": [0.005], "band": ["A"], "in_default": [False]}
    tonight = pd.DataFrame(
        {**row, "as_of": [as_of], "open_balance": [6_000.0], "invoice_amount_90d": [6_000.0],
         "invoice_amount_365d": [6_000.0], "payment_terms_mean_365d": [30.0]}
    )  # fmt: skip
    previous = pd.DataFrame(
        {**row, "as_of": [as_of - pd.Timedelta(days=1)], "open_balance": [4_000.0], "credit_limit_current": [5_000.0],
         "credit_limit_recommended": [50_000.0], "credit_need": [10_000.0],
         "limit_over_on": pd.to_datetime([None])}
    )  # fmt: skip
    policy = load_credit_policy(None, [b.name for b in cfg.bands])
    ask = ledger_ask(previous, None, 1, policy, "EUR", as_of, cfg)
    named, _memory = bucket_ledger_memory(part, tonight, 0, ask, cfg)
    assert list(named) == ["X"]
