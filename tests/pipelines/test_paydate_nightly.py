"""Nightly payment-date step: debtor buckets give the whole book's forecast, the files are written,
and without an ews-paydate champion the step is skipped (queue unchanged, no files)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from nightly_portfolio import make_portfolio

from features.ledger import day_number, prepare_ledger
from features.paydate import FEATURES, PERIOD_DAYS, training_rows
from features.tables import Portfolio
from models.paydate import PaydateParams, fit_hazard
from pipelines.adapters.paydate_registry import LoadedPaydate
from pipelines.engine import Book
from pipelines.scoring.paydate import INVOICE_COLUMNS, forecast_book, paydate_outputs

AS_OF = dt.date(2024, 8, 31)


@pytest.fixture(scope="module")
def setup():
    portfolio = Portfolio(**make_portfolio(n_debtors=240, months=14, seed=5))
    ledger = prepare_ledger(portfolio)
    snaps = [int(day_number(d)) for d in pd.date_range("2023-12-31", "2024-05-31", freq="ME")]
    rows = training_rows(ledger, snaps, int(day_number(pd.Timestamp("2024-06-30"))), 16)
    booster = fit_hazard(rows, PaydateParams(horizon_weeks=16, n_estimators=40, min_child_samples=50))
    loaded = LoadedPaydate("ews-paydate", "1", "champion", "run", booster, list(FEATURES), 16, PERIOD_DAYS)
    return portfolio, loaded


def test_buckets_give_the_whole_book(setup) -> None:
    portfolio, loaded = setup
    whole = forecast_book(Book.in_memory(portfolio, 10**9), AS_OF, loaded)
    cut = Book.in_memory(portfolio, 1_500)
    assert cut.buckets > 2
    parts = forecast_book(cut, AS_OF, loaded)
    assert list(whole.invoices.columns) == INVOICE_COLUMNS and len(whole.invoices) > 100
    pd.testing.assert_frame_equal(whole.invoices, parts.invoices)
    pd.testing.assert_frame_equal(whole.cash, parts.cash, rtol=1e-9)
    pd.testing.assert_series_equal(whole.expected_cash_30d, parts.expected_cash_30d, rtol=1e-9)
    total = whole.cash[whole.cash["segment"] == "all"]
    assert total["invoices"].eq(len(whole.invoices)).all()
    assert total["expected_cash"].sum() <= whole.invoices["open_amount"].sum()


def test_the_forecast_segments_are_those_valid_at_the_as_of_date(setup) -> None:
    """debtor_history (features.master): a debtor whose segment changed before the as-of date is
    forecast (invoice rows and the cash forecast's segment rows) in its new segment; a change dated
    after it changes nothing."""
    portfolio, loaded = setup
    before = forecast_book(Book.in_memory(portfolio, 10**9), AS_OF, loaded).invoices
    moved, later = before["debtor_id"].drop_duplicates().iloc[:2].tolist()
    history = pd.DataFrame(
        {
            "debtor_id": pd.array([moved, later], dtype="string"),
            "valid_from": pd.to_datetime(["2024-08-01", "2024-09-01"]),  # AS_OF 2024-08-31 between
            "segment": pd.array(["newseg", "laterseg"], dtype="string"),
        }
    )
    dated = dataclasses.replace(portfolio, debtor_history=history)
    got = forecast_book(Book.in_memory(dated, 10**9), AS_OF, loaded)
    seg = got.invoices.groupby("debtor_id")["segment"].first()
    assert seg[moved] == "newseg" and seg[later] == before.groupby("debtor_id")["segment"].first()[later]
    n_moved = int((got.invoices["debtor_id"] == moved).sum())
    assert set(got.cash.loc[got.cash["segment"] == "newseg", "invoices"]) == {n_moved}
    assert "laterseg" not in set(got.cash["segment"])


def test_files_and_queue_column(setup, tmp_path, mlflow_uri) -> None:
    """With a registered champion the step writes the three files; the queue gets expected_cash_30d."""
    from pipelines.adapters.paydate_registry import load_paydate, log_paydate
    from pipelines.adapters.registry import promote

    portfolio, loaded = setup
    logged = log_paydate(
        loaded.booster,
        spec={
            "features": list(FEATURES),
            "horizon_weeks": 16,
            "period_days": PERIOD_DAYS,
            "cash_shock_sd": 0.2,
        },
        metrics={"mae_days": 5.0},
        params={"horizon_weeks": 16},
        tables={},
        provenance={"git_commit": "test"},
        artifacts=tmp_path / "art",
    )
    promote(logged.version, "test", name="ews-paydate")
    back = load_paydate()
    assert back.version == logged.version and back.horizon_weeks == 16 and back.cash_shock_sd == 0.2
    assert back.interval == "first" and back.shape() is None  # a spec of before session 8: as then
    assert back.weekday_profile() is None
    queue = pd.DataFrame({"debtor_id": pd.array(["C00000", "C00001", "nobody"], dtype="string")})
    out, files = paydate_outputs.fn(tmp_path, Book.in_memory(portfolio, 10**9), AS_OF, queue, None, "EUR")
    assert set(files) == {
        "invoice_forecast.parquet",
        "invoice_forecast.csv",
        "cash_forecast.csv",
        "cash_forecast.xlsx",
    }
    inv = pd.read_parquet(files["invoice_forecast.parquet"])
    expect = (inv["open_amount"] * inv["p_paid_30d"]).groupby(inv["debtor_id"]).sum()
    np.testing.assert_allclose(
        out["expected_cash_30d"].to_numpy(), expect.reindex(queue["debtor_id"]).fillna(0).to_numpy(), atol=0.5
    )
    assert out["expected_cash_30d"].iloc[2] == 0.0
    cash = pd.read_csv(files["cash_forecast.csv"], encoding="utf-8-sig")
    assert cash.columns.tolist() == [
        "week", "week_start", "week_end", "segment", "expected_cash", "cash_low_80", "cash_high_80",
        "invoices", "currency",
    ]  # fmt: skip
    # the stored shock widens the interval: sd^2 = independent variance + (0.2 x mean)^2
    total = cash[cash["segment"] == "all"]
    alone = forecast_book(Book.in_memory(portfolio, 10**9), AS_OF, loaded).cash  # loaded: shock 0
    alone = alone[alone["segment"] == "all"]
    z = 1.2815515655446004
    sd0 = (alone["cash_high_80"] - alone["expected_cash"]).to_numpy() / z
    want = alone["expected_cash"].to_numpy() + z * np.sqrt(
        sd0**2 + (0.2 * alone["expected_cash"].to_numpy()) ** 2
    )
    np.testing.assert_allclose(total["cash_high_80"].to_numpy(), want, atol=0.02)


def test_without_a_champion_the_step_is_skipped(setup, tmp_path, mlflow_uri) -> None:
    portfolio, _ = setup
    queue = pd.DataFrame({"debtor_id": pd.array(["C00000"], dtype="string")})
    stage = tmp_path / "stage"
    stage.mkdir()
    out, files = paydate_outputs.fn(stage, Book.in_memory(portfolio, 10**9), AS_OF, queue, None)
    assert files == {} and out is queue and list(stage.iterdir()) == []


def test_score_pass_forecast_equals_the_separate_pass(setup) -> None:
    """The forecast made inside the score pass (``build_bucket(..., at_state=)`` with the ledger and
    as-of state it prepared for the features, as ``score_bucket(..., paydate=)`` does) is the one
    the separate pass (``forecast_book``: every bucket read and prepared again) gives, exactly."""
    from features.engine import build_bucket
    from features.params import DefaultDefinition
    from pipelines.scoring.paydate import combine_forecasts, forecast_state

    portfolio, loaded = setup
    cut = Book.in_memory(portfolio, 1_500)
    separate = forecast_book(cut, AS_OF, loaded)
    parts, calls = [], []
    for k in range(cut.buckets):
        part = cut.read(k)

        def at_state(ledger, state, part=part):
            calls.append(state.T)
            return forecast_state(part.invoices, ledger, state, loaded)

        built = build_bucket(part, [AS_OF], DefaultDefinition(), at_state=at_state)
        parts.extend(built.at_state)
    assert calls == [int(day_number(pd.Timestamp(AS_OF)))] * cut.buckets  # the as-of state, once a bucket
    inside = combine_forecasts(parts, AS_OF, loaded)
    pd.testing.assert_frame_equal(inside.invoices, separate.invoices, check_exact=True)
    pd.testing.assert_frame_equal(inside.cash, separate.cash, check_exact=True)
    pd.testing.assert_series_equal(inside.expected_cash_30d, separate.expected_cash_30d, check_exact=True)
    assert len(inside.invoices) > 100


def test_fine_grid_version_forecast(setup) -> None:
    """A version trained on 2-day periods around the due date (``paydate.fine_days``: the grid is in
    its spec): the nightly takes the quantiles from the grid and the cash from the weekly CDF read
    at the weekly ends, and the buckets still give the whole book."""
    from dataclasses import asdict

    from models.paydate import median_days, weekly_cdf
    from pipelines.config.train import PaydateConfig

    portfolio, _ = setup
    params = PaydateConfig(fine_days=2, fine_after=14, n_estimators=40, min_child_samples=50).to_params(7)
    params = PaydateParams(**{**params.as_record(), "horizon_weeks": 16})
    grid = params.grid()
    assert (grid.days, grid.before, grid.after, grid.anchor) == (2, 7, 14, "due")
    ledger = prepare_ledger(portfolio)
    snaps = [int(day_number(d)) for d in pd.date_range("2024-02-29", "2024-05-31", freq="ME")]
    rows = training_rows(ledger, snaps, int(day_number(pd.Timestamp("2024-06-30"))), 16, grid=grid)
    booster = fit_hazard(rows, params, params.features())
    loaded = LoadedPaydate(
        "ews-paydate", "2", None, "run", booster, list(params.features()), 16, PERIOD_DAYS, grid=asdict(grid)
    )
    assert loaded.fine_grid() == grid
    from pipelines.adapters.paydate_registry import spec_record

    spec = spec_record(list(params.features()), 16, PERIOD_DAYS, grid=asdict(grid))  # what the flow stores
    assert spec["grid"] == {"days": 2, "before": 7, "after": 14, "anchor": "due"}
    assert spec["features"][-2:] == ["period_days", "period_end_day"]
    whole = forecast_book(Book.in_memory(portfolio, 10**9), AS_OF, loaded)
    parts = forecast_book(Book.in_memory(portfolio, 1_500), AS_OF, loaded)
    pd.testing.assert_frame_equal(whole.invoices, parts.invoices)
    from features.ledger import ledger_state
    from features.paydate import open_invoices

    T = int(day_number(pd.Timestamp(AS_OF)))
    inv = open_invoices(ledger, ledger_state(ledger, T))
    F, ends, Fw = weekly_cdf(booster, inv, T, 16, params.features(), grid)
    median = median_days(F, ends)  # the median given paid within the horizon
    ok = ~np.isnan(median)
    got = (whole.invoices["expected_paid_on"].to_numpy()[ok] - np.datetime64(AS_OF)) // np.timedelta64(1, "D")
    np.testing.assert_array_equal(got, median[ok])
    total = whole.cash[whole.cash["segment"] == "all"]["expected_cash"].sum()
    assert total == pytest.approx(float((inv["open_amount"].to_numpy() * Fw[:, 12]).sum()), rel=1e-9)


def test_a_shaped_version_in_the_nightly(setup) -> None:
    """A version with ``interval: shaped`` and its within-week shape (as the train flow stores them in
    ``paydate_spec.json``): the nightly's p10 / p90 are ``interval_days`` of the CDF with that shape and
    each invoice's usual payment day, the buckets give the whole book, every other column is that of
    the same booster read with the rule of before (``first``), and the interval is narrower on
    average."""
    import json

    from features.ledger import ledger_state
    from features.paydate import open_invoices
    from models.paydate import (
        SHAPE_ANCHOR,
        cdf_weeks,
        fit_day_shape,
        interval_days,
        median_days,
        predict_hazards,
    )
    from pipelines.adapters.paydate_registry import spec_record

    portfolio, first = setup
    ledger = prepare_ledger(portfolio)
    snaps = [int(day_number(d)) for d in pd.date_range("2023-12-31", "2024-05-31", freq="ME")]
    shape = fit_day_shape(training_rows(ledger, snaps, int(day_number(pd.Timestamp("2024-06-30"))), 16))
    spec = json.loads(
        json.dumps(spec_record(list(FEATURES), 16, PERIOD_DAYS, interval="shaped", day_shape=shape.tolist()))
    )
    shaped = LoadedPaydate(
        "ews-paydate", "3", None, "run", first.booster, list(FEATURES), 16, PERIOD_DAYS,
        interval=spec["interval"], day_shape=spec["day_shape"],
    )  # fmt: skip
    np.testing.assert_array_equal(shaped.shape(), shape)  # JSON keeps every bit
    whole = forecast_book(Book.in_memory(portfolio, 10**9), AS_OF, shaped)
    parts = forecast_book(Book.in_memory(portfolio, 1_500), AS_OF, shaped)
    pd.testing.assert_frame_equal(whole.invoices, parts.invoices)
    before = forecast_book(Book.in_memory(portfolio, 10**9), AS_OF, first).invoices
    same = [c for c in INVOICE_COLUMNS if c not in ("paid_on_p10", "paid_on_p90")]
    pd.testing.assert_frame_equal(whole.invoices[same], before[same])
    T = int(day_number(pd.Timestamp(AS_OF)))
    inv = open_invoices(ledger, ledger_state(ledger, T))
    F = cdf_weeks(predict_hazards(first.booster, inv, T, 16))
    lo, hi = interval_days(F, None, "shaped", shape, inv[SHAPE_ANCHOR].to_numpy(dtype=np.float64))
    rows = ledger.inv_row[inv["pos"].to_numpy(dtype=np.int64)]
    ids = np.asarray(ledger.invoice_ids.take(rows).to_pandas(), dtype=object)
    order = pd.Index(ids).get_indexer(whole.invoices["invoice_id"].to_numpy(dtype=object))
    assert (order >= 0).all() and len(order) == len(ids)
    for col, want in (("paid_on_p10", lo), ("paid_on_p90", hi)):
        got = (whole.invoices[col] - pd.Timestamp(AS_OF)).dt.days.to_numpy(dtype=np.float64)
        np.testing.assert_array_equal(got, want[order])
    width = (whole.invoices["paid_on_p90"] - whole.invoices["paid_on_p10"]).dt.days
    width0 = (before["paid_on_p90"] - before["paid_on_p10"]).dt.days
    assert width.mean() < width0.mean() and (width < width0).mean() > 0.2
    # with the weekday profile of the median too: expected_paid_on by weekday, p10 <= it <= p90
    profile = np.array([0.3, 0.2, 0.2, 0.15, 0.15, 0.0, 0.0])
    both = LoadedPaydate(
        "ews-paydate", "4", None, "run", first.booster, list(FEATURES), 16, PERIOD_DAYS,
        interval="shaped", day_shape=spec["day_shape"], weekdays=profile.tolist(),
    )  # fmt: skip
    np.testing.assert_array_equal(both.weekday_profile(), profile)
    out = forecast_book(Book.in_memory(portfolio, 10**9), AS_OF, both).invoices
    got = (out["expected_paid_on"] - pd.Timestamp(AS_OF)).dt.days.to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(got, median_days(F, None, profile, T)[order])
    assert (out["expected_paid_on"].dropna().dt.dayofweek < 5).all()  # never on a weekend
    ok = out.dropna(subset=["paid_on_p10", "paid_on_p90"])
    assert (
        (ok["paid_on_p10"] <= ok["expected_paid_on"]) & (ok["expected_paid_on"] <= ok["paid_on_p90"])
    ).all()


@pytest.fixture(scope="module")
def bucket_forecasts(setup):
    """The raw forecast of each bucket of the book cut into 3+ buckets (``forecast_bucket``)."""
    from pipelines.scoring.paydate import forecast_bucket

    portfolio, loaded = setup
    cut = Book.in_memory(portfolio, 1_500)
    return [forecast_bucket(cut, k, pd.Timestamp(AS_OF), loaded) for k in range(cut.buckets)]


@pytest.mark.parametrize("cells,merge", [("arrow", "compiled"), ("arrow", "python"), ("pandas", "compiled")])
def test_streamed_invoice_files_are_the_whole_frames_files(
    setup, bucket_forecasts, tmp_path, monkeypatch, cells, merge
) -> None:
    """``write_invoice_files`` merges the buckets' packed forecasts by debtor one row group at a
    time; its files are byte for byte those pandas' ``to_parquet`` / ``to_csv`` write from the
    whole sorted frame (several row groups, Arrow batches, CSV blocks and runs merged at a time
    here, so every cursor crosses a boundary), also with a line break, a quote, a comma and a
    formula in text cells; with ``cells`` "pandas" the lines come from ``to_csv`` in the workers
    and are formatted again in the flow process; with ``merge`` "python" the CSV runs are copied
    without numba (``pipelines.scoring.runs`` not importable)."""
    import sys

    import pyarrow.parquet as pq

    from pipelines.adapters import exports
    from pipelines.scoring import paydate as P

    _, loaded = setup
    raw = list(bucket_forecasts)
    out, moments = raw[1]
    out = out.copy()
    ids = out["invoice_id"].astype(object)
    ids.iloc[0], ids.iloc[1], ids.iloc[2] = "INV\r\n7", "=HYPERLINK(1)", 'A "B", C'
    out["invoice_id"] = pd.array(ids, dtype="string")
    raw[1] = (out, moments)
    monkeypatch.setattr(P, "ROW_GROUP_ROWS", 100)
    monkeypatch.setattr(P, "BATCH_ROWS", 37)
    monkeypatch.setattr(P, "CSV_BLOCK_BYTES", 700)
    monkeypatch.setattr(P, "MERGE_RUNS", 7)
    if merge == "python":
        monkeypatch.setitem(sys.modules, "pipelines.scoring.runs", None)  # importing it raises ImportError
    whole = P.combine_forecasts(raw, AS_OF, loaded).invoices
    whole = whole.round({c: 4 for c in whole.columns if c.startswith("p_paid_")})
    whole.to_parquet(
        tmp_path / "f.parquet", index=False, compression="zstd", engine="pyarrow", row_group_size=100
    )
    want = "\ufeff" + exports.neutralise(whole).to_csv(index=False, **exports.CSV_FORMAT)
    if cells == "pandas":
        monkeypatch.setattr(exports, "csv_cells", lambda column: None)  # every column through to_csv
    packed = [P.pack_forecast(p) for p in raw]
    assert all((p.csv is None) == (cells == "pandas") for p in packed)
    assert cells == "pandas" or sum(len(p.csv) for p in packed) > len(raw)  # several CSV blocks a bucket
    files = P.write_invoice_files(packed, tmp_path / "new")
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "invoice_forecast.csv",
        "invoice_forecast.parquet",
    ]
    assert (tmp_path / "f.parquet").read_bytes() == files["invoice_forecast.parquet"].read_bytes()
    assert files["invoice_forecast.csv"].read_bytes() == want.encode("utf-8")
    assert len(whole) > 300 and pq.ParquetFile(
        files["invoice_forecast.parquet"]
    ).metadata.num_row_groups == -(-len(whole) // 100)
    assert '"INV\r\n7"' in want and "'=HYPERLINK(1)" in want and '"A ""B"", C"' in want


def test_no_open_invoice_gives_the_empty_files_of_before(setup, bucket_forecasts, tmp_path) -> None:
    """Buckets whose invoices are all paid (forecasts without rows) and a bucket without invoices:
    the two files are the empty ones the whole-frame writers wrote (typed columns, header only)."""
    from pipelines.adapters.exports import write_csv, write_parquet
    from pipelines.scoring import paydate as P

    _, loaded = setup
    raw = [(out.iloc[:0], moments.iloc[:0]) for out, moments in bucket_forecasts[:2]] + [None]
    whole = P.combine_forecasts(raw, AS_OF, loaded).invoices
    assert whole.empty and str(whole["invoice_id"].dtype) == "string"
    files = P.write_invoice_files([P.pack_forecast(p) for p in raw], tmp_path)
    assert (
        write_parquet(whole, tmp_path / "f.parquet").read_bytes()
        == files["invoice_forecast.parquet"].read_bytes()
    )
    assert write_csv(whole, tmp_path / "f.csv").read_bytes() == files["invoice_forecast.csv"].read_bytes()
    assert files["invoice_forecast.csv"].read_bytes().count(b"\r\n") == 1  # the header


def test_forecast_rows_are_those_read_back_from_the_file(
    setup, bucket_forecasts, tmp_path, monkeypatch
) -> None:
    """The report's debtor pages take their invoices' forecast from the packed buckets
    (``forecast_rows``): the rows, order, column types and index that reading
    invoice_forecast.parquet back and filtering it gives, for debtors of several buckets asked out
    of order, an unknown id and no id."""
    from pipelines.report.portfolio import read_run_outputs
    from pipelines.scoring import paydate as P

    monkeypatch.setattr(P, "BATCH_ROWS", 37)  # several Arrow batches a bucket
    packed = [P.pack_forecast(p) for p in bucket_forecasts]
    P.write_invoice_files(packed, tmp_path)
    known = [p.debtors.index for p in packed if p is not None and len(p.rows)]
    assert len(known) >= 3
    pick = [known[2][-1], known[0][0], "nobody", known[1][len(known[1]) // 2], known[0][-1]]
    for ids in (pick, [], ["nobody"]):
        want = read_run_outputs(tmp_path, pd.Index(pd.array(ids, dtype="string")))["invoice_forecast"]
        got = P.forecast_rows(packed, ids)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    got = P.forecast_rows(packed, pick)
    assert got["debtor_id"].nunique() == 4 and got["debtor_id"].is_monotonic_increasing
    assert P.forecast_rows([None, P.pack_forecast(None)], pick) is None  # no rows: the caller reads the file


def test_pay_pd_of_invoices_by_hand() -> None:
    """The chance an open invoice is still unpaid on the day it reaches the default threshold (90 days
    past due), for invoices reaching it within the 90-day horizon; 0 for the others. Day T = 100,
    weekly CDFs over 5 weeks, linear within a week (``models.paydate.cdf_at``)."""
    from pipelines.scoring.paydate import pay_pd_of_invoices

    Fw = np.array(
        [
            [0.1, 0.2, 0.3, 0.4, 0.5],  # due 40: reaches 90 DPD on day 130 = T + 30
            [0.1, 0.2, 0.3, 0.4, 0.5],  # due 105: reaches it at T + 95, after the horizon
            [0.1, 0.2, 0.3, 0.4, 0.5],  # due 5: past 90 DPD already (T + -5)
            [0.25, 0.5, 0.6, 0.7, 0.8],  # due 17: T + 7, the end of week 1
            [
                0.25,
                0.5,
                0.6,
                0.7,
                0.8,
            ],  # due 100: T + 90, the horizon's last day (beyond the CDF: F at its end)
            [0.25, 0.5, 0.6, 0.7, 0.8],  # due 10: T + 0, reached today: not within (T, T + 90]
        ]
    )
    due = np.array([40, 105, 5, 17, 100, 10])
    got = pay_pd_of_invoices(Fw, due, 100, 90, 90)
    # T + 30: week 5 (days 29-35), 2 of 7 days into it: F = 0.4 + 2/7 x (0.5 - 0.4); unpaid = 1 - F
    want = [1 - (0.4 + 2 / 7 * 0.1), 0.0, 0.0, 1 - 0.25, 1 - 0.8, 0.0]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert pay_pd_of_invoices(np.zeros((0, 5)), np.zeros(0, dtype=np.int64), 100, 90, 90).shape == (0,)


def test_pay_pd_honours_min_open_amount() -> None:
    """s36-minopen: an invoice of which at most ``default_definition.min_open_amount`` is open never makes a
    default (features.engine), so its ``pay_pd`` is 0, as the label says. By hand: four invoices of 1,000.00
    due 2024-01-31 (day 19,753), T = 2024-02-29 (day 19,782): each reaches 90 days past due on 04-30, T + 61,
    within the horizon. Received 995.00 (5.00 open), 990.00 (10.00, exactly the threshold), 985.00 (15.00)
    and nothing (1,000.00). Every weekly CDF is 0.5 from week 1 on: unpaid at T + 61 = 1 - 0.5 = 0.5. With a
    threshold of 10: 0, 0, 0.5, 0.5; with 0 (the default): 0.5 each."""
    from features.ledger import ledger_state, prepare_ledger
    from features.params import DefaultDefinition
    from features.paydate import open_invoices
    from pipelines.scoring.paydate import open_invoices_pay_pd
    from tests.features.ledgers import inv, pay, portfolio

    book = portfolio(
        [inv(f"i{k}", f"d{k}", "2024-01-01", "2024-01-31", 1000.0) for k in range(4)],
        [pay(f"p{k}", f"d{k}", "2024-02-10", paid, f"i{k}") for k, paid in enumerate((995.0, 990.0, 985.0))],
    )
    ledger = prepare_ledger(book)
    T = int(day_number(pd.Timestamp("2024-02-29")))
    rows = open_invoices(ledger, ledger_state(ledger, T))
    ids = ledger.debtor_ids[rows["code"].to_numpy(dtype=np.int64)].tolist()
    assert ids == ["d0", "d1", "d2", "d3"] and rows["open_amount"].tolist() == [5.0, 10.0, 15.0, 1000.0]
    Fw = np.full((4, 20), 0.5)
    got = open_invoices_pay_pd(Fw, rows, T, DefaultDefinition(min_open_amount=10.0))
    np.testing.assert_allclose(got, [0.0, 0.0, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(open_invoices_pay_pd(Fw, rows, T, DefaultDefinition()), [0.5] * 4, atol=1e-12)


def test_pay_pd_per_debtor_in_the_queue() -> None:
    """A debtor's ``pay_pd`` is the largest over its open invoices (packed per bucket); the queue
    column is rounded to 4 places, 0 for a debtor without open invoices; the other columns as before."""
    from pipelines.scoring.paydate import pack_forecast, pay_pd_by_debtor, with_expected_cash

    inv = pd.DataFrame(
        {
            "invoice_id": pd.array(["I2", "I1", "I3"], dtype="string"),
            "debtor_id": pd.array(["D1", "D1", "D2"], dtype="string"),
            "open_amount": [100.0, 50.0, 10.0],
            "currency": pd.array(["EUR"] * 3, dtype="string"),
            "due_date": pd.to_datetime(["2024-06-01"] * 3),
            **{c: [pd.NaT] * 3 for c in ("expected_paid_on", "paid_on_p10", "paid_on_p90")},
            **{c: [0.5] * 3 for c in ("p_paid_30d", "p_paid_60d", "p_paid_90d", "p_paid_in_horizon")},
            "segment": pd.array(["retail"] * 3, dtype="string"),
            "expected_cash_30d": [10.0, 5.0, 1.0],
            "pay_pd": [0.123456, 0.7, 0.0],
        }
    )
    moments = pd.DataFrame(columns=["week", "segment", "expected_cash", "variance", "invoices"])
    packed = pack_forecast((inv, moments))
    assert packed.pay_pd.to_dict() == {"D1": 0.7, "D2": 0.0}
    without = pack_forecast((inv.drop(columns="pay_pd"), moments))
    assert without.pay_pd is None and pay_pd_by_debtor([without, None]) is None
    assert without.table == packed.table and without.csv == packed.csv  # invoice_forecast unchanged
    per = pay_pd_by_debtor([packed, None])
    queue = pd.DataFrame({"debtor_id": pd.array(["D2", "D1", "D9"], dtype="string"), "rank": [1, 2, 3]})
    out = with_expected_cash(queue, packed.debtors, per)
    assert out.columns.tolist() == ["debtor_id", "rank", "expected_cash_30d", "pay_pd"]
    assert out["pay_pd"].tolist() == [0.0, 0.7, 0.0] and out["expected_cash_30d"].tolist() == [1.0, 15.0, 0.0]
    per = pd.Series([0.123456], index=pd.Index(["D1"], dtype="string"))
    assert with_expected_cash(queue, packed.debtors, per)["pay_pd"].tolist() == [0.0, 0.1235, 0.0]
    assert "pay_pd" not in with_expected_cash(queue, packed.debtors).columns


def test_pay_pd_in_the_score_pass(setup) -> None:
    """The score pass's ``pay_pd`` per debtor is :func:`pay_pd_of_invoices` on the model's weekly CDF
    of each open invoice, the largest per debtor, whole book or cut into buckets alike."""
    from features.ledger import ledger_state
    from features.params import DefaultDefinition
    from features.paydate import open_invoices
    from models.paydate import weekly_cdf
    from pipelines.scoring.paydate import forecast_state, pack_forecast, pay_pd_by_debtor, pay_pd_of_invoices

    portfolio, loaded = setup
    definition = DefaultDefinition(dpd_threshold=60, horizon_days=90)
    T = int(day_number(pd.Timestamp(AS_OF)))
    ledger = prepare_ledger(portfolio)
    state = ledger_state(ledger, T)
    inv = open_invoices(ledger, state)
    _, _, Fw = weekly_cdf(loaded.booster, inv, T, loaded.horizon_weeks, loaded.features, loaded.fine_grid())
    each = pay_pd_of_invoices(Fw, inv["due"].to_numpy(), T, 60, 90)
    ids = pd.array(ledger.debtor_ids[inv["code"].to_numpy(dtype=np.int64)], dtype="string")
    want = pd.Series(each).groupby(pd.Series(ids)).max()
    assert (want > 0.05).sum() > 5 and (want < 0.01).sum() > 5
    cut = Book.in_memory(portfolio, 1_500)
    packed = []
    for k in range(cut.buckets):
        part = cut.read(k)
        led = prepare_ledger(part)
        packed.append(
            pack_forecast(forecast_state(part.invoices, led, ledger_state(led, T), loaded, definition))
        )
    got = pay_pd_by_debtor(packed)
    np.testing.assert_allclose(got.to_numpy(), want.reindex(got.index).to_numpy(), rtol=1e-12)
    assert got.index.tolist() == sorted(want.index.tolist())


def test_gather_runs_by_hand() -> None:
    """Runs copied out of a buffer in run order: b"abcdef", (start, size) (4, 2), (0, 1), (2, 0),
    (1, 3) -> b"ef" + b"a" + b"" + b"bcd"."""
    from pipelines.scoring.runs import gather_runs

    src = np.frombuffer(b"abcdef", dtype=np.uint8)
    got = gather_runs(src, np.array([4, 0, 2, 1]), np.array([2, 1, 0, 3]))
    assert got.tobytes() == b"efabcd"


def test_cash_forecast_amounts_in_the_currencys_decimals(setup, bucket_forecasts, tmp_path) -> None:
    """cash_forecast.csv writes its three amounts with the reporting currency's decimals: whole yen for
    JPY (312aa57; s29-review's V15, 2 decimals for JPY, survived every test), 3 for KWD, 2 for EUR. Each
    cell is the combined forecast's exact amount rounded half to even (numpy) at those decimals."""
    from pipelines.scoring import paydate as P

    _, loaded = setup
    exact = P.combine_forecasts(list(bucket_forecasts), AS_OF, loaded).cash
    amounts = ["expected_cash", "cash_low_80", "cash_high_80"]
    assert (exact[amounts] % 1).abs().gt(0.01).any().all()  # not whole already: rounding shows
    packed = [P.pack_forecast(p) for p in bucket_forecasts]
    for currency, places in (("JPY", 0), ("KWD", 3), ("EUR", 2)):
        (tmp_path / currency).mkdir()
        files = P.payment_date_files.fn(tmp_path / currency, AS_OF, loaded, packed, currency).files
        text = pd.read_csv(files["cash_forecast.csv"], encoding="utf-8-sig", dtype=str)
        assert len(text) == len(exact) > 13 and text["currency"].eq(currency).all()
        for c in amounts:
            want = exact[c].to_numpy().round(places)
            np.testing.assert_array_equal(text[c].astype(float).to_numpy(), want)
            assert not text[c].str.contains(rf"\.\d{{{places + 1}}}").any()
            if places == 0:
                assert not text[c].str.contains(".", regex=False).any(), (c, text[c].head(3).tolist())
