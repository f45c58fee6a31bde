from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import ConfigError, config_hash, load_config
from pipelines.config.project import ProjectConfig

CONF = Path(__file__).resolve().parents[2] / "conf"
ROOT = CONF.parents[1]

# invalid file -> fragments its one message must contain (file name, key, what is expected)
INVALID = {
    "project_unknown_key.yaml": [
        "project_unknown_key.yaml",
        "default_definition.dpd_treshold",
        "unknown key",
    ],
    "project_wrong_type.yaml": ["project_wrong_type.yaml", "default_definition.horizon_days", "integer"],
    "project_bad_event.yaml": ["project_bad_event.yaml", "event_kinds.0", "insolvency"],
    "project_negative_materiality.yaml": [
        "project_negative_materiality.yaml",
        "default_definition.min_open_amount",
        "greater than or equal to 0",
    ],
    "no_kind.yaml": ["no_kind.yaml", "'kind' is missing", "project"],
    "not_a_mapping.yaml": ["not_a_mapping.yaml", "expected a mapping"],
}


@pytest.mark.parametrize("path", sorted((CONF / "valid").glob("*.yaml")), ids=lambda p: p.name)
def test_valid_configs_load(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.model_config["frozen"] is True


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_config_message_names_file_and_key(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONF / "invalid" / name)
    for fragment in INVALID[name]:
        assert fragment in str(info.value)


def test_every_invalid_file_has_an_expected_message() -> None:
    # each config kind's test module (test_config_<kind>.py) adds its own examples to INVALID;
    # import them all so this check holds however the tests are selected
    for module in sorted(Path(__file__).parent.glob("test_config_*.py")):
        importlib.import_module(module.stem)
    assert {p.name for p in (CONF / "invalid").glob("*.yaml")} == set(INVALID)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_custom_values_reach_typed_params() -> None:
    cfg = load_config(CONF / "valid" / "project_custom.yaml", expect=ProjectConfig)
    params = cfg.default_definition.to_params()
    assert (params.dpd_threshold, params.horizon_days, params.event_kinds) == (60, 180, ("insolvency",))
    assert params.min_open_amount == 25.0


def test_config_is_frozen() -> None:
    cfg = load_config(CONF / "valid" / "project_defaults.yaml")
    with pytest.raises(Exception, match="frozen"):
        cfg.name = "other"  # type: ignore[misc]


def test_hash_ignores_formatting(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text("kind: project\nname: x\n")
    b.write_text("name: x   # same\nkind: project\n")
    assert config_hash(load_config(a)) == config_hash(load_config(b))
    b.write_text("kind: project\nname: y\n")
    assert config_hash(load_config(a)) != config_hash(load_config(b))


def test_shipped_configs_pass_cli_check(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "conf/ews.yaml" in result.output


def test_cli_check_fails_with_exit_2() -> None:
    result = CliRunner().invoke(app, ["config", "check", str(CONF / "invalid" / "project_wrong_type.yaml")])
    assert result.exit_code == 2
    assert "horizon_days" in result.output
