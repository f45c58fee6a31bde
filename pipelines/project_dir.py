"""Find the ews project folder, so that ``ews`` works from any directory.

The project folder holds ``conf/ews.yaml``. It is, in this order: ``ews --project DIR``, the
``EWS_PROJECT`` environment variable, or the first folder holding ``conf/ews.yaml`` found from the
current directory upwards. Commands then run inside it: default config paths (``conf/*.yaml``) and
every relative path written in a config (data, runs, MLflow) are relative to the project folder,
while relative paths typed on the command line stay relative to the directory ews was started in.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "ProjectNotFoundError", "find_project", "in_project", "shipped_conf"]

MARKER = Path("conf") / "ews.yaml"
ENV = "EWS_PROJECT"


def shipped_conf() -> Path:
    """The ``conf/`` folder that ships with ews: the starter configs ``ews init`` copies and the
    Great Expectations suites ``ews ingest`` reads by default.

    In an installed wheel it is ``pipelines/_conf`` (pyproject.toml's ``package-dir`` maps the
    repository's ``conf/`` there); in a source checkout or an editable install, the repository's
    ``conf/`` itself.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "_conf"
    return packaged if packaged.is_dir() else here.parent / "conf"


class ProjectNotFoundError(ValueError):
    """``--project`` / ``EWS_PROJECT`` names a folder that is not an ews project."""


def find_project(option: Path | None = None, start: Path | None = None) -> Path | None:
    """The project folder (absolute), or None when no option is given and none is found upwards.

    Raises :class:`ProjectNotFoundError` when ``option`` or ``EWS_PROJECT`` names a folder without
    ``conf/ews.yaml``.
    """
    given, where = (option, "--project") if option is not None else (os.environ.get(ENV) or None, ENV)
    if given is not None:
        folder = Path(given).expanduser().resolve()
        if not (folder / MARKER).is_file():
            raise ProjectNotFoundError(
                f"{where} {given}: not an ews project folder (no {MARKER} in {folder}); "
                "give the folder that holds conf/ews.yaml"
            )
        return folder
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return folder
    return None


def _absolute(value: Any, cwd: Path, name: str, only: Callable[[Path], bool] = lambda _p: True) -> Any:
    """``value`` with relative paths made absolute against ``cwd`` (lists too; NAME=PATH for --path);
    ``only``: the relative paths to change (default: all)."""
    if isinstance(value, Path):
        return value if value.is_absolute() or not only(value) else cwd / value
    if isinstance(value, list | tuple):
        return type(value)(_absolute(v, cwd, name, only) for v in value)
    if name == "path" and isinstance(value, str) and "=" in value:
        key, path = value.split("=", 1)
        return f"{key}={_absolute(Path(path.strip()), cwd, name, only)}"
    return value


def _read_as_uri(path: Path) -> bool:
    """A relative path whose first part holds a colon (``in:v2/``, ``AR:2024``): pyarrow reads it as a
    URI of the scheme before the colon ("Unrecognized filesystem type in URI", a traceback, s34-attack)."""
    return bool(path.parts) and ":" in path.parts[0]


def in_project(callback: Callable[..., Any], root: Callable[[], Path | None]) -> Callable[..., Any]:
    """Wrap a command so that it runs inside the project folder ``root()`` (if any).

    Arguments that differ from their defaults (the user typed them) and are relative paths are first
    made absolute against the directory ews was started in. The working directory is restored after.
    """
    defaults = {
        name: getattr(param.default, "default", param.default)
        for name, param in inspect.signature(callback).parameters.items()
    }

    @functools.wraps(callback)
    def run(**kwargs: Any) -> Any:
        folder = root()
        cwd = Path.cwd()
        if folder is None or folder == cwd.resolve():  # paths as typed, but none pyarrow reads as a URI
            return callback(**{k: _absolute(v, cwd, k, _read_as_uri) for k, v in kwargs.items()})
        for name, value in kwargs.items():
            if value != defaults.get(name):
                kwargs[name] = _absolute(value, cwd, name)
        os.chdir(folder)
        try:
            return callback(**kwargs)
        finally:
            os.chdir(cwd)

    return run


# Who a command records (an override, a registry event, an accepted feed): one rule for every command
# (s35-walk W7: `ews watchlist override` required --by while `ews train` and `ews models promote` read
# EWS_USER or the login).
WHO_RULE = "--by NAME when given, else the environment variable EWS_USER, else the login name"


MAX_WHO_CHARS = 100  # as an override's --by (pipelines.scoring.overrides.MAX_BY_CHARS)


def who_ran(by: str | None = None) -> str:
    """Who ran the command, as recorded: ``by`` when given (``--by``), else ``EWS_USER``, else the
    login name ("unknown" when the system has none). A given name on more than one line, with control
    characters or longer than :data:`MAX_WHO_CHARS` raises :class:`pipelines.config.ConfigError`."""
    import getpass

    if by:
        return _one_line_name(by, "--by")
    env = os.environ.get("EWS_USER")
    if env:
        return _one_line_name(env, "EWS_USER")
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _one_line_name(name: str, where: str) -> str:
    """``name`` when it is a name on one line: before, an EWS_USER holding a line break, a bell or
    terminal escapes was recorded as typed in the registry and `ews models history` printed it over two
    lines, ringing the terminal (s36-attack)."""
    import unicodedata

    if len(name) <= MAX_WHO_CHARS and not any(unicodedata.category(c)[0] == "C" for c in name):
        return name
    from pipelines.config import ConfigError

    shown = name[:40] + ("..." if len(name) > 40 else "")
    raise ConfigError(
        f"{where} {shown!r} ({len(name):,} characters) is recorded as who ran the command: give a name on one "
        f"line, at most {MAX_WHO_CHARS} characters, without tabs, line breaks or other control characters, "
        + ("e.g. export EWS_USER='A. Jansen'" if where == "EWS_USER" else "e.g. --by 'A. Jansen'")
    )
