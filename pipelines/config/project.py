"""``kind: project`` -- where things live, and the default definition shared by every flow."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from features.params import DefaultDefinition
from pipelines.config import ConfigModel

KIND = "project"

EventKind = Literal["write_off", "agency_placement", "insolvency"]


class DefaultDefinitionConfig(ConfigModel):
    dpd_threshold: int = Field(90, ge=1, description="days past due that make an open invoice a default")
    horizon_days: int = Field(90, ge=1, description="label window after the as-of date, in days")
    event_kinds: tuple[EventKind, ...] = ("write_off", "agency_placement", "insolvency")

    def to_params(self) -> DefaultDefinition:
        return DefaultDefinition(self.dpd_threshold, self.horizon_days, tuple(self.event_kinds))


class PathsConfig(ConfigModel):
    data_dir: Path = Path("data")
    runs_dir: Path = Path("data/runs")
    mlflow_tracking_uri: str = Field(
        "sqlite:///data/mlflow/mlflow.db",
        description="used unless MLFLOW_TRACKING_URI is set in the environment",
    )
    mlflow_artifacts: Path = Path("data/mlflow/artifacts")


class Model(ConfigModel):
    kind: Literal["project"] = "project"
    name: str = "ews"
    paths: PathsConfig = PathsConfig()
    default_definition: DefaultDefinitionConfig = DefaultDefinitionConfig()
