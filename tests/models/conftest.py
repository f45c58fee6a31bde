"""Fixtures for model tests: a seeded synthetic modelling frame."""

from __future__ import annotations

import pandas as pd
import pytest
from model_frames import make_modelling_frame


@pytest.fixture(scope="session")
def modelling_frame() -> pd.DataFrame:
    return make_modelling_frame()
