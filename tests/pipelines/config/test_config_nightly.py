"""``kind: nightly`` config: shipped file, defaults, and invalid examples with actionable messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import INVALID  # the shared table of invalid examples (tests/pipelines/test_config.py)

from pipelines.config import ConfigError, load_config
from pipelines.config.nightly import NightlyConfig

CONF = Path(__file__).resolve().parents[2] / "conf"
ROOT = CONF.parents[1]

NIGHTLY_INVALID = {
    "nightly_bad_band.yaml": ["nightly_bad_band.yaml", "triggers.threshold.band", "'Z'"],
    "nightly_bad_timezone.yaml": ["nightly_bad_timezone.yaml", "schedule.timezone", "Mars/Olympus"],
    "nightly_bad_action.yaml": ["nightly_bad_action.yaml", "queue.rules.0.action", "agency_referral"],
    "nightly_bands_not_increasing.yaml": ["nightly_bands_not_increasing.yaml", "min_pd must increase"],
    "nightly_feed_bad_ratio.yaml": [
        "nightly_feed_bad_ratio.yaml",
        "feed_checks.previous.rows",
        "min_ratio < 1 < max_ratio",
    ],
}
INVALID.update(NIGHTLY_INVALID)


@pytest.mark.parametrize("name", sorted(NIGHTLY_INVALID))
def test_invalid_nightly_config_names_file_and_key(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONF / "invalid" / name)
    for fragment in NIGHTLY_INVALID[name]:
        assert fragment in str(info.value)


def test_shipped_nightly_config_has_explicit_schedule() -> None:
    cfg = load_config(ROOT / "conf" / "nightly.yaml", expect=NightlyConfig)
    assert cfg.schedule.cron == "0 2 * * *"
    assert cfg.schedule.timezone == "Europe/Amsterdam"
    assert [b.name for b in cfg.bands] == ["A", "B", "C", "D", "E"]
    assert cfg.drift.warning == 0.1 and cfg.drift.alert == 0.25
    assert 3 <= cfg.reasons.top_n <= 5


def test_minimal_file_equals_defaults() -> None:
    cfg = load_config(CONF / "valid" / "nightly_minimal.yaml", expect=NightlyConfig)
    assert cfg == NightlyConfig()
    assert cfg.band_index("D") == 3


def test_event_actions_take_any_rule_action_and_name_the_allowed_ones(tmp_path: Path) -> None:
    """s23-review (ea01543): an event kind may be mapped to a rule action (a placement back to
    agency_referral) or to null; a wrong value gets one message naming the key and every allowed
    action, the three event actions and the seven rule actions."""
    ok = tmp_path / "nightly_events.yaml"
    ok.write_text("kind: nightly\nevent_actions:\n  agency_placement: agency_referral\n  write_off: null\n")
    cfg = load_config(ok, expect=NightlyConfig)
    assert cfg.event_actions.agency_placement == "agency_referral"
    assert cfg.event_actions.write_off is None and cfg.event_actions.insolvency == "file_claim"
    bad = tmp_path / "nightly_bad_event.yaml"
    bad.write_text("kind: nightly\nevent_actions:\n  insolvency: send_flowers\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad, expect=NightlyConfig)
    text = str(info.value)
    assert "nightly_bad_event.yaml" in text and "event_actions.insolvency" in text and "send_flowers" in text
    for action in ("file_claim", "agency_follow_up", "written_off_recovery", "reminder", "call",
                   "payment_plan", "final_notice", "agency_referral", "legal_review", "write_off_review"):  # fmt: skip
        assert f"'{action}'" in text, action
