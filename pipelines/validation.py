"""Great Expectations 1.x at the ingest boundary.

One expectation suite per canonical table is stored as JSON in ``conf/expectations/<table>.json``.
The suites are generated from the data contract in ``features/schema.py`` by
:func:`expectation_suite` (``ews config expectations`` writes them; a test checks that the committed
files are the generated ones). Each expectation carries ``meta.reason``: the quarantine reason given
to the rows it rejects. Date bounds are suite parameters (``{"$PARAMETER": "as_of"}``, ``min_date``)
filled in per run.

Rows are validated in chunks of ``chunk_rows`` (memory stays bounded on 10-million-row files).
Chunks are cut by a hash of the table's key column, so every copy of a duplicated id lands in the
same chunk and uniqueness expectations stay exact. Results are kept in an ephemeral GX context;
:meth:`Validator.build_docs` renders them as Data Docs (HTML) into the output folder.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.project_dir import shipped_conf

__all__ = [
    "DEFAULT_EXPECTATIONS_DIR",
    "SuiteOutcome",
    "Validator",
    "expectation_suite",
    "load_suite",
    "suite_text",
    "write_suites",
]

# the suites shipped with ews (the repository's conf/expectations; pipelines/_conf/expectations in a wheel)
DEFAULT_EXPECTATIONS_DIR = shipped_conf() / "expectations"

# Column whose hash cuts a table into chunks (the key of its uniqueness expectation).
CHUNK_KEY: dict[str, str] = {
    "invoices": "invoice_id",
    "payments": "payment_id",
    "debtors": "debtor_id",
    "events": "debtor_id",
    "statements": "debtor_id",
    "payment_plans": "debtor_id",
    "debtor_history": "debtor_id",
}


def _expect(kind: str, reason: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", "kwargs": kwargs, "meta": {"reason": reason}}


def _value_rules(col: Any) -> list[dict[str, Any]]:
    """The min_value / max_value / pattern / allowed rules of one contract column."""
    out = []
    if col.min_value is not None:
        if col.min_value == 0:
            default = f"{col.name}_not_positive" if col.strict_min else f"negative_{col.name}"
        else:
            default = f"below_minimum:{col.name}"
        bounds: dict[str, Any] = {"min_value": col.min_value}
        if col.strict_min:
            bounds["strict_min"] = True
        out.append(_expect("column_values_to_be_between", col.reason or default, column=col.name, **bounds))
    if col.max_value is not None:
        out.append(
            _expect(
                "column_values_to_be_between",
                col.max_reason or f"implausible_{col.name}",
                column=col.name,
                max_value=col.max_value,
            )
        )
    if col.pattern is not None:
        out.append(
            _expect(
                "column_values_to_match_regex",
                col.reason or f"bad_{col.name}",
                column=col.name,
                regex=col.pattern,
            )
        )
    if col.allowed:
        out.append(
            _expect(
                "column_values_to_be_in_set",
                col.reason or f"unknown_{col.name}",
                column=col.name,
                value_set=list(col.allowed),
            )
        )
    return out


def _date_rules(col: Any) -> list[dict[str, Any]]:
    """A date is never after its latest bound (the as-of date, or rules.max_date) nor before rules.min_date."""
    latest = {"as_of": "date_after_as_of", "max_date": "date_too_late"}[col.latest]
    return [
        _expect(
            "column_values_to_be_between",
            f"{latest}:{col.name}",
            column=col.name,
            max_value={"$PARAMETER": col.latest},
        ),
        _expect(
            "column_values_to_be_between",
            f"date_too_old:{col.name}",
            column=col.name,
            min_value={"$PARAMETER": "min_date"},
        ),
    ]


def expectation_suite(table: str) -> dict[str, Any]:
    """The expectation suite of a canonical table, generated from ``features/schema.py``.

    Order: required columns not null, uniqueness, value rules per column, column pairs, date bounds.
    """
    from features.schema import TABLES

    spec = TABLES[table]
    expectations = [
        _expect("column_values_to_not_be_null", f"missing_value:{name}", column=name)
        for name in spec.required
    ]
    expectations += [
        _expect("column_values_to_be_unique", f"duplicate_id:{c.name}", column=c.name)
        for c in spec.columns
        if c.unique
    ]
    if spec.unique_together:
        expectations.append(
            _expect(
                "compound_columns_to_be_unique",
                spec.unique_together_reason,
                column_list=list(spec.unique_together),
            )
        )
    for col in spec.columns:
        expectations += _value_rules(col)
    for later, earlier, reason in spec.not_before:
        expectations.append(
            _expect(
                "column_pair_values_a_to_be_greater_than_b",
                reason,
                column_A=later,
                column_B=earlier,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    for col in spec.columns:
        expectations += _date_rules(col) if col.kind == "date" and not col.sparse else []
    return {
        "name": table,
        "meta": {
            "description": (
                f"ews ingest: row-level rules for canonical table {table}; meta.reason is the quarantine "
                "reason. Generated from features/schema.py by `ews config expectations`: edit the schema, "
                "not this file"
            )
        },
        "expectations": expectations,
    }


def suite_text(table: str) -> str:
    """The suite of ``table`` as the JSON text committed in ``conf/expectations/<table>.json``."""
    return json.dumps(expectation_suite(table), indent=2) + "\n"


def write_suites(folder: Path = DEFAULT_EXPECTATIONS_DIR) -> list[Path]:
    """Write every table's generated suite to ``folder/<table>.json`` (atomically); returns the paths."""
    from features.schema import TABLES
    from pipelines.adapters.files import write_text_atomic

    paths = []
    for table in TABLES:
        path = Path(folder) / f"{table}.json"
        write_text_atomic(suite_text(table), path)
        paths.append(path)
    return paths


def load_suite(table: str, folder: Path | None = None) -> dict[str, Any]:
    """The stored suite for ``table`` as a dict (``name``, ``expectations`` with ``meta.reason``)."""
    path = Path(folder or DEFAULT_EXPECTATIONS_DIR) / f"{table}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"expectation suite {path} not found (one JSON suite per table in conf/expectations)"
        )
    suite = json.loads(path.read_text(encoding="utf-8"))
    for i, exp in enumerate(suite.get("expectations", [])):
        if not exp.get("meta", {}).get("reason"):
            raise ValueError(f"{path}: expectations[{i}] ({exp.get('type')}) has no meta.reason")
    return suite


@dataclass
class SuiteOutcome:
    """Row-level result of one table's suite: ``masks`` maps reason -> rows rejected (bool array)."""

    table: str
    masks: dict[str, np.ndarray]
    evaluated: int = 0
    chunks: int = 0
    failed_expectations: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "suite": self.table,
            "expectations": self.evaluated,
            "chunks": self.chunks,
            "failed_expectations": sorted(set(self.failed_expectations)),
        }


class Validator:
    """Runs the stored suites with Great Expectations; one ephemeral context per ingest run."""

    def __init__(
        self,
        expectations_dir: Path | None = None,
        docs_dir: Path | None = None,
        chunk_rows: int = 1_000_000,
        run_time: dt.datetime | None = None,
    ) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.expectations_dir = Path(expectations_dir or DEFAULT_EXPECTATIONS_DIR)
        self.docs_dir = docs_dir
        self.chunk_rows = chunk_rows
        # A fixed run time (the as-of date) keeps validation result ids stable between re-runs.
        self.run_time = run_time or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        if docs_dir is not None:
            self.context.add_data_docs_site(
                site_name="ews",
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(Path(docs_dir).resolve()),
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        self._datasource = self.context.data_sources.add_pandas("ews")
        self._checkpoints: dict[str, Any] = {}

    def validate(
        self, table: str, frame: pd.DataFrame, parameters: dict[str, Any], batch: str = ""
    ) -> SuiteOutcome:
        """Validate ``frame`` (typed canonical columns, any index) against ``conf/expectations/<table>.json``.

        Returns, per reason, a boolean array over the rows of ``frame`` (positional). ``batch``
        names the part of the table (a debtor partition of a streamed ingest) in the run ids.
        """
        from great_expectations.core.run_identifier import RunIdentifier

        checkpoint = self._checkpoints.get(table)
        if checkpoint is None:
            checkpoint = self._checkpoints[table] = self._checkpoint(table)
        n = len(frame)
        masks: dict[str, np.ndarray] = {}
        outcome = SuiteOutcome(table, masks)
        positional = frame.reset_index(drop=True)
        for chunk_no, rows in enumerate(self._chunks(table, positional)):
            part = positional.iloc[rows] if rows is not None else positional
            with _fingerprint(self.docs_dir is not None), _configurations_once():
                result = checkpoint.run(
                    batch_parameters={"dataframe": part},
                    expectation_parameters=parameters,
                    run_id=RunIdentifier(
                        run_name=f"{table}{batch}-chunk-{chunk_no + 1:04d}", run_time=self.run_time
                    ),
                )
            outcome.chunks += 1
            for validation in result.run_results.values():
                for exp_result in validation.results:
                    cfg = exp_result.expectation_config
                    reason = cfg.meta["reason"]
                    outcome.evaluated += 1 if chunk_no == 0 else 0
                    if exp_result.exception_info and exp_result.exception_info.get("raised_exception"):
                        raise RuntimeError(
                            f"expectation {cfg.type} on {table} could not run: "
                            f"{exp_result.exception_info.get('exception_message')}"
                        )
                    if exp_result.success:
                        continue
                    outcome.failed_expectations.append(f"{cfg.type}:{reason}")
                    index = exp_result.result.get("unexpected_index_list") or []
                    mask = masks.setdefault(reason, np.zeros(n, dtype=bool))
                    if index:
                        mask[np.asarray(index, dtype=np.int64)] = True
        return outcome

    def _checkpoint(self, table: str) -> Any:
        from great_expectations.core import ExpectationSuite

        suite = self.context.suites.add(ExpectationSuite(**load_suite(table, self.expectations_dir)))
        asset = self._datasource.add_dataframe_asset(table)
        batch_def = asset.add_batch_definition_whole_dataframe(f"{table}-chunk")
        definition = self.context.validation_definitions.add(
            self._gx.ValidationDefinition(name=table, data=batch_def, suite=suite)
        )
        return self.context.checkpoints.add(
            self._gx.Checkpoint(
                name=f"ingest-{table}",
                validation_definitions=[definition],
                result_format=self._result_format(),
            )
        )

    def _result_format(self) -> dict[str, Any]:
        """GX's ``COMPLETE`` result format (the rows each expectation rejects, ``unexpected_index_list``).

        Without Data Docs, GX's ``return_unexpected_index_query: False`` option as well: the query
        (``df.filter(items=[...])``, the same row list as text) is read by nothing but the Data
        Docs pages, and GX built it by copying the whole batch (every column) twice per column
        expectation (a null filter, then the rejected rows), even when no row is rejected: ~5 % of
        a ledger partition's validation CPU (measured in BENCHMARKS.md, s10-nightly). With Data
        Docs on, the results are as before.
        """
        if self.docs_dir is not None:
            return {"result_format": "COMPLETE"}
        return {"result_format": "COMPLETE", "return_unexpected_index_query": False}

    def _chunks(self, table: str, frame: pd.DataFrame) -> list[np.ndarray | None]:
        n = len(frame)
        if n <= self.chunk_rows:
            return [None]
        k = int(np.ceil(n / self.chunk_rows))
        part = _key_codes(frame[CHUNK_KEY[table]]) % k
        from pipelines.adapters.files import group_order

        order = group_order(part, k)
        bounds = np.searchsorted(part[order], np.arange(1, k))
        return [rows for rows in np.split(order, bounds) if len(rows)]

    def build_docs(self) -> Path | None:
        """Render Data Docs for every validation of this run; returns ``index.html`` (or None)."""
        if self.docs_dir is None:
            return None
        _escape_stored_values(self.context.validation_results_store)
        with _compiled_templates():
            self.context.build_data_docs(site_names=["ews"])
        for page in sorted(Path(self.docs_dir).rglob("*.html")):
            _make_reproducible(page)
        index = Path(self.docs_dir) / "index.html"
        return index if index.is_file() else None


@contextmanager
def _fingerprint(wanted: bool) -> Iterator[None]:
    """Let GX fingerprint each batch (``pandas_data_fingerprint``) only when ``wanted``.

    GX's pandas engine hashes every row of a batch under 1 GB (``hash_pandas_object`` + md5) to
    record a batch marker; nothing checks rows with it. Its only reader is Data Docs, which show
    the batch markers: with Data Docs off (``--no-docs``) it is skipped, since it cost as much CPU
    as all the expectations of a ledger table (measured in BENCHMARKS.md, s4-ingest). With Data
    Docs on, the pages stay as before. The switch is GX's own size threshold, restored afterwards.
    """
    from great_expectations.execution_engine import pandas_execution_engine as engine

    if wanted:
        yield
        return
    before = engine.HASH_THRESHOLD
    engine.HASH_THRESHOLD = 0  # no frame is smaller than 0 bytes: no fingerprint
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = before


_CONFIGURATIONS: contextvars.ContextVar[dict[int, tuple[Any, Any]] | None] = contextvars.ContextVar(
    "ews_gx_configurations", default=None
)


class _BuiltOnce(property):
    """GX's ``Expectation.configuration`` as wrapped by :func:`_configurations_once`."""


@contextmanager
def _configurations_once() -> Iterator[None]:
    """Inside one checkpoint run, build each GX expectation's ``configuration`` once.

    GX 1.x's ``Expectation.configuration`` is a property that rebuilds an
    ``ExpectationConfiguration`` from the pydantic model (``.dict()``, ``camel_to_snake``) at every
    read, and one validation reads it ~75 times per expectation: about a fifth of the CPU of a
    small table's checkpoint run (measured in BENCHMARKS.md, s9-suite). The run never changes an
    expectation while it validates, so the first value is the one every later read would build.
    The property is wrapped once per process; outside this context (and in other threads, as the
    cache is a context variable) it builds a new value at every read, as GX does. The validation
    results are the same (compared on 65 tables, failures included, ids aside: GX draws them at
    random anyway).
    """
    from great_expectations.expectations.expectation import Expectation

    built = Expectation.__dict__["configuration"]
    if not isinstance(built, _BuiltOnce):
        fresh = built.fget

        def configuration(self: Any) -> Any:
            cache = _CONFIGURATIONS.get()
            if cache is None:
                return fresh(self)
            hit = cache.get(id(self))
            if hit is None:  # the cache holds self, so its id is not reused while the run lasts
                hit = cache[id(self)] = (self, fresh(self))
            return hit[1]

        Expectation.configuration = _BuiltOnce(configuration, doc=built.__doc__)  # type: ignore[method-assign,assignment]
    token = _CONFIGURATIONS.set({})
    try:
        yield
    finally:
        _CONFIGURATIONS.reset(token)


_TEMPLATE_CODE: dict[str, bytes] = {}
"""Compiled Data Docs templates of this process (jinja bytecode by template key), see _compiled_templates."""


@contextmanager
def _compiled_templates() -> Iterator[None]:
    """Let GX's Data Docs views reuse the templates compiled by an earlier build in this process.

    GX gives every page view a new jinja ``Environment``, so each ``build_data_docs`` parses and
    compiles its ~50 templates again: about two thirds of the build's CPU on a small ingest
    (measured in BENCHMARKS.md, s9-suite). For the build, GX's views get environments with an
    in-memory jinja bytecode cache; jinja checks each entry against the template source's
    checksum, and the compiled code is the same, so the pages are the same bytes. The module's
    ``Environment`` name is restored afterwards.
    """
    import functools

    import jinja2
    from great_expectations.render.view import view

    class Cache(jinja2.BytecodeCache):
        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            code = _TEMPLATE_CODE.get(bucket.key)
            if code is not None:
                bucket.bytecode_from_string(code)

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            _TEMPLATE_CODE[bucket.key] = bucket.bytecode_to_string()

    before = view.Environment
    view.Environment = functools.partial(before, bytecode_cache=Cache())
    try:
        yield
    finally:
        view.Environment = before


# the parts of a GX result that hold cells of the data (GX renders them into the pages unescaped)
_DATA_VALUES = ("partial_unexpected_list", "partial_unexpected_counts", "unexpected_list")


def _escaped(value: Any) -> Any:
    """``value`` with every text inside it HTML-escaped (dicts and lists walked; other values kept)."""
    if isinstance(value, str):
        return html.escape(value, quote=True)
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped(v) for v in value]
    return value


def _escape_stored_values(store: Any) -> None:
    """HTML-escape the data's cells in the stored validation results before Data Docs render them.

    GX 1.x puts the rejected values (``Unexpected Value`` tables) into the pages as markup: a
    duplicated invoice id ``<img src=x onerror=...>`` ran as script in the page an analyst opens
    (it escapes the expectations' parameters since GX PR 11909, not the values). The masks come
    from the run results before this, so quarantine is unchanged; only the pages read these.
    """
    for key in store.list_keys():
        suite_result = store.get(key)
        changed = False
        for result in suite_result.results:
            for name in _DATA_VALUES:
                if result.result.get(name):
                    result.result[name] = _escaped(result.result[name])
                    changed = True
        if changed:
            store.set(key, suite_result)


def _key_codes(values: pd.Series) -> np.ndarray:
    """Dense integer code per distinct value (Arrow dictionary encoding; nulls share code 0)."""
    import pyarrow as pa

    arr = pa.array(values.astype("string"), type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    encoded = arr.dictionary_encode()
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64) + 1


_BUILD_STAMP = re.compile(r"\?d=\d{8}T\d{6}\.\d+Z")
_LOAD_TIME = re.compile(r"(ge_load_time</span>.*?>)\d{8}T\d{6}\.\d+Z", re.DOTALL)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _make_reproducible(page: Path) -> None:
    """Drop GX's build timestamp and number its random element ids, so re-runs give identical HTML."""
    from pipelines.adapters.files import write_text_atomic

    text = page.read_text(encoding="utf-8")
    ids: dict[str, str] = {}
    fixed = _BUILD_STAMP.sub("", text)
    fixed = _LOAD_TIME.sub(r"\1(not recorded)", fixed)
    fixed = _UUID.sub(lambda m: ids.setdefault(m.group(0), f"id{len(ids) + 1:05d}"), fixed)
    if fixed != text:
        write_text_atomic(fixed, page)
