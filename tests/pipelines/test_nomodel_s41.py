"""Session 41 (s41-pdless): the nightly of a book too small to train (issues 11/13).

s40-small walked `ews generate --debtors 120 --months 36 --seed 3526`: `ews train` refused it at 18 and 21
months (1, then 2 moves into default; the roll-rate model needs 3) and every nightly `ews score` exited 2 with
no output at all: no aging, no overdue queue, no recovery queue, no report, for the company's first two years.
Now `ews score` without any registered PD model publishes what the ledger gives, with every model figure
empty (never 0), and says so; `--require-model` keeps the refusal.

The hand-built book (as of 2024-06-30; the default definition: 90 days past due, or an insolvency, agency
placement or write-off event):

========  ==========================================  =====  =======  ================================
debtor    open invoices                               DPD    overdue  expected
========  ==========================================  =====  =======  ================================
D1        I1 1,000.00 due 2024-05-31                  30     1,000    collections, 2nd
D2        I2 200.00 due 2024-04-30                    61     200      collections, 1st (oldest)
D3        I3 5,000.00 due 2024-06-20 (issued 06-20)   10     5,000    collections, 3rd; overdue over its
                                                                      1,000 limit since 06-20: limit_breach
D4        I4 300.00 due 2024-06-20                    10     300      collections, 4th (same DPD, less)
D5        I5 700.00 due 07-15, I9 50.00 due 07-30      0      0        in no queue (nothing overdue)
D6        I6 800.00 due 2024-05-01, insolvency 06-01  60     800      in default: recovery queue only
D7        I7 400.00, paid 2024-05-20                  -      0        in no queue
========  ==========================================  =====  =======  ================================

So the collections queue is D2, D1, D3, D4 (days past due, then the overdue amount: the order `ews backtest`
reports as dpd_capture_top20) and the recovery queue D6: 4 + 1 of 7 debtors, 6 live.

Session 42 (s42-pdless): the watchlist's triggers that need no PD beside limit_breach. Against the run of
2024-06-19, D1 went from 19 to 30 days past due (into the 30+ bucket of triggers.dpd_bucket.buckets [30, 60,
90]) and D2 from 50 to 61 (into 60+): both fire dpd_bucket; D3 and D4 were not yet overdue on 06-19 and are
10 days past due now (no bucket). Before, the watchlist held D3 alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()

INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,currency
I0,D1,2024-01-05,2024-02-04,150.00,EUR
I1,D1,2024-05-01,2024-05-31,1000.00,EUR
I2,D2,2024-03-31,2024-04-30,200.00,EUR
I3,D3,2024-06-20,2024-06-20,5000.00,EUR
I4,D4,2024-05-21,2024-06-20,300.00,EUR
I5,D5,2024-06-15,2024-07-15,700.00,EUR
I6,D6,2024-04-01,2024-05-01,800.00,EUR
I7,D7,2024-04-20,2024-05-20,400.00,EUR
I8,D3,2024-01-10,2024-02-09,600.00,EUR
I9,D5,2024-06-30,2024-07-30,50.00,EUR
"""
PAYMENTS = """payment_id,debtor_id,invoice_id,paid_on,amount
P0,D1,I0,2024-02-01,150.00
P7,D7,I7,2024-05-20,400.00
P8,D3,I8,2024-02-05,600.00
"""
DEBTORS = """debtor_id,name,segment,country,credit_limit
D1,One,retail,DE,5000
D2,Two,retail,DE,5000
D3,Three,wholesale,NL,1000
D4,Four,wholesale,NL,5000
D5,Five,retail,DE,5000
D6,Six,retail,DE,5000
D7,Seven,retail,DE,5000
"""
EVENTS = """debtor_id,event_date,kind,amount
D6,2024-06-01,insolvency,800.00
"""


def c_moves(manifest: dict) -> dict:
    return manifest["counts"]["moves_into_default"]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _project(tmp_path: Path, monkeypatch) -> Path:
    """`ews init`, the hand-built book ingested as of 2024-06-30, no model trained."""
    project = tmp_path / "p"
    assert runner.invoke(app, ["init", str(project)]).exit_code == 0
    monkeypatch.chdir(project)
    monkeypatch.delenv("EWS_PROJECT", raising=False)
    files = {"inv.csv": INVOICES, "pay.csv": PAYMENTS, "deb.csv": DEBTORS, "ev.csv": EVENTS}
    for name, text in files.items():
        (project / name).write_text(text, encoding="utf-8")
    args = ["ingest", "--invoices", "inv.csv", "--payments", "pay.csv", "--debtors", "deb.csv"]
    args += ["--events", "ev.csv", "--out", "data/ingested", "--no-docs", "--as-of", "2024-06-30"]
    result = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return project


@pytest.fixture(scope="module")
def no_model_run(tmp_path_factory, mlflow_template) -> tuple[Path, str]:
    """The book scored on 2024-06-19 and 2024-06-30 without a PD model (one project for the module's tests)."""
    import mlflow

    from tests.conftest import seed_mlflow_db

    tmp = tmp_path_factory.mktemp("nomodel")
    uri = seed_mlflow_db(mlflow_template, tmp / "mlflow.db")  # a store where nothing was ever registered
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
        monkeypatch.setenv("EWS_MLFLOW_ARTIFACTS", str(tmp / "mlartifacts"))
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        project = _project(tmp, monkeypatch)
        said = ""
        for day in ("2024-06-19", "2024-06-30"):
            result = runner.invoke(
                app,
                ["score", "--data", "data/ingested", "--as-of", day, "--out", "data/runs"],
                env={"COLUMNS": "400"},
            )
            assert result.exit_code == 0, result.output
            assert "Traceback" not in result.output
            said = _flat(result.output)
    return project / "data" / "runs" / "2024-06-30", said


def test_score_without_a_model_publishes_the_ledgers_outputs_with_every_model_figure_empty(
    no_model_run,
) -> None:
    run, said = no_model_run
    assert "notice: no PD model is registered yet" in said and "--require-model refuses such a run" in said
    assert "nightly 2024-06-30 without a PD model" in said
    assert "7 debtors (1 in default), no PD; watchlist 3 debtors" in said
    assert "collections queue 4 debtors by days past due; recovery queue 1 debtor" in said
    m = json.loads((run / "manifest.json").read_text())
    assert m["mode"] == "no_pd_model" and m["model"] is None
    assert m["no_model"].startswith("No PD model yet: no version of 'ews-pd' is registered in ")
    # s42-pdless: one figure beside the minimum it is compared with, counted as `ews train` counts it: the
    # month-ends 2024-04-30, 05-31, 06-30 (3 months after the first invoice, snapshots.min_history_months);
    # D6 is 30 days past due at 05-31 and in default at 06-30 (insolvency 06-01): 1 move into default.
    # Before, the notice said "1 debtor in default", which the roll-rate minimum does not count
    assert (
        "This book has 7 debtors over 6 months of dated history (from 2024-01-05) and 1 move into default from "
        "one month-end to the next so far, of the 3 the smallest PD model ews trains (the roll-rate model) needs"
        in m["no_model"]
    )
    assert "debtor in default tonight" not in m["no_model"]
    assert c_moves(m) == {"moves": 1, "needed": 3}
    assert "; 1 of the 3 moves into default the first PD model needs" in said
    first = json.loads((run.parent / "2024-06-19" / "manifest.json").read_text())  # 04-30, 05-31: none yet
    assert (
        c_moves(first) == {"moves": 0, "needed": 3} and " and 0 moves into default from " in first["no_model"]
    )
    assert m["queue_key"]["key"] == "dpd"
    c = m["counts"]
    assert (c["scored"], c["live"], c["in_default"], c["queue"], c["recovery"]) == (7, 6, 1, 4, 1)
    assert c["expected_loss"] is None  # never 0: there is no PD
    assert c["bands"] == {"default": 1}
    assert c["triggers"] == {
        "threshold": 0, "jump": 0, "migration": 0, "new_entrant": 0, "limit_breach": 1, "rank": 0,
        "dpd_bucket": 2, "event": 0,
    }  # fmt: skip
    assert m["payment_dates"]["model"] is None
    assert m["payment_dates"]["note"].endswith(
        "no cash-in forecast is made from due dates alone; the aging, DSO and the collections queue by days "
        "past due are published"
    )
    for name in ("collections_queue", "recovery_queue", "watchlist", "credit_limits", "report", "scores"):
        assert any(f.startswith(name) for f in m["outputs"]), name


def test_the_collections_queue_is_in_days_past_due_order_and_the_rows_add_up(no_model_run) -> None:
    run, _ = no_model_run
    q = pd.read_csv(run / "collections_queue.csv")
    assert q["debtor_id"].tolist() == ["D2", "D1", "D3", "D4"]
    assert q["dpd"].tolist() == [61, 30, 10, 10]
    assert q["overdue_amount"].tolist() == [200.0, 1000.0, 5000.0, 300.0]
    assert q["rank"].tolist() == [1, 2, 3, 4]
    for col in ("pd", "band", "expected_loss", "priority"):  # empty, never 0
        assert q[col].isna().all(), (col, q[col].tolist())
    # the actions that need no PD fire as with a model: 61 days final notice, 30 a call, 10 a reminder
    assert q["next_action"].tolist() == ["final_notice", "call", "reminder", "reminder"]
    r = pd.read_csv(run / "recovery_queue.csv")
    assert r["debtor_id"].tolist() == ["D6"] and r["event"].tolist() == ["insolvency"]
    assert r["next_action"].tolist() == ["file_claim"]
    assert r["exposure"].tolist() == [800.0] and r["recoverable_amount"].notna().all()
    assert not set(q["debtor_id"]) & set(r["debtor_id"])
    scores = pd.read_parquet(run / "scores.parquet")
    assert len(scores) == 7 and scores["pd"].isna().all() and scores["raw_score"].isna().all()
    assert scores["model_version"].isna().all()
    bands = dict(zip(scores["debtor_id"], scores["band"], strict=True))
    assert bands.pop("D6") == "default" and all(pd.isna(b) for b in bands.values()), bands
    live_overdue = scores.loc[~scores["in_default"] & (scores["overdue_amount"] > 0), "debtor_id"]
    assert sorted(live_overdue) == sorted(q["debtor_id"])  # queue = the live overdue debtors


def test_the_watchlist_holds_the_breach_of_the_limit_on_file_and_limits_have_no_recommendation(
    no_model_run,
) -> None:
    run, _ = no_model_run
    wl = pd.read_csv(run / "watchlist.csv", keep_default_na=False, na_values={"pd": [""], "band": [""]})
    assert wl["debtor_id"].tolist() == ["D1", "D2", "D3"]
    assert wl["triggers"].tolist() == ["dpd_bucket", "dpd_bucket", "limit_breach"]
    assert wl["news_note"].tolist() == [
        "30 days past due, 19 in the previous run: now past 30",
        "61 days past due, 50 in the previous run: now past 60",
        "",
    ]
    # without a PD model limit_breach reads the overdue amount (s44-pdless): D3's 5,000 is overdue since 06-20
    assert wl["limit_note"].tolist()[2] == (
        "overdue EUR 5,000 is above the current credit limit of EUR 1,000 (exposure EUR 5,000)"
    )
    assert wl["pd"].isna().all() and wl["band"].isna().all()
    limits = pd.read_csv(run / "credit_limits.csv").set_index("debtor_id")
    assert limits.loc["D3", "credit_limit_current"] == 1000.0 and limits.loc["D3", "exposure"] == 5000.0
    for variant in ("recommended", "conservative", "aggressive"):
        assert limits[f"credit_limit_{variant}"].isna().all(), variant
    assert limits.loc["D1", "credit_limit_rule"].startswith(
        "no PD model yet: no risk band, so no recommended limit"
    )
    assert np.isfinite(limits.loc["D1", "credit_need"])


def test_the_report_says_at_its_top_that_there_is_no_model_and_shows_no_pd(no_model_run) -> None:
    run, _ = no_model_run
    page = (run / "report.html").read_text(encoding="utf-8")
    main = page.index("<main>")
    assert page.index('<section id="no-model">') == page.index("<section", main)  # the first section
    assert '<b id="model-version">No PD model yet</b>' in page
    assert (
        "This book has 7 debtors over 6 months of dated history (from 2024-01-05) and 1 move into default from "
        "one month-end to the next so far, of the 3 the smallest PD model ews trains" in page
    )
    for gone in (
        'id="distribution"',
        'id="calibration"',
        'id="drift"',
        'id="explanations"',
        'id="el-band-table"',
    ):
        assert gone not in page, gone
    assert 'id="exposure-segment-table"' in page and 'id="aging-table"' in page and 'id="dso-table"' in page
    assert "nan" not in page.replace("nano", "")
    assert "expected loss: no PD model yet" in page


def test_require_model_keeps_the_refusal(tmp_path: Path, monkeypatch, mlflow_uri) -> None:
    _project(tmp_path, monkeypatch)
    result = runner.invoke(
        app,
        [
            "score",
            "--data",
            "data/ingested",
            "--as-of",
            "2024-06-30",
            "--out",
            "data/runs",
            "--require-model",
        ],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 2, result.output
    assert "error: model 'ews-pd' has no alias 'champion'" in _flat(result.output)
    assert not Path("data/runs/2024-06-30").exists()


def test_a_first_version_refused_by_its_gate_runs_without_a_pd_model_too(
    tmp_path: Path, mlflow_uri: str
) -> None:
    """Walk (unseen small s341 cut to 120 debtors): `ews train` at 15 months registered v1 (roll-rate, test AUC
    0.5070 [0.4345, 0.5827]) and its gate refused it: no champion, and `ews score` exited 2 again. Now the run
    goes on without a PD model and says which version failed and how to accept it; a store that lost a version
    still refuses (test_hostile_s37), and so does --require-model."""
    from mlflow.tracking import MlflowClient

    from pipelines.commands.score import _require_version
    from pipelines.config.nightly import NightlyConfig
    from pipelines.flows.nightly import no_model
    from pipelines.scoring.nomodel import notice

    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    client.create_registered_model("ews-pd")
    tags = {"ews.kind": "rollrate", "ews.test_auc": "0.507000", "ews.gate": "failed",
            "ews.gate.reasons": "FAIL AUC 0.5070 [0.4345, 0.5827]: the whole interval is below the floor 0.7000 "
            "(gate.min_auc)"}  # fmt: skip
    client.create_model_version("ews-pd", source=str(tmp_path / "model"), tags=tags)
    config = tmp_path / "nightly.yaml"
    assert _require_version(config, "ews-pd", "champion", mlflow_uri, require_model=False) is True
    none = no_model(NightlyConfig(), mlflow_uri)
    assert none is not None and none.version is None
    assert none.why.startswith("no version of 'ews-pd' is champion in ")
    assert none.why.endswith(
        "ews-pd v1 (rollrate, test AUC 0.5070) is registered but failed its promotion gate: AUC 0.5070 [0.4345, "
        "0.5827]: the whole interval is below the floor 0.7000 (gate.min_auc)"
    ), none.why
    assert none.registered
    said = notice(none, pd.DataFrame({"in_default": [False, True]}))
    assert (
        "This book has 2 debtors, 1 debtor in default tonight. The first model needs a version that passes its "
        in said
    )
    assert "roll-rate model) needs at least" not in said
    assert no_model(NightlyConfig(), mlflow_uri, require_model=True) is None
    assert no_model(NightlyConfig(model_alias="challenger"), mlflow_uri) is None


def test_a_book_whose_last_run_had_a_model_is_refused_not_scored_without_one(
    tmp_path: Path, monkeypatch, mlflow_uri: str
) -> None:
    """Lead, session 41: the run without a PD model starts whenever the store holds no champion, so a nightly
    whose tracking URI or model_name was changed by mistake (a typo, another machine's store) would turn a book
    scored by v3 last night into runs without PDs, exit 0. A runs folder whose last run was scored by a model
    refuses instead (exit 2, naming that run and the fix); a folder whose runs had none goes on."""
    from pipelines.scoring.nomodel import lost_model_words, model_before

    _project(tmp_path, monkeypatch)
    runs = Path("data/runs")
    earlier = runs / "2024-06-29"  # a run folder as published: scores.parquet and its manifest
    earlier.mkdir(parents=True)
    (earlier / "scores.parquet").write_bytes(b"")
    manifest = {"as_of": "2024-06-29", "model": {"name": "ews-pd", "version": "3", "alias": "champion"}}
    (earlier / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert model_before(runs, "2024-06-30") == "ews-pd v3 (the run of 2024-06-29)"
    assert model_before(runs, "2024-06-29") is None  # no run before it
    assert model_before(tmp_path / "nowhere", "2024-06-30") is None
    assert lost_model_words(
        "no version of 'ews-pd' is champion in X", "ews-pd v3 (the run of 2024-06-29)"
    ).startswith(
        "no version of 'ews-pd' is champion in X, but the previous run was scored by ews-pd v3 (the run of "
        "2024-06-29): the tracking store or model_name is not the one that run used"
    )
    result = runner.invoke(
        app, ["score", "--data", "data/ingested", "--as-of", "2024-06-30", "--out", "data/runs"],
        env={"COLUMNS": "400"},
    )  # fmt: skip
    said = _flat(result.output)
    assert result.exit_code == 2, result.output
    assert "but the previous run was scored by ews-pd v3 (the run of 2024-06-29)" in said, said
    assert "Traceback" not in result.output
    assert not (runs / "2024-06-30").exists()
    # the same folder whose last run had no PD model (its manifest's model is null) goes on without one
    (earlier / "manifest.json").write_text(json.dumps({**manifest, "model": None}), encoding="utf-8")
    assert model_before(runs, "2024-06-30") is None


def test_the_flow_itself_refuses_a_book_whose_last_run_had_a_model(
    tmp_path: Path, monkeypatch, mlflow_uri: str, prefect_harness
) -> None:
    """The same refusal where `ews serve`'s deployment enters (the flow, not the CLI's check before Prefect):
    NoChampionError naming the earlier run, and nothing published for the date."""
    from pipelines.adapters.registry import NoChampionError
    from pipelines.flows.nightly import run

    _project(tmp_path, monkeypatch)
    earlier = Path("data/runs/2024-06-29")
    earlier.mkdir(parents=True)
    (earlier / "scores.parquet").write_bytes(b"")
    manifest = {"as_of": "2024-06-29", "model": {"name": "ews-pd", "version": "3", "alias": "champion"}}
    (earlier / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(
        NoChampionError, match=r"but the previous run was scored by ews-pd v3 \(the run of 2024-06-29\)"
    ):
        run(
            as_of=pd.Timestamp("2024-06-30").date(),
            config_path=Path("conf/nightly.yaml"),
            data_dir=Path("data/ingested"),
            out_dir=Path("data/runs"),
        )
    assert not Path("data/runs/2024-06-30").exists()
