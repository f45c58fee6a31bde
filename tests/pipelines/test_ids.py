"""in_ids answers as pandas isin does, for the id collections the nightly passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.scoring.ids import in_ids

IDS = pd.Index(pd.array(["D1", "D2", None, "D10", "d1", "D 1", "é", "D2"], dtype="string"))


@pytest.mark.parametrize(
    "values",
    [
        ["D2", "é", "nobody"],
        {"D1", "D10"},
        pd.Index(pd.array(["D1", None], dtype="string")),
        pd.Series(["D 1", "d1"], dtype="string"),
        pd.Series(["D 1", "d1"], dtype=object, index=[5, 9]),
        [],
        pd.Index([], dtype="string"),
        [1, 2],  # not text: as pandas
        ["D2", 2],
    ],
)
def test_in_ids_equals_isin(values) -> None:
    expected = np.asarray(IDS.isin(values), dtype=bool)
    if isinstance(values, pd.Index | pd.Series) and values.isna().any():
        expected = expected & np.asarray(IDS.notna())  # a missing id is never a debtor
    got = in_ids(IDS, values)
    assert got.dtype == bool and got.tolist() == expected.tolist()
    assert in_ids(pd.Series(IDS, index=range(10, 18)), values).tolist() == expected.tolist()


def test_in_ids_object_ids_and_empty() -> None:
    assert in_ids(pd.Index(["a", "b"], dtype=object), ["b"]).tolist() == [False, True]
    assert in_ids(pd.Index([], dtype="string"), ["b"]).tolist() == []
    assert in_ids(pd.Index(["a", "b"], dtype="string"), []).tolist() == [False, False]
