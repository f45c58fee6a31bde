"""``kind: project`` -- where things live, and the default definition shared by every flow."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from features.params import DefaultDefinition
from pipelines.config import ConfigModel

KIND = "project"

EventKind = Literal["write_off", "agency_placement", "insolvency"]


class DefaultDefinitionConfig(ConfigModel):
    dpd_threshold: int = Field(90, ge=1, description="days past due that make an open invoice a default")
    horizon_days: int = Field(90, ge=1, description="label window after the as-of date, in days")
    event_kinds: tuple[EventKind, ...] = ("write_off", "agency_placement", "insolvency")
    min_open_amount: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="materiality, in the reporting currency: an invoice counts toward a default only while "
        "more than this amount of it is open (0 = any amount; a rest left by bank charges then defaults)",
    )

    def to_params(self) -> DefaultDefinition:
        return DefaultDefinition(
            self.dpd_threshold, self.horizon_days, tuple(self.event_kinds), float(self.min_open_amount)
        )


class PathsConfig(ConfigModel):
    data_dir: Path = Path("data")
    runs_dir: Path = Path("data/runs")
    mlflow_tracking_uri: str = Field(
        "sqlite:///data/mlflow/mlflow.db",
        description="used unless MLFLOW_TRACKING_URI is set in the environment",
    )
    mlflow_artifacts: Path = Path("data/mlflow/artifacts")

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _sqlite_file(cls, v: str) -> str:
        from pipelines.adapters.registry_view import sqlite_uri_problem

        problem = sqlite_uri_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v


class CurrencyConfig(ConfigModel):
    """The reporting currency and the rates that convert every amount into it at ingest.

    ``rates[X]`` is the value of one unit of currency X in the reporting currency (``USD: 0.92``
    with ``reporting: EUR`` means 1 USD = 0.92 EUR). Rows in a currency without a rate are
    quarantined as ``no_fx_rate:X``; amounts are never summed across currencies.
    """

    reporting: str | None = Field(
        None,
        pattern=r"^[A-Z]{3}$",
        description="ISO-4217 code every amount is converted into; default: the source's "
        "default_currency, else the currency of most invoices",
    )
    rates: dict[str, float] = Field(
        default_factory=dict, description="ISO-4217 code -> value of one unit in the reporting currency"
    )

    @field_validator("rates")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        for code, rate in v.items():
            if not re.fullmatch(r"[A-Z]{3}", str(code)):
                raise ValueError(f"{code!r} is not an ISO-4217 code (3 capital letters, e.g. USD)")
            if not (math.isfinite(rate) and rate > 0):
                raise ValueError(f"{code}: rate must be a positive number, got {rate!r}")
        return dict(sorted(v.items()))

    @model_validator(mode="after")
    def _reporting_given(self) -> CurrencyConfig:
        if self.rates and self.reporting is None:
            raise ValueError("rates are given without reporting: name the currency they convert into")
        if self.reporting is not None and self.rates.get(self.reporting, 1.0) != 1.0:
            raise ValueError(f"rates.{self.reporting} must be 1 (it is the reporting currency) or absent")
        return self

    def rate(self, code: str, reporting: str | None) -> float | None:
        """Value of one unit of ``code`` in ``reporting`` (1 for the reporting currency; None: unknown)."""
        if code == reporting:
            return 1.0
        return self.rates.get(code) if reporting == self.reporting else None


class ComputeConfig(ConfigModel):
    """Where feature building and scoring run: this process, or a Dask cluster (one task per bucket)."""

    engine: Literal["local", "dask"] = Field(
        "local", description="local: debtor buckets one after the other in this process; dask: a Dask cluster"
    )
    scheduler: str | None = Field(
        None,
        description="address of an existing Dask scheduler (tcp://host:8786); empty: a fresh LocalCluster per run",
    )
    workers: int = Field(2, ge=1, description="LocalCluster: worker processes")
    threads_per_worker: int = Field(1, ge=1, description="LocalCluster: threads per worker")
    memory_limit: str = Field("4GiB", description="LocalCluster: memory limit per worker (Dask syntax)")

    @field_validator("memory_limit", mode="before")
    @classmethod
    def _dask_memory(cls, v: object) -> object:
        """What Dask's LocalCluster reads: ``auto``, bytes (``2e9``, ``0``: no limit), a share of the
        machine's memory (``0.5``) or an amount with a unit (``4GiB``, ``500 MB``). Checked here, as
        it is read only by ``--engine dask`` (a wrong value would stop that run at cluster start)."""
        text = str(v).strip()
        if not re.fullmatch(r"(?i)auto|\d+(\.\d+)?(e\d+)?\s*([kmgtp]i?b|b)?", text):
            raise ValueError(
                f"{v!r} is not a memory amount Dask reads: write e.g. 4GiB, 500MB, auto, or a share of the "
                "machine's memory such as 0.5"
            )
        return text

    processes: bool = Field(True, description="LocalCluster: workers are processes (False: threads)")
    local_processes: int = Field(
        1,
        ge=1,
        description="local engine: worker processes for the nightly's debtor buckets of an ingested folder "
        "(1: this process; 2 on a 2-core machine halves the score step's wall time for books of 2+ buckets)",
    )
    ingest_workers: int | None = Field(
        None,
        ge=1,
        description="ews ingest of large inputs (streamed): processes that validate and finish debtor "
        "partitions; empty: min(2, usable CPUs); 1: one process. Not used when Data Docs are built",
    )


class ProjectConfig(ConfigModel):
    kind: Literal["project"] = "project"
    name: str = "ews"
    paths: PathsConfig = PathsConfig()
    default_definition: DefaultDefinitionConfig = DefaultDefinitionConfig()
    currency: CurrencyConfig = CurrencyConfig()
    compute: ComputeConfig = ComputeConfig()


def load_project(path: Path = Path("conf/ews.yaml")) -> ProjectConfig:
    """The project config at ``path``; the defaults when the default path does not exist."""
    from pipelines.config import load_config

    if not path.exists() and path == Path("conf/ews.yaml"):
        return ProjectConfig()
    return load_config(path, expect=ProjectConfig)
