"""s40-review, the demo run read as a credit analyst: the watchlist's trigger table said "Moved to a worse band:
12" while the report's changes section said "41 moved to a worse band". Both were right: the section counts every
move to a worse band, the trigger only those landing in its ``min_band`` (C) or worse. The section now says so,
from the config, and nothing when the trigger is off."""

from __future__ import annotations

import re

import pandas as pd


def _page(cfg) -> str:
    from pipelines.report import render_report
    from pipelines.scoring.watchlist import compare_with_previous
    from tests.pipelines.test_report import scores

    prev = scores([0.001, 0.002, 0.2], ["a", "b", "c"])
    today = scores([0.02, 0.002, 0.25], ["a", "b", "c"])
    scored = compare_with_previous(today, prev)
    return re.sub(
        r"\s+",
        " ",
        render_report(
            as_of="2024-06-30", model={"name": "ews-pd", "version": "1"}, config_hash="0" * 64,
            scored=scored, previous=prev, previous_as_of="2024-05-31",
            watchlist=scored.assign(triggers="jump", reason_1="late").head(1), reason_columns=["reason_1"],
            counts={"scored": 3, "in_default": 0, "flagged": 1, "queue": 0, "expected_loss": 0.0, "bands": {},
                    "triggers": {}},
            drift=pd.DataFrame(columns=["variable", "psi", "status", "missing_share", "reference_missing"]),
            calibration=None, waterfalls=[], cfg=cfg,
        ),
    )  # fmt: skip


def test_the_changes_section_says_which_band_moves_the_migration_trigger_counts() -> None:
    from tests.pipelines.test_report import CFG

    m = CFG.triggers.migration
    assert m.enabled and m.min_band == "C" and m.min_notches == 1  # the defaults this test reads
    page = _page(CFG)
    said = re.search(r"Compared with the run of 2024-05-31: (.*?)</p>", page)
    assert said is not None
    # a moved from the lowest band up one (a worse band, not C): counted in the section, not by the trigger
    assert "1 moved to a worse band (the watchlist's \"Moved to a worse band\" counts only those landing in " \
        "band C or worse), 0 to a better band." in said.group(1), said.group(1)  # fmt: skip

    two = CFG.model_copy(
        update={
            "triggers": CFG.triggers.model_copy(update={"migration": m.model_copy(update={"min_notches": 2})})
        }
    )
    assert "counts only those landing in band C or worse, by 2 bands or more)" in _page(two)
    off = CFG.model_copy(
        update={
            "triggers": CFG.triggers.model_copy(update={"migration": m.model_copy(update={"enabled": False})})
        }
    )
    assert "1 moved to a worse band, 0 to a better band." in _page(off)
