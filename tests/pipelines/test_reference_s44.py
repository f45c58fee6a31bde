"""``invoice_reference`` read in one pass (session 44, s44-scale; BENCHMARKS.md "Session 44 (s44-scale)"): the
numbers looked up as one Arrow array and the reference texts split once each, where pandas' ``isin`` made an
Arrow scalar of every invoice number per call and each taken cell was written on its own (40.1 CPU-s for
200,000 payments, 0.6 now, same matches). Every expected value is by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.ingest.sources import _by_reference

NUMBERS = {"INV-001", "INV-002", "INV-003", "3"}


def test_a_reference_names_the_one_invoice_number_of_the_export_among_its_words() -> None:
    own = pd.Series(["INV-001", None, None, None, None, "X9", None, None, "X9"], dtype="string")
    ref = pd.Series(
        [
            "INV-002",  # own invoice known: not read
            "INV-001 and INV-002",  # two numbers: not guessed
            "inv 3",  # the word "3" is an invoice number of the export
            "paid 2024-01-05",  # none
            None,  # no reference
            "re: INV-003.",  # own unknown (X9), the number before a full stop
            "INV-002",  # the cell itself
            "INV-001, INV-001",  # one number twice: one invoice
            "Credit against INV-002",  # not allowed by ``only`` below
        ],
        dtype="string",
    )
    out, taken = _by_reference(own, ref, NUMBERS)
    assert out.tolist() == ["INV-001", pd.NA, "3", pd.NA, pd.NA, "INV-003", "INV-002", "INV-001", "INV-002"]
    assert taken == 5
    only = np.array([True] * 8 + [False])
    out, taken = _by_reference(own, ref, NUMBERS, only=only)
    assert out.tolist() == ["INV-001", pd.NA, "3", pd.NA, pd.NA, "INV-003", "INV-002", "INV-001", "X9"]
    assert taken == 4
    assert ref.tolist()[2] == "inv 3"  # the caller's reference column is left as it was


def test_nothing_to_read_leaves_every_row_as_it_was() -> None:
    own = pd.Series(["INV-001", None], dtype="string")
    ref = pd.Series([None, "no number here"], dtype="string")
    out, taken = _by_reference(own, ref, NUMBERS)
    assert out.tolist() == ["INV-001", pd.NA]
    assert taken == 0
    out, taken = _by_reference(own, ref, set())
    assert out.tolist() == ["INV-001", pd.NA]
    assert taken == 0
