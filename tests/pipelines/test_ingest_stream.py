"""The streamed ingest (bounded memory, by chunk and debtor partition) writes what the in-memory
ingest writes: same bucket files, quarantine, FX tables and manifest, on a small dirty book cut
into many chunks and partitions, including the defects whose rows span partitions."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.adapters.files import bucket_codes, read_portfolio
from pipelines.config.project import CurrencyConfig
from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source

AS_OF = dt.date(2024, 6, 30)
FX = CurrencyConfig(reporting="EUR", rates={"USD": 0.5})


def _dirty_book(folder: Path) -> dict[str, Path]:
    """40 debtors, 240 invoices, ~200 payments (CSV), with defects of every kind that needs the
    whole book: ids repeated across debtors, payments naming another debtor's invoice, overpaid
    invoices, unknown references, a quarantined debtor, a malformed line, several currencies."""
    rng = np.random.default_rng(12)
    debtors = pd.DataFrame(
        {
            "debtor_id": [f"D{i:02d}" for i in range(40)],
            "name": [f"Firm {i}" for i in range(40)],
            "segment": "retail",
            "country": ["DE"] * 38 + ["Germany", "FR"],  # D38: bad country (cleared)
            "credit_limit": "1000",
            "onboarded_on": "2023-01-01",
        }
    )
    debtors.loc[40] = ["D39", "Firm 39 bis", "retail", "FR", "1000", "2023-01-01"]  # D39 twice: rejected
    n = 240
    issue = pd.Timestamp("2023-06-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"I{i:03d}" for i in range(n)],
            "debtor_id": [f"D{i:02d}" for i in rng.integers(0, 40, n)],
            "issue_date": issue.strftime("%Y-%m-%d"),
            "due_date": (issue + pd.Timedelta(days=30)).strftime("%Y-%m-%d"),
            "amount": np.round(rng.uniform(50, 500, n), 2).astype(str),
            "currency": np.where(rng.random(n) < 0.2, "USD", "EUR"),
            "disputed": "false",
        }
    )
    invoices.loc[5, "currency"] = "CHF"  # no rate: no_fx_rate:CHF
    invoices.loc[7, "invoice_id"] = "I003"  # I003 twice (two debtors, most likely)
    invoices.loc[8, "amount"] = "-3"
    invoices.loc[9, "debtor_id"] = "D99"  # unknown debtor
    invoices = pd.concat([invoices, invoices.iloc[[10]]], ignore_index=True)  # an exact duplicate row
    pay = invoices.drop_duplicates("invoice_id").sample(200, random_state=3).reset_index(drop=True)
    payments = pd.DataFrame(
        {
            "payment_id": [f"P{i:03d}" for i in range(len(pay))],
            "debtor_id": pay["debtor_id"],
            "invoice_id": pay["invoice_id"],
            "paid_on": (pd.to_datetime(pay["issue_date"]) + pd.Timedelta(days=20)).dt.strftime("%Y-%m-%d"),
            "amount": pay["amount"],
        }
    )
    other = [d for d in debtors["debtor_id"] if d != payments.loc[0, "debtor_id"]]
    payments.loc[0, "debtor_id"] = other[0]  # debtor mismatch: the invoice is another debtor's
    payments.loc[1, "debtor_id"] = other[1]
    payments.loc[1, "invoice_id"] = "I003"  # names a duplicated invoice id: invoice_quarantined
    payments.loc[2, "invoice_id"] = "I999"  # unknown invoice
    payments.loc[3, "amount"] = str(float(payments.loc[3, "amount"]) * 3)  # settles, the excess on account
    payments.loc[4, "invoice_id"] = None  # unallocated cash
    payments.loc[5, "payment_id"] = "P006"  # payment id twice
    payments.loc[6, "invoice_id"] = "I008"  # the invoice with a negative amount
    cols = ["debtor_id", "invoice_id", "paid_on", "amount"]
    payments.loc[7, cols] = payments.loc[3, cols]  # P003's invoice paid again: overpays_invoice
    files = {}
    for name, frame in (("debtors", debtors), ("invoices", invoices), ("payments", payments)):
        files[name] = folder / f"{name}.csv"
        frame.to_csv(files[name], index=False)
    return files


def _damaged(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """The same book with a malformed invoice line (one field too many): that CSV is read whole."""
    out = dict(files, invoices=folder / "invoices.csv")
    lines = files["invoices"].read_text().splitlines()
    lines.insert(20, lines[20] + ",extra")
    out["invoices"].write_text("\n".join(lines) + "\n")
    return out


def _parquet(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    out = {}
    for table, path in files.items():
        out[table] = folder / f"{table}.parquet"
        pd.read_csv(path, dtype=str, keep_default_na=False).to_parquet(out[table], index=False)
    return out


def _outputs(out: Path) -> dict[str, bytes]:
    found = {}
    for path in sorted(out.rglob("*")):
        rel = str(path.relative_to(out))
        if path.is_file() and not rel.startswith("data_docs"):
            data = path.read_bytes()
            if rel == "manifest.json":
                manifest = json.loads(data)
                for table in manifest["tables"].values():
                    table["validation"].pop("chunks")  # Great Expectations batches: one per partition
                data = json.dumps(manifest, indent=1).encode()
            found[rel] = data
    return found


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, dict[str, Path]]:
    clean = _dirty_book(tmp_path_factory.mktemp("clean"))
    return {
        "csv": clean,
        "damaged_csv": _damaged(clean, tmp_path_factory.mktemp("damaged")),
        "parquet": _parquet(clean, tmp_path_factory.mktemp("parquet")),
    }


@pytest.fixture(scope="module")
def book(books) -> dict[str, Path]:
    return books["damaged_csv"]


def _ingest(files: dict[str, Path], out: Path, bucket_rows: int, **stream) -> dict:
    rules = RulesConfig(data_docs=False, bucket_rows=bucket_rows, refuse_empty_table_rows=10**6)
    source = SourceConfig(name="files", rules=rules, tables={t: FileSource(path=p) for t, p in files.items()})
    return ingest_source(source, out, as_of=AS_OF, currency=FX, **stream).manifest


@pytest.mark.parametrize(
    ("kind", "bucket_rows", "chunk_rows", "partitions"),
    [
        ("damaged_csv", 10**6, 7, 5),  # one output bucket, five spill partitions: buckets re-cut
        ("csv", 150, 11, 4),  # CSV read in blocks; four partitions re-cut into three buckets
    ],
)
def test_streamed_ingest_writes_the_same_bytes(
    books: dict[str, dict[str, Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    bucket_rows: int,
    chunk_rows: int,
    partitions: int | None,
) -> None:
    from pipelines.ingest.stream import StreamRun

    book = books[kind]
    seen: dict[str, list] = {"fused": [], "recheck": []}
    fused, recheck = StreamRun.fused, StreamRun._recheck

    def record_fused(self, *args):
        got = fused(self, *args)
        seen["fused"].append(None if got is None else sorted(got[1]))
        return got

    def record_recheck(self, table, p):
        seen["recheck"].append((table, p))
        return recheck(self, table, p)

    monkeypatch.setattr(StreamRun, "fused", record_fused)
    monkeypatch.setattr(StreamRun, "_recheck", record_recheck)
    whole = _ingest(book, tmp_path / "whole", bucket_rows, stream=False)
    streamed = _ingest(
        book,
        tmp_path / "streamed",
        bucket_rows,
        stream=True,
        chunk_rows=chunk_rows,
        partitions=partitions,
        workers=2,  # partitions validated and finished in two forked processes
    )
    assert _outputs(tmp_path / "streamed") == _outputs(tmp_path / "whole")
    # validated and finished in one pass (the reporting currency is configured), but for the
    # partitions whose payments name invoices of another partition (finished after the lookup)
    finished = {"damaged_csv": [1, 4], "csv": [3]}[kind]
    assert seen["fused"] == [finished]
    # csv: the invoice a payment of another debtor names is in partition 3, finished in the one
    # pass: its invoices and debtors were checked again from the raw rows for the lookup
    assert seen["recheck"] == ([("invoices", 3), ("debtors", 3)] if kind == "csv" else [])
    assert not list((tmp_path / "streamed").glob(".spill-*")) and not list(
        (tmp_path / "streamed").glob(".staging*")
    )
    reasons = whole["tables"]["payments"]["reasons"] | whole["tables"]["invoices"]["reasons"]
    for reason in (
        "debtor_mismatch",
        "invoice_quarantined",
        "unknown_invoice",
        "overpays_invoice",
        "duplicate_id:invoice_id",
        "duplicate_id:payment_id",
        "duplicate_row",
        "unknown_debtor",
        "debtor_quarantined",
        "no_fx_rate:CHF",
    ):
        assert reason in reasons, reason  # the book holds the defect the comparison is about
    assert ("malformed_row" in reasons) == (kind == "damaged_csv")
    assert whole["tables"]["debtors"]["values_cleared"]["country"]["rows"] == 1
    assert whole["currency"]["converted_rows"]["invoices"] > 0
    assert streamed["layout"]["buckets"] == whole["layout"]["buckets"]
    n = whole["layout"]["buckets"]
    if n > 1:
        for k in range(n):
            frame = read_portfolio(tmp_path / "streamed", bucket=k).invoices
            assert (bucket_codes(frame["debtor_id"], n) == k).all()


def test_two_worker_processes_write_the_bytes_of_one(
    books: dict[str, dict[str, Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks routed, partitions validated and finished in two forked processes give the files of
    one process, manifest included (same partitions, so the same Great Expectations batch count);
    the calls did run in other processes. Parquet files of 50-row row groups, chunks of 100 rows:
    3 invoice chunks, 2 payment chunks, read by the workers."""
    import os

    import pyarrow.parquet as pq

    from pipelines.ingest.stream import StreamRun

    book = {}
    for table, path in books["parquet"].items():
        book[table] = tmp_path / f"{table}.parquet"
        pq.write_table(pq.read_table(path), book[table], row_group_size=50)
    calls = tmp_path / "pids"
    for method in ("_route_piece", "_validate_part", "_finish_part"):
        original = getattr(StreamRun, method)

        def record(self, p, _original=original, _method=method):
            (calls / f"{_method}-{p}-{os.getpid()}").touch()
            return _original(self, p)

        monkeypatch.setattr(StreamRun, method, record)
    outs = {}
    for workers in (1, 2):
        calls.mkdir()
        out = tmp_path / f"workers{workers}"
        _ingest(book, out, 150, stream=True, chunk_rows=100, partitions=2, workers=workers)
        outs[workers] = {
            str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*")) if f.is_file()
        }
        done = sorted(f.name.rsplit("-", 1)[0] for f in calls.iterdir())
        pids = {int(f.name.rsplit("-", 1)[1]) for f in calls.iterdir()}
        shutil.rmtree(calls)
        if workers == 1:
            assert pids == {os.getpid()} and not any(d.startswith("_route_piece") for d in done)
        else:
            assert os.getpid() not in pids, pids
            # 241 invoice rows in row groups of 50: chunks of 100, 100, 41; 200 payments: 100, 100
            assert [d for d in done if d.startswith("_route_piece")] == [
                "_route_piece-0",
                "_route_piece-0",
            ] + [
                "_route_piece-1",
                "_route_piece-1",
                "_route_piece-2",
            ]
        assert [d for d in done if not d.startswith("_route")] == [
            "_finish_part-0",
            "_finish_part-1",
            "_validate_part-0",
            "_validate_part-1",
        ]
    assert outs[2] == outs[1]
    assert {"manifest.json", "quarantine/invoices.csv", "fx/invoices.csv"} <= set(outs[1])
    # ~440 accepted ledger rows at bucket_rows 150: the 2 partitions re-cut into 3 buckets, 3 tables
    assert sum(1 for name in outs[1] if name.endswith(".parquet")) == 3 * 3
    manifest = json.loads(outs[1]["manifest.json"])
    invoices = manifest["tables"]["invoices"]
    assert invoices["validation"]["chunks"] == 2  # one GX batch per partition
    assert (
        invoices["rows_in"] == 241 == invoices["rows_accepted"] + invoices["rows_quarantined"]
    )  # 240 + a copy


def test_the_defects_span_partitions(book: dict[str, Path]) -> None:
    """The mismatched payment and the repeated invoice id involve debtors of different partitions
    (of 5), so the streamed run had to look across partitions to match the in-memory one."""
    inv = pd.read_csv(book["invoices"], on_bad_lines="skip", dtype=str)
    pay = pd.read_csv(book["payments"], dtype=str)
    twice = inv.loc[inv["invoice_id"] == "I003", "debtor_id"]
    assert len(set(bucket_codes(twice, 5))) == 2
    owner = inv.set_index("invoice_id")["debtor_id"].groupby(level=0).first()
    mismatch = pay.iloc[0]
    assert len(set(bucket_codes(pd.Series([mismatch["debtor_id"], owner[mismatch["invoice_id"]]]), 5))) == 2


def test_parquet_and_a_clean_csv_are_read_in_chunks_and_a_damaged_csv_is_not(
    books: dict[str, dict[str, Path]],
) -> None:
    from pipelines.ingest.sources import NotStreamable, chunk_loaders

    def chunks(files: dict[str, Path]) -> list[int]:
        source = SourceConfig(name="files", tables={t: FileSource(path=p) for t, p in files.items()})
        loaders, _blocks, _whole = chunk_loaders(source, 50)
        return [len(c["invoices"].frame) for c in loaders["tables.invoices"]()]

    for kind in ("csv", "parquet"):
        sizes = chunks(books[kind])
        assert len(sizes) > 2 and sum(sizes) == 241, kind
    with pytest.raises(NotStreamable):
        chunks(books["damaged_csv"])


def test_a_killed_worker_process_is_one_line_and_publishes_nothing(
    books: dict[str, dict[str, Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker process that dies (the OOM killer, kill -9) while it validates a debtor partition:
    `ews ingest` says so in one line with the setting to change (exit 2, no traceback), and the
    output folder of the previous ingest is left exactly as it was. (The next ingest clearing the
    staging folder is tested in test_hostile_s4.py.) Two debtor partitions: 300 ledger rows each."""
    import os

    import yaml
    from typer.testing import CliRunner

    import pipelines.ingest as ingest_pkg
    from pipelines.cli import app
    from pipelines.ingest.stream import StreamRun

    parent = os.getpid()
    original = StreamRun._validate_part

    def dies_in_a_worker(self, p):
        if os.getpid() != parent:
            os._exit(137)  # as a SIGKILL'd process would, without a result
        return original(self, p)

    source = tmp_path / "source.yaml"
    source.write_text(
        yaml.safe_dump(
            {
                "kind": "source",
                "name": "files",
                "default_currency": "EUR",
                "tables": {t: {"path": str(p)} for t, p in books["parquet"].items()},
                "rules": {"data_docs": False, "bucket_rows": 300, "refuse_empty_table_rows": 10**6},
            }
        )
    )
    project = tmp_path / "ews.yaml"
    conf = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf" / "ews.yaml").read_text())
    conf["compute"]["ingest_workers"] = 2
    conf["currency"] = {"reporting": "EUR", "rates": {"USD": 0.5}}
    project.write_text(yaml.safe_dump(conf))
    out = tmp_path / "out"
    args = ["ingest", "--source", str(source), "--as-of", AS_OF.isoformat(), "--out", str(out)]
    args += ["--project-config", str(project)]
    monkeypatch.setattr(ingest_pkg, "STREAM_ROWS", 0)  # this small book takes the streamed path
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    before = _outputs(out)
    monkeypatch.setattr(StreamRun, "_validate_part", dies_in_a_worker)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    text = " ".join(result.output.split())
    assert "an ingest worker process died" in text and "compute.ingest_workers: 1" in text, text
    assert "nothing was published" in text
    assert _outputs(out) == before


def test_padding_lines_of_delimiters_only_stream_as_the_whole_read(
    books: dict[str, dict[str, Path]], tmp_path: Path
) -> None:
    """Lines of delimiters only (`,,,,,,`: Excel's padding rows), one inside the CSV and two at its
    end, are blank lines for the whole-file read (counted as repairs.empty_record); the streamed
    read gave them as rows of empty cells (3 more quarantined rows, other bytes) before the fix."""
    lines = books["csv"]["invoices"].read_text().splitlines()
    padded = dict(books["csv"], invoices=tmp_path / "invoices.csv")
    padded["invoices"].write_text("\n".join([*lines[:50], ",,,,,,", *lines[50:], ",,,,,,", ",,,,,,"]) + "\n")
    whole = _ingest(padded, tmp_path / "whole", 150, stream=False)
    _ingest(padded, tmp_path / "streamed", 150, stream=True, chunk_rows=60, partitions=2, workers=2)
    assert _outputs(tmp_path / "streamed") == _outputs(tmp_path / "whole")
    invoices = whole["tables"]["invoices"]
    assert invoices["repairs"] == {"empty_record": 3}
    assert invoices["rows_in"] == 241 == invoices["rows_accepted"] + invoices["rows_quarantined"]


def test_route_spills_each_id_once_by_id_partition_in_input_order(tmp_path: Path) -> None:
    """Step 1's id spill: every invoice id of a chunk goes to id partition hash(id) % P, once, in
    input order, with its debtor partition; a row without an id goes nowhere. Expected groups
    written out by hand from the hashes (a plain loop over the rows)."""
    from pipelines.ingest.sources import RawTable
    from pipelines.ingest.stream import Spill, StreamRun

    ids = ["I7", "I3", None, "I12", "I3", "I0", "I9", "I44", "I5", "I1", "I8", "I21"]  # I3 twice
    debtors = ["D1", "D2", "D2", "D3", "D4", "D1", "D5", "D6", "D2", "D7", "D8", "D3"]
    frame = pd.DataFrame({"invoice_id": ids, "debtor_id": debtors}, dtype="string")
    raw = RawTable("invoices", frame, np.arange(12), tmp_path / "invoices.csv", None)
    run = StreamRun(None, tmp_path, Spill(tmp_path / "spill"), 3, 100, None, {}, AS_OF, FX, print, print)
    parts = run._route_rows("invoices", raw, 20, 0)
    owner = bucket_codes(frame["debtor_id"], 3)
    assert parts == set(owner.tolist())
    hashed = [_fnv1a_splitmix(i or "") for i in ids]
    expected: dict[int, list[tuple[str, int]]] = {}
    for i, value in enumerate(ids):
        if value is not None:
            expected.setdefault(hashed[i] % 3, []).append((value, int(owner[i])))
    assert sorted(expected) == [0, 1, 2]  # the 11 ids fill all three id partitions
    got = {}
    for q in range(3):
        (piece,) = run.spill.pieces(("ids", "invoices", q, 0))
        got[q] = list(zip(piece["id"].to_pylist(), piece["p"].tolist(), strict=True))
        assert piece["hash"].tolist() == [hashed[ids.index(v)] for v, _ in got[q]]
    assert got == expected
    assert sum(len(v) for v in got.values()) == 11
    run.spill.close()


def test_the_currency_plan_read_while_routing(tmp_path: Path) -> None:
    """The plan a fused pass assumes, from the invoices' distinct currency cells (parsed as the
    validation parses them: trimmed, upper case, the euro sign, the default for empty cells); none
    when it depends on the accepted rows per currency (several, no reporting currency configured)."""
    from pipelines.ingest.currency import CurrencyPlan
    from pipelines.ingest.stream import Spill, StreamRun, TableState

    def plan(
        cells: list | None, default: str | None = None, fx: CurrencyConfig | None = None, table="invoices"
    ):
        source = SourceConfig(
            name="files", default_currency=default, tables={"invoices": FileSource(path=tmp_path / "i.csv")}
        )
        run = StreamRun(
            source,
            tmp_path,
            Spill(tmp_path / f"s{len(seen)}"),
            2,
            10,
            None,
            {},
            AS_OF,
            fx or CurrencyConfig(),
            print,
            print,
        )
        texts = [] if cells is None else [pd.Series(cells, dtype="string")]
        run.states[table] = TableState(table, None, pd.DataFrame(), currencies=texts)
        seen.append(run)
        return run.assumed_plan()

    seen: list = []
    assert plan(["eur", " EUR", "€", None]) == CurrencyPlan("EUR", "single", frozenset({"EUR"}))
    assert plan(["EUR", "usd"]) is None  # the most invoices decide
    assert plan(["EUR", "usd"], fx=FX) == CurrencyPlan("EUR", "config", frozenset({"EUR", "USD"}))
    assert plan([None, "EUR"], default="CHF") == CurrencyPlan(
        "CHF", "default_currency", frozenset({"CHF", "EUR"})
    )
    assert plan(None) == CurrencyPlan(None, "none", frozenset())  # no currency column
    assert plan(["EUR"], table="payments") == CurrencyPlan(None, "no invoices", frozenset())
    for run in seen:
        run.spill.close()


@pytest.mark.parametrize(
    ("amounts", "currencies", "chosen_by", "fused_pass"),
    [
        # the only EUR invoice is rejected (amount -5), the accepted ones have no currency: the routed
        # cells say one currency (EUR, "single"), the accepted rows say none ("none": the empty cells
        # stay empty, where "single" would fill them with EUR): the pass is tried and dropped
        (("-5", "100", "50"), ("EUR", "", ""), "none", [None]),
        # two currencies and no reporting currency configured: the invoices accepted per currency
        # choose it (EUR, most invoices; USD without a rate is quarantined): never tried
        (("80", "100", "50"), ("EUR", "USD", "EUR"), "most_invoices", []),
    ],
)
def test_an_unknown_or_wrong_currency_plan_is_validated_in_two_passes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    amounts: tuple[str, ...],
    currencies: tuple[str, ...],
    chosen_by: str,
    fused_pass: list,
) -> None:
    """When the currency plan cannot be told while routing, or the validated rows give another one,
    the partitions are validated in two passes: the files of the in-memory ingest."""
    from pipelines.ingest.stream import StreamRun

    (tmp_path / "in").mkdir()
    files = {"invoices": tmp_path / "in" / "invoices.csv", "payments": tmp_path / "in" / "payments.csv"}
    rows = [
        f"I{i + 1},D{i},2024-01-0{i + 2},2024-02-0{i + 1},{a},{c}\n"
        for i, (a, c) in enumerate(zip(amounts, currencies, strict=True))
    ]
    files["invoices"].write_text("invoice_id,debtor_id,issue_date,due_date,amount,currency\n" + "".join(rows))
    files["payments"].write_text(
        "payment_id,debtor_id,invoice_id,paid_on,amount\nP1,D1,I2,2024-02-10,100\nP2,D2,I3,2024-02-11,50\n"
    )
    seen: dict[str, list] = {"fused": [], "validate": []}
    fused, validate = StreamRun.fused, StreamRun.validate

    def record_fused(self, *args):
        got = fused(self, *args)
        seen["fused"].append(got)
        return got

    def record_validate(self, *args):
        seen["validate"].append(True)
        return validate(self, *args)

    monkeypatch.setattr(StreamRun, "fused", record_fused)
    monkeypatch.setattr(StreamRun, "validate", record_validate)
    rules = RulesConfig(data_docs=False, bucket_rows=10**6, refuse_empty_table_rows=10**6)
    source = SourceConfig(name="files", rules=rules, tables={t: FileSource(path=p) for t, p in files.items()})
    whole = ingest_source(source, tmp_path / "whole", as_of=AS_OF, stream=False).manifest
    ingest_source(
        source, tmp_path / "streamed", as_of=AS_OF, stream=True, chunk_rows=2, partitions=2, workers=1
    )
    assert _outputs(tmp_path / "streamed") == _outputs(tmp_path / "whole")
    assert whole["currency"]["chosen_by"] == chosen_by
    assert seen == {"fused": fused_pass, "validate": [True]}  # validated in two passes, once
    assert not list((tmp_path / "streamed").glob(".spill-*"))


def test_rows_kept_in_memory_are_chunked_as_the_spill_gives_them_back() -> None:
    """A fused pass writes typed rows that were never pickled: their Arrow columns must come in one
    chunk, as unpickled ones do, or a bucket file's pages (cut per chunk) and so its bytes differ."""
    import pickle

    from pipelines.ingest.stream import _as_spilled

    ids = pd.concat(
        [pd.Series(["a", "b"], dtype="string"), pd.Series(["c"], dtype="string")], ignore_index=True
    )
    frame = pd.DataFrame({"invoice_id": ids, "amount": [1.0, 2.0, 3.0]})
    assert frame["invoice_id"].array._pa_array.num_chunks == 2
    got = _as_spilled(frame)
    back = pickle.loads(pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL))
    assert got["invoice_id"].array._pa_array.num_chunks == 1 == back["invoice_id"].array._pa_array.num_chunks
    assert got["invoice_id"].tolist() == ["a", "b", "c"] and got["invoice_id"].dtype == ids.dtype
    pd.testing.assert_frame_equal(got, back)


def _fnv1a_splitmix(text: str) -> int:
    """The id spill's hash written out in plain Python: FNV-1a over the UTF-8 bytes, splitmix64 finish."""
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & mask
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & mask
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & mask
    return h ^ (h >> 31)


def test_id_hashes_are_fnv1a_with_a_splitmix_finish() -> None:
    """The compiled hash gives what the plain loop gives, for Arrow strings of either offset width,
    sliced or in chunks, with empty and non-ASCII texts; ids that differ by one byte differ."""
    import pyarrow as pa

    from pipelines.ingest.idhash import id_hashes

    texts = ["", "I1", "I2", "INV-000123", "Ä-7", "I1 "]
    expected = [_fnv1a_splitmix(t) for t in texts]
    for typ in (pa.string(), pa.large_string()):
        arr = pa.array(["x", *texts], type=typ).slice(1)
        assert id_hashes(arr).tolist() == expected
        assert id_hashes(pa.chunked_array([arr[:2], arr[2:]])).tolist() == expected
    assert len(set(expected)) == len(texts)


@pytest.mark.parametrize("how", ["hash", "dictionary", "every hash the same"])
def test_duplicate_rows_by_id_hash_are_those_of_the_dictionary_codes(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exact duplicate rows of a table keyed by one id (first copy kept) are the same whether the
    key is grouped by its hash or by Arrow's dictionary codes, and when every hash collides (the
    candidates are compared exactly); repeated nulls and empty texts are rows like others."""
    import pipelines.ingest.rules as rules

    if how == "dictionary":
        monkeypatch.setattr(rules, "HASHED_KEY_ROWS", 10**9)
        monkeypatch.setattr(rules, "hash_compiled", lambda: False)
    else:
        monkeypatch.setattr(rules, "HASHED_KEY_ROWS", 0)
    if how == "every hash the same":
        monkeypatch.setattr(rules, "id_hashes", lambda ids: np.zeros(len(ids), dtype=np.uint64))
    frame = pd.DataFrame(
        {
            "invoice_id": pd.array(["A", "B", "A", "A", None, None, "", "", "C", "B"], dtype="string"),
            "amount": [1.0, 2.0, 1.0, 3.0, 5.0, 5.0, 7.0, 7.0, 9.0, 2.5],
        }
    )
    # row 2 repeats row 0; row 5 repeats row 4 (null id); row 7 repeats row 6 (empty id); rows 3
    # and 9 share an id with an earlier row but not the amount
    expected = [False, False, True, False, False, True, False, True, False, False]
    assert rules._duplicate_rows(frame, ("invoice_id",)).tolist() == expected


def test_repeated_texts_give_every_null_the_same_hash() -> None:
    """Null slots whose bytes differ (Arrow does not define them) still count as one repeated
    value; a text found once is no candidate."""
    import pyarrow as pa

    from pipelines.ingest.rules import _repeated_texts

    validity = pa.py_buffer(bytes([0b11001]))  # rows 1 and 2 null, over the bytes "y" and "z"
    offsets = pa.py_buffer(np.array([0, 1, 2, 3, 4, 5], dtype=np.int32).tobytes())
    arr = pa.Array.from_buffers(pa.string(), 5, [validity, offsets, pa.py_buffer(b"xyzwx")], null_count=2)
    assert arr.to_pylist() == ["x", None, None, "w", "x"]
    assert _repeated_texts(arr).tolist() == [0, 1, 2, 4]
    assert _repeated_texts(pa.array(["a", None, "b"])).tolist() == []


def test_accepted_positions_from_the_first_invoice_row_are_those_of_a_lookup() -> None:
    """A payment's accepted invoice found from its first invoice row with the id (the fused pass's
    lookup) is the one a lookup among the accepted invoices gives: a first copy that is rejected
    leads to a later accepted copy; a rejected id, an unknown id and no id give -1."""
    from pipelines.ingest.masks import index_in
    from pipelines.ingest.rules import _accepted_positions

    inv_ids = pd.Series(["A", "B", "A", "C", None, "D", "B"], dtype="string")
    inv_ok = np.array([False, True, True, True, False, False, False])  # the first A is rejected
    accepted = np.flatnonzero(inv_ok)  # rows 1 (B), 2 (A), 3 (C)
    pay_ids = pd.Series(["A", "B", "C", "D", "E", None, "A"], dtype="string")
    first = index_in(pay_ids, inv_ids)
    first[pay_ids.isna().to_numpy()] = -1
    assert first.tolist() == [0, 1, 3, 5, -1, -1, 0]
    got = _accepted_positions(first, inv_ok, accepted, pay_ids, inv_ids)
    # A -> accepted row 2 (position 1 among the accepted), B -> row 1 (0), C -> row 3 (2), D only
    # rejected, E unknown, no id
    assert got.tolist() == [1, 0, 2, -1, -1, -1, 1]
    assert got.tolist() == index_in(pay_ids, inv_ids.iloc[accepted]).tolist()
