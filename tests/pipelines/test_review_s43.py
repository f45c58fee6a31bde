"""Session 43 (s43-review): tests for mutants that survived their commits' own tests (session 42's I35, I36,
I39; benchmarks/review_mutations.py). Each test names the commit and the mutant it catches. Every expected
value is by hand."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPARED = (
    "Against champion v1 on 8 rows (4 debtors, 2 defaults, 2 month-ends, 2024-01-31 to 2024-02-29): log-loss "
    "+0.1733 (95 % interval +0.0400 to +0.3000), AUC +0.0000 (+0.0000 to +0.0000), challenger minus champion."
)


def test_models_history_shows_a_refused_gates_comparison() -> None:
    """b2719d1 (s42-gate): a version the gate refused carries its comparison in `ews models history`, as a
    promoted one does (mutant I35 kept it for promotions only; test_gate_s42 tests a promotion alone). v1:
    champion by hand (no comparison); v2: refused by the gate, tagged with its comparison; v3: promoted by
    the gate, tagged with its own. Each gate decision carries its own version's sentence; v1's none."""
    from pipelines.adapters.registry_view import VersionRecord, decision_events

    def record(version: str, events: list[dict], comparison: str | None) -> VersionRecord:
        tags = {"ews.events": json.dumps(events)}
        if comparison is not None:
            tags["ews.gate.comparison"] = comparison
        return VersionRecord(version=version, created_ms=0, run_id=f"r{version}", tags=tags, aliases=())

    promoted = COMPARED.replace("+0.1733", "-0.1733").replace("+0.0400 to +0.3000", "-0.3000 to -0.0400")
    records = [
        record("1", [{"at": "2026-03-01T09:00:00+00:00", "event": "champion", "mode": "manual", "by": "anna",
                      "reason": "first model"}], None),
        record("2", [{"at": "2026-03-02T09:00:00+00:00", "event": "gate_failed", "mode": "gate",
                      "reason": "FAIL log-loss on the rows both held out"}], COMPARED),
        record("3", [{"at": "2026-03-03T09:00:00+00:00", "event": "champion", "mode": "gate", "previous": "1",
                      "reason": "ok every check"}], promoted),
    ]  # fmt: skip
    events = decision_events(records)
    got = [(e["version"], e["event"], e["comparison"]) for e in events]
    assert got == [("1", "champion", ""), ("2", "gate_failed", COMPARED), ("3", "champion", promoted)]
    assert events[1]["at"] == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_nightly_hands_the_champions_gate_comparison_to_the_report(
    prefect_harness, mlflow_uri, tmp_path
) -> None:
    """b2719d1 (s42-gate): the nightly passes the champion's ``ews.gate.comparison`` tag to report.html
    (mutant I36 handed None; test_gate_s42 renders the report from a hand-built model dict). A 100-debtor
    book's roll-rate v1 (a first model: no comparison of its own), tagged with a comparison sentence as a
    gated version carries it: the nightly's report says "Its gate at training: " and that sentence, between
    the metrics table and Drift; without the tag the note is absent (the first model's own report)."""
    from mlflow.tracking import MlflowClient

    from pipelines.flows.nightly import nightly
    from pipelines.flows.train import run_train
    from pipelines.synthetic import GeneratorParams, generate

    raw = tmp_path / "book100"
    generate(GeneratorParams(debtors=100, months=24, seed=3, annual_default_rate=0.08), raw)
    from pipelines.ingest import ingest_dir

    ingest_dir(raw, raw / "ingested")
    config = tmp_path / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kind": "train",
                "project": str(ROOT / "conf" / "ews.yaml"),
                "evaluation": {"bootstrap_samples": 50},
            }
        )
    )
    result = run_train(raw / "ingested", config)
    assert result.kind == "rollrate" and result.promoted, result.gate_reasons
    client = MlflowClient()
    assert "ews.gate.comparison" not in client.get_model_version("ews-pd", result.version).tags
    cfg = tmp_path / "nightly.yaml"
    cfg.write_text(f"kind: nightly\nproject: {ROOT / 'conf' / 'ews.yaml'}\nreport:\n  waterfalls: 0\n")
    last = pd.Timestamp(result.plan["test"][-1]) + pd.offsets.MonthEnd(3)
    day = last.strftime("%Y-%m-%d")

    nightly(as_of=last.date(), config_path=cfg, data_dir=raw / "ingested", out_dir=tmp_path / "first")
    assert 'id="gate-comparison"' not in (tmp_path / "first" / day / "report.html").read_text()

    client.set_model_version_tag("ews-pd", result.version, "ews.gate.comparison", COMPARED)
    nightly(as_of=last.date(), config_path=cfg, data_dir=raw / "ingested", out_dir=tmp_path / "runs")
    page = (tmp_path / "runs" / day / "report.html").read_text()
    import re

    found = re.search(r'<p class="note" id="gate-comparison">(.*?)</p>', page, re.S)
    assert found is not None
    assert page.index('id="metrics-table"') < found.start() < page.index('id="drift"')
    assert found.group(1) == f"Its gate at training: {COMPARED}"

    # f729b09 (s43-walk): a champion promoted by hand over its failed gate says so; the nightly hands the
    # report the version's ews.gate and ews.promotion.* tags (mutant O32 dropped them: test_walk_s43 renders
    # the sentence from a hand-built dict). The tags as `ews models promote 1 --reason ...` writes them.
    failed = "FAIL AUC 0.6000 < the floor 0.7000 (gate.min_auc)"
    for key, value in {
        "ews.gate": "failed",
        "ews.gate.reasons": f"ok challenger is the roll-rate model; {failed}",
        "ews.promotion.manual": "2026-12-07T20:54:28+00:00",
        "ews.promotion.by": "P. Shah",
        "ews.promotion.reason": "more data; reviewed",
    }.items():
        client.set_model_version_tag("ews-pd", result.version, key, value)
    nightly(as_of=last.date(), config_path=cfg, data_dir=raw / "ingested", out_dir=tmp_path / "manual")
    page = (tmp_path / "manual" / day / "report.html").read_text()
    said = re.search(r'<p class="note" id="gate-warning"><b>(.*?)</b></p>', page, re.S)
    assert said is not None
    text = html.unescape(said.group(1))
    assert text.startswith(
        "Promoted by hand over its failed gate by P. Shah on 2026-12-07 (ews models promote): "
    )
    assert text.endswith(
        "Reason given: \u201cmore data; reviewed\u201d (every check: ews models history --verbose)."
    )
    assert '<a href="#gate-warning">promoted by hand over its failed gate</a>' in page


def _kinds_night(folder: Path, night2: bool, kinds: tuple[str, str] | None) -> dict[str, Path]:
    """test_hostile_s42's ledger (P1 pays I2, P2 pays I3); ``kinds``: P1's and P2's ``kind`` column, or
    None: the payments file without the column."""
    from tests.pipelines.test_hostile_s42 import _night

    files = _night(folder, night2)
    if kinds is not None:
        payments = pd.read_csv(files["payments"], dtype="string")
        payments.assign(kind=list(kinds)).to_csv(files["payments"], index=False)
    return files


def test_a_lost_kind_column_is_refused_only_when_a_kept_payment_is_a_credit(tmp_path: Path) -> None:
    """c899ce6 (s42-attack): an export without payments' ``kind`` reads every payment as cash (the schema:
    empty = cash), so a history whose kept payments are all cash loses nothing and is merged (mutant I39
    counted kept "cash" as a stated kind and refused it: test_hostile_s42 has no ``kind`` case). A history
    holding one credit memo (P2) is refused, naming 1 row. (Merged, the all-cash history keeps no
    ``kind`` column: the readers take its absence as cash.)"""
    from pipelines.adapters.files import read_portfolio
    from pipelines.ingest import TableError, ingest_files
    from tests.pipelines.test_hostile_s42 import NIGHT1, NIGHT2, RULES

    cash = tmp_path / "cash"
    ingest_files(_kinds_night(tmp_path / "c1", False, ("cash", "cash")), cash, as_of=NIGHT1, settings=RULES,
                 keep_history=True)  # fmt: skip
    ingest_files(
        _kinds_night(tmp_path / "c2", True, None), cash, as_of=NIGHT2, settings=RULES, keep_history=True
    )
    kept = read_portfolio(cash)
    assert sorted(kept.invoices["invoice_id"]) == ["I1", "I2", "I3", "I4"]
    # both kept as cash: the merged history has no kind column left (an empty kind reads cash)
    assert kept.payments["payment_id"].tolist() == ["P1", "P2"]
    assert "kind" not in kept.payments.columns or kept.payments["kind"].fillna("cash").eq("cash").all()

    credit = tmp_path / "credit"
    ingest_files(_kinds_night(tmp_path / "k1", False, ("cash", "credit")), credit, as_of=NIGHT1,
                 settings=RULES, keep_history=True)  # fmt: skip
    files = _kinds_night(tmp_path / "k2", True, None)
    with pytest.raises(TableError) as caught:
        ingest_files(files, credit, as_of=NIGHT2, settings=RULES, keep_history=True)
    message = str(caught.value)
    assert f"{files['payments']} (payments) has no column 'kind'" in message
    assert "holds it for 1 row with a value" in message


def test_the_missing_debtors_warning_names_the_largest_open_first_and_counts_an_overpaid_one_as_0(
    tmp_path: Path,
) -> None:
    """fa9e2a7 (s43-attack): invoices of debtors missing from the debtors table are named, largest open
    balance first (ties: more invoices first), three at most, and an overpaid debtor's open balance is 0, not
    negative (mutants O22, the smallest first, and O23, open not clipped, passed test_hostile_s43: its one
    missing debtor). The debtors table holds D1 only. A: 500.00 invoiced, nothing paid: 500.00 open; B: 300.00 +
    400.00 invoiced, 100.00 paid: 600.00; C: 50.00 invoiced, 80.00 paid: 0.00 (not -30.00); E: 1,000.00
    invoiced, 400.00 paid: 600.00 (one invoice: after B). In all 5 invoices of 4 debtors with 3 payments,
    600 + 600 + 500 + 0 = 1,700.00 open; C is the "1 more"."""
    from pipelines.config.source import RulesConfig
    from pipelines.ingest import ingest_files

    folder = tmp_path / "in"
    folder.mkdir()
    pd.DataFrame({"debtor_id": ["D1"]}).to_csv(folder / "debtors.csv", index=False)
    invoices = [("I1", "D1", "100.00"), ("I2", "A", "500.00"), ("I3", "B", "300.00"), ("I4", "B", "400.00")]
    invoices += [("I5", "C", "50.00"), ("I6", "E", "1000.00")]
    pd.DataFrame(invoices, columns=["invoice_id", "debtor_id", "amount"]).assign(
        issue_date="2024-05-01", due_date="2024-05-31"
    ).to_csv(folder / "invoices.csv", index=False)
    payments = [("P1", "B", "I3", "100.00"), ("P2", "C", "I5", "80.00"), ("P3", "E", "I6", "400.00")]
    pd.DataFrame(payments, columns=["payment_id", "debtor_id", "invoice_id", "amount"]).assign(
        paid_on="2024-06-01"
    ).to_csv(folder / "payments.csv", index=False)
    files = {t: folder / f"{t}.csv" for t in ("debtors", "invoices", "payments")}
    rules = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6)
    result = ingest_files(files, None, as_of=pd.Timestamp("2024-06-30").date(), settings=rules,
                          default_currency="EUR")  # fmt: skip
    assert result.portfolio.invoices["invoice_id"].tolist() == ["I1"]
    said = [w for w in result.manifest["warnings"] if "missing from the debtors table" in w]
    assert said == [
        "invoices: 5 invoices of 4 debtors missing from the debtors table quarantined (unknown_debtor) with 3 "
        "payments, 1,700.00 open in all: B (2 invoices, 700.00 invoiced, 100.00 paid, 600.00 open); E (1 invoice, "
        "1,000.00 invoiced, 400.00 paid, 600.00 open); A (1 invoice, 500.00 invoiced, 0.00 paid, 500.00 open); 1 "
        "more. They are left out of features, scoring and the queues. A customer master that dropped a customer "
        "who still owes money does this: add the debtor to the debtors table (or ingest without --debtors); see "
        "quarantine/invoices.csv"
    ]


def test_a_boolean_for_an_optional_number_is_refused(tmp_path: Path) -> None:
    """fa4e3b6 (s43-attack): a field that takes a number or null (``credit.young_floor_days: int | None``)
    refuses ``true`` as a plain number field does (mutant O20, Optional not looked through, passed
    test_hostile_s43: its three keys are plain numbers). Before, ``young_floor_days: true`` was a floor of 1
    day: a week-old customer's volume divided by 7 days. ``null`` (tenure ignored) still passes."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    text = (ROOT / "conf" / "credit.yaml").read_text(encoding="utf-8")
    assert "young_floor_days: 30 " in text
    path = tmp_path / "credit.yaml"
    path.write_text(text.replace("young_floor_days: 30 ", "young_floor_days: true ", 1), encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "- young_floor_days: expected a number, but YAML read the unquoted value as a boolean (true)" in (
        " ".join(result.output.split())
    )
    path.write_text(text.replace("young_floor_days: 30 ", "young_floor_days: null ", 1), encoding="utf-8")
    assert CliRunner().invoke(app, ["config", "check", str(path)]).exit_code == 0


def test_the_no_model_replay_reads_each_month_ends_own_latest_event() -> None:
    """2269755 (s43-pdless): ``ews backtest --no-model`` reads, at each month-end, the latest event known then
    (mutant O14 read the book's last month-end's latest event at every month-end, and
    test_backtest_nomodel_s43 passed: its one event debtor has one event). G (an invoice of 100.00 issued
    2023-12-01, paid 2023-12-20: live, never past due) has two agency placements, 2024-02-10 and 2024-03-05
    (left out of this default definition, so G stays live): the event trigger fires at Feb 29 (the first is
    dated after Jan 31) and at Mar 31 (the second after Feb 29); read at Mar 31 only, February's latest
    would be 03-05, after Feb 29, and February would not fire."""
    from features.params import DefaultDefinition
    from pipelines.backtest import replay
    from pipelines.config.nightly import NightlyConfig
    from tests.features.ledgers import inv, pay, portfolio

    dates = [pd.Timestamp(d) for d in ("2024-01-31", "2024-02-29", "2024-03-31")]
    book = portfolio(
        [inv("G1", "G", "2023-12-01", "2023-12-31", 100.0)],
        [pay("pG", "G", "2023-12-20", 100.0, "G1")],
        events=[
            {"debtor_id": "G", "event_date": pd.Timestamp(day), "kind": "agency_placement"}
            for day in ("2024-02-10", "2024-03-05")
        ],
    )

    def no_score(live: pd.DataFrame) -> pd.Series:  # pragma: no cover - no PD model: nobody is scored
        raise AssertionError("the replay without a PD model must not call the scorer")

    definition = DefaultDefinition(event_kinds=("insolvency", "write_off"))
    panel = replay(book, dates, no_score, NightlyConfig(), definition, no_model=True).set_index("as_of")
    assert not panel["in_default"].any()
    assert panel["event_on"].tolist() == [pd.NaT, pd.Timestamp("2024-02-10"), pd.Timestamp("2024-03-05")]
    assert panel["trigger_event"].tolist() == [False, True, True]


def test_the_no_model_replay_counts_no_credit_memo_as_a_plan_instalment() -> None:
    """7ca93cb (s43-pdless): the replay checks a payment plan against cash payments only, as the nightly
    (``pipelines.scoring.plans``: a credit memo reduces what is owed but pays no instalment); mutant O16 counted
    credit memos and test_backtest_nomodel_s43 passed (its ledger has none). Its ledger plus a credit memo of
    250.00 for C on 2024-02-05 (kind credit, against C1): at Feb 29 C's plan (2 x 250 from 2024-01-31, agreed
    01-15) has 250.00 due and 0.00 paid in cash, so it is broken as before, and `event` fires for C; counted as
    cash, the memo would have kept it."""
    from dataclasses import replace

    from pipelines.backtest import replay
    from tests.features.ledgers import pay
    from tests.pipelines.test_backtest_nomodel_s43 import CFG, DATES, DEFINITION, ledger, no_score

    book = ledger()
    memo = pd.DataFrame([pay("mC", "C", "2024-02-05", 250.0, "C1")]).astype({"debtor_id": "string"})
    payments = pd.concat([book.payments.assign(kind="cash"), memo.assign(kind="credit")], ignore_index=True)
    book = replace(book, payments=payments.astype({"kind": "string"}))
    panel = replay(book, DATES, no_score, CFG, DEFINITION, no_model=True).set_index(["as_of", "debtor_id"])
    assert panel.loc[(DATES[1], "C"), "plan_broken"].startswith(
        "payment plan broken: 0.00 paid since 2024-01-15"
    )
    assert bool(panel.loc[(DATES[1], "C"), "trigger_event"])


def test_the_footers_prove_nothing_only_when_no_kept_flag_is_true(tmp_path: Path) -> None:
    """7346890 (s43-scale): a row group of ``disputed`` holding both false and true (statistics min false, max
    true) states 1 row; the footers must not call it empty (mutant O33 read the minimum and passed
    test_lost_columns_s43, whose boolean row groups are all false or all true)."""
    from pipelines.ingest.history import _footers_state_nothing, _stated
    from tests.pipelines.test_lost_columns_s43 import _kept

    folder = _kept(tmp_path, "t", [pd.DataFrame({"debtor_id": ["D1", "D2"], "disputed": [False, True]})])
    assert _footers_state_nothing(folder, "disputed", "bool", None) is False
    assert _stated(pd.read_parquet(folder, columns=["disputed"])["disputed"], "bool", None, "disputed") == 1
