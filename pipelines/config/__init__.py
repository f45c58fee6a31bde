"""YAML config validated into frozen pydantic models.

Every file under ``conf/`` starts with ``kind: <name>``; the kind picks the model. Each kind lives in
its own module of this package, which defines ``KIND`` (the discriminator value) and one
:class:`ConfigModel` subclass named for it (``NightlyConfig``, ``TrainConfig``, ``ProjectConfig``,
``SourceConfig``) whose ``kind`` field defaults to ``KIND``. :func:`load_config` finds it, validates
the file, and turns every problem into one :class:`ConfigError` that names the file, the key and what
was expected.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
import re
import types
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from pipelines.words import counted

__all__ = ["ConfigError", "ConfigModel", "config_hash", "kinds", "load_config"]


class ConfigError(ValueError):
    """A config file is missing, unreadable or invalid. The message is meant for the user."""


class ConfigModel(BaseModel):
    """Base for every config model: frozen, unknown keys rejected, no boolean where a number goes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        """pydantic reads ``true`` as 1 and ``false`` as 0 in a number field: ``max_data_lag_days: true``
        passed ``ews config check`` as a lag of 1 day, ``dpd_threshold: true`` as a default after 1 day
        past due (s43-attack). A number field takes numbers (and their text) only."""
        if (
            isinstance(value, bool)
            and info.field_name
            and _takes_numbers_only(cls.model_fields[info.field_name].annotation)
        ):
            raise PydanticCustomError(
                "boolean_for_number",
                "expected a number, but YAML read the unquoted value as a boolean ({value}), which would count as "
                "{number}; write the number",
                {"value": str(value).lower(), "number": int(value)},
            )
        return value


M = TypeVar("M", bound=ConfigModel)


def _types(annotation: Any) -> set[Any]:
    """The types an annotation admits, through Optional / Union / Annotated (None left out)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _types(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return set().union(*(_types(a) for a in get_args(annotation)))
    return set() if annotation is type(None) else {annotation}


def _takes_numbers_only(annotation: Any) -> bool:
    """A field whose values are numbers (int or float), not also booleans, text or anything."""
    admitted = _types(annotation)
    return bool(admitted & {int, float}) and not admitted & {bool, str, Any, object}


def kinds() -> dict[str, type[ConfigModel]]:
    """All config kinds, discovered from the modules of this package."""
    found: dict[str, type[ConfigModel]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        for model in vars(module).values():
            if (
                kind
                and isinstance(model, type)
                and issubclass(model, ConfigModel)
                and "kind" in model.model_fields
                and model.model_fields["kind"].default == kind
            ):
                found[kind] = model
    return dict(sorted(found.items()))


class _Loader(yaml.SafeLoader):
    """YAML with YAML 1.2 booleans: only true/false are booleans.

    YAML 1.1 (PyYAML's default) also reads unquoted yes/no/on/off as booleans, which turns
    ``true_values: [Yes, Ja]`` into ``[True, "Ja"]`` and the country code ``NO`` into false. Here they
    stay text; a boolean field still accepts them (pydantic reads "yes"/"on" as true).
    """


def _unique_keys(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    """A mapping whose keys are each written once. PyYAML keeps the last of two equal keys without a
    word: a config with ``dpd_threshold: 90`` and, further down, ``dpd_threshold: 30`` passed ``ews
    config check`` and changed the default definition (s35-attack). Keys a merge (``<<: *base``)
    brings in may be overridden, as YAML means them to be."""
    seen: dict[Any, int] = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                f"while reading the mapping that starts on line {node.start_mark.line + 1}",
                node.start_mark,
                f"the key {key!r} is written twice (lines {seen[key]} and {line}); YAML would keep only "
                "the last value: delete one of them",
                key_node.start_mark,
            )
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, lambda loader, node: _mapping(loader, node)
)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Any:
    data: dict[Any, Any] = {}
    yield data
    data.update(_unique_keys(loader, node))


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))


def parse_yaml(text: str) -> Any:
    """Parse YAML text the way config files are read (YAML 1.2 booleans, see :class:`_Loader`)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise ConfigError(
            f"{path}: config file not found{where}. Check the path, or copy one from conf/. Outside the "
            "project folder, pass `ews --project DIR` or set EWS_PROJECT=DIR (the folder holding conf/ews.yaml)"
        )
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}). Save the file as UTF-8.") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    return raw


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {counted(exc.error_count(), 'problem')}"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling"
        elif kind == "missing":
            msg = "required key is missing"
        elif kind == "string_type" and isinstance(err.get("input"), bool | int | float):
            value = err["input"]
            what = "a boolean" if isinstance(value, bool) else "a number"
            msg = (
                f"expected text, but YAML read the unquoted value as {what} ({value!r}); put it in quotes, "
                f'e.g. "{str(value).lower() if isinstance(value, bool) else value}"'
            )
        else:
            msg = err["msg"]
            if "input" in err and not isinstance(err["input"], dict | list) and kind != "boolean_for_number":
                msg += f" (got {err['input']!r})"
        lines.append(f"  - {key}: {msg}")
    return "\n".join(lines)


def validate_config(path: Path, raw: dict[str, Any], model: type[M]) -> M:
    """Validate an already-parsed mapping; errors name ``path``."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None


def load_config(path: str | Path, expect: type[M] | None = None) -> M:
    """Load and validate one YAML config file.

    The file's ``kind`` key chooses the model; pass ``expect`` to insist on one kind.
    """
    path = Path(path)
    raw = _read_yaml(path)
    registry = kinds()
    kind = raw.get("kind")
    if kind is None:
        raise ConfigError(f"{path}: key 'kind' is missing; expected one of {list(registry)}")
    if kind not in registry:
        raise ConfigError(f"{path}: kind: {kind!r} is not known; expected one of {list(registry)}")
    model = registry[kind]
    if expect is not None and model is not expect:
        wanted = next((k for k, m in registry.items() if m is expect), expect.__name__)
        raise ConfigError(f"{path}: kind: {kind!r} given where a {wanted!r} config is expected")
    return validate_config(path, raw, model)  # type: ignore[return-value]


def config_hash(config: ConfigModel) -> str:
    """Stable SHA-256 of a resolved config (key order and formatting do not matter)."""
    payload = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
