"""The registry's versions, aliases and decisions, read without importing MLflow or pandas.

``ews models list`` and ``ews models history`` only read. With the default local SQLite tracking
store they read MLflow's own tables (``model_versions``, ``model_version_tags``,
``registered_model_aliases``) directly, read-only, with :mod:`sqlite3`: the answer comes in a
fraction of a second instead of the seconds that importing MLflow takes. Any other store (a
tracking server), or a SQLite file whose tables do not look as expected (another MLflow version),
is read through ``MlflowClient``. ``tests/pipelines/adapters/test_registry.py`` checks that both
ways give the same records.

Writes (log, gate, promote) always go through MLflow: :mod:`pipelines.adapters.registry`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_TRACKING_URI",
    "StoreUnreadableError",
    "VersionRecord",
    "decision_events",
    "LostVersions",
    "lost_versions",
    "read_versions",
    "tracking_uri",
    "version_rows",
]

DEFAULT_TRACKING_URI = "sqlite:///data/mlflow/mlflow.db"
EVENTS_TAG = "ews.events"
CHAMPION = "champion"
PAYDATE_MODEL_NAME = "ews-paydate"  # the payment-date model (pipelines.adapters.paydate_registry)
CHALLENGER = "challenger"
_WORKSPACE = "default"  # MLflow 3's workspace column; ews uses the default workspace only
_DELETED = "Deleted_Internal"  # current_stage of a version deleted through MLflow (row and tags kept)
DELETED_WORDS = "deleted through MLflow's UI or API, with its aliases and model files"
# same instant: the old champion retires before the new one takes over
_EVENT_RANK = {CHALLENGER: 0, "queue_key": 0.5, "gate_failed": 1, "retired": 2, CHAMPION: 3}


class StoreUnreadableError(ConnectionError):
    """The local SQLite tracking store is damaged or is no SQLite file. The message names it and the fix."""


# SQLite's primary result codes for a file that is not a database or whose pages are damaged
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


_CHECKED: set[tuple[str, int, int]] = set()  # (file, size, mtime) found whole by this process
_RECOVER = (
    "Restore it from a backup; or move it away and retrain (`ews train --data DIR`), which starts a new "
    "registry without the versions and decisions recorded in this one. The store is "
    "paths.mlflow_tracking_uri in conf/ews.yaml (or MLFLOW_TRACKING_URI)"
)


def check_sqlite_store(db: Path) -> None:
    """Raise :class:`StoreUnreadableError` when the SQLite file ``db`` exists but cannot be read as a
    database (cut short, overwritten, another kind of file) or holds a damaged page. Before, every
    command that reads the registry ended in SQLAlchemy's traceback "database disk image is
    malformed" (s36-attack); a damaged table page behind a sound schema page passed that first read
    and was taken for an empty registry ("no model 'ews-pd' is registered there yet: run `ews
    train`", s37-attack). SQLite's ``quick_check`` reads every page once (3 ms for a 1.1 MB store),
    once per process for each state of the file. A store that is only busy (locked by a training)
    passes: MLflow waits for it."""
    if not db.is_file():
        return
    try:
        st = db.stat()
        key = (str(db.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return
    if key in _CHECKED:
        return
    try:
        with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as con:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            found = [row[0] for row in con.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None or code & 0xFF not in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            return
        raise StoreUnreadableError(
            f"the MLflow store {db.resolve()} cannot be read: {exc} (the file is damaged, or is not an "
            f"SQLite database). {_RECOVER}"
        ) from None
    if found != ["ok"]:
        said = "; ".join(line.strip() for row in found for line in row.splitlines() if "***" not in line)
        raise StoreUnreadableError(
            f"the MLflow store {db.resolve()} is damaged: SQLite's check of its pages found {said[:300]} "
            f"(a disk fault, or a copy taken while it was written). {_RECOVER}"
        )
    _CHECKED.add(key)


@dataclass(frozen=True)
class VersionRecord:
    """One registered version: number, creation time (ms since epoch, UTC), run, tags, aliases."""

    version: str
    created_ms: int
    run_id: str
    tags: dict[str, str]
    aliases: tuple[str, ...]
    deleted: bool = False  # deleted through MLflow (its row and tags stay in a SQLite store)
    deleted_ms: int = 0  # when (MLflow's last update of the deleted row), 0 when not deleted


def public_uri(uri: str) -> str:
    """``uri`` without a user name or password (safe to print); a local SQLite file as an absolute path."""
    from urllib.parse import urlsplit, urlunsplit

    if uri.startswith("sqlite:///"):
        return f"sqlite:///{Path(uri.removeprefix('sqlite:///')).resolve()}"

    parts = urlsplit(uri)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=host))


def sqlite_uri_problem(uri: str) -> str | None:
    """What is wrong with a ``sqlite:`` tracking URI (None when it names a file): ``sqlite://x.db``
    (two slashes: SQLAlchemy refuses it with a traceback) or an in-memory store (the registry would
    vanish with the process)."""
    if not uri.startswith("sqlite:"):
        return None
    path = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None
    if path is None or path in ("", ":memory:"):
        return (
            f"{uri!r} is not a SQLite file URL: write sqlite:/// then a path relative to the project folder "
            "(sqlite:///data/mlflow/mlflow.db), or sqlite://// then an absolute path (sqlite:////srv/ews/mlflow.db)"
        )
    return None


# The store of this process's last ``pipelines.adapters.registry.configure``: the store of a later call
# that names none. Kept here, not in the environment: MLflow's set_tracking_uri also writes
# MLFLOW_TRACKING_URI into os.environ, and the next configure read it back as the user's own, so a
# second project's URI in the same process was ignored (BENCHMARKS.md, s23-determinism).
_CONFIGURED: list[str] = []


def remember_configured(uri: str) -> None:
    """Record ``uri`` as the store this process's MLflow now points at (``registry.configure``)."""
    _CONFIGURED[:] = [uri]


def tracking_uri(given: str | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``given`` (project config), else the store this process
    was last configured with (:func:`remember_configured`), else the local default. A malformed
    SQLite URL raises :class:`pipelines.config.ConfigError` naming where it came from."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    uri = env or given or (_CONFIGURED[0] if _CONFIGURED else None) or DEFAULT_TRACKING_URI
    problem = sqlite_uri_problem(uri)
    if problem is not None:
        from pipelines.config import ConfigError

        where = "MLFLOW_TRACKING_URI (environment)" if env else "paths.mlflow_tracking_uri (conf/ews.yaml)"
        raise ConfigError(f"{where}: {problem}")
    return uri


def read_versions(
    name: str, given_uri: str | None = None, deleted: bool = False
) -> list[VersionRecord] | None:
    """Every live version of the registered model ``name``, by version number; None when ``name``
    is not registered (or the local store does not exist yet). ``deleted``: also the versions deleted
    through MLflow's UI or API, marked ``deleted`` (a SQLite store keeps their rows and tags, so their
    decisions; MLflow's API, the only reader of a tracking server, hides them)."""
    uri = tracking_uri(given_uri)
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        if not db.is_file():
            return None
        check_sqlite_store(db)
        try:
            return _from_sqlite(db, name, deleted)
        except sqlite3.Error:
            pass  # not the tables this reader knows: ask MLflow
    return _from_client(name, given_uri)


def _from_sqlite(db: Path, name: str, deleted: bool = False) -> list[VersionRecord] | None:
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as con:
        known = con.execute(
            "SELECT 1 FROM registered_models WHERE workspace = ? AND name = ?", (_WORKSPACE, name)
        ).fetchone()
        if known is None:
            return None
        versions = [
            (v, created, run_id, int(updated or 0) if stage == _DELETED else 0)
            for v, created, run_id, stage, updated in con.execute(
                "SELECT version, creation_time, run_id, current_stage, last_updated_time FROM model_versions "
                "WHERE workspace = ? AND name = ? ORDER BY version",
                (_WORKSPACE, name),
            )
            if deleted or stage != _DELETED
        ]
        tags: dict[str, dict[str, str]] = {}
        for version, key, value in con.execute(
            "SELECT version, key, value FROM model_version_tags WHERE workspace = ? AND name = ?",
            (_WORKSPACE, name),
        ):
            tags.setdefault(str(version), {})[key] = value
        aliases: dict[str, list[str]] = {}
        for alias, version in con.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE workspace = ? AND name = ?",
            (_WORKSPACE, name),
        ):
            aliases.setdefault(str(version), []).append(alias)
    return [
        VersionRecord(
            version=str(v),
            created_ms=int(created or 0),
            run_id="" if gone else run_id or "",  # MLflow overwrites a deleted version's run id
            tags=tags.get(str(v), {}),
            aliases=tuple(sorted(aliases.get(str(v), []))),
            deleted=bool(gone),
            deleted_ms=gone,
        )
        for v, created, run_id, gone in versions
    ]


def _from_client(name: str, given_uri: str | None) -> list[VersionRecord] | None:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from pipelines.adapters.registry import configure

    configure(given_uri)
    client = MlflowClient()
    try:
        model = client.get_registered_model(name)
        found = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return None
    aliases: dict[str, list[str]] = {}
    for alias, v in (model.aliases or {}).items():
        aliases.setdefault(str(v), []).append(alias)
    return [
        VersionRecord(
            version=str(mv.version),
            created_ms=int(mv.creation_timestamp or 0),
            run_id=mv.run_id or "",
            tags=dict(mv.tags),
            aliases=tuple(sorted(aliases.get(str(mv.version), []))),
        )
        for mv in sorted(found, key=lambda mv: int(mv.version))
    ]


@dataclass(frozen=True)
class LostVersions:
    """What the registry lost of a model: ``dangling`` aliases (alias: the version it names, which is
    no longer there) and ``deleted`` version numbers. ``words``: both in one clause, or None."""

    name: str
    dangling: dict[str, str]
    deleted: tuple[int, ...]

    @property
    def words(self) -> str | None:
        gone: dict[str, list[str]] = {}
        for alias, version in sorted(self.dangling.items()):
            gone.setdefault(version, []).append(repr(alias))
        said = [
            f"{'alias' if len(names) == 1 else 'aliases'} {' and '.join(names)} "
            f"{'names' if len(names) == 1 else 'name'} version {version}, which is no longer in the registry "
            "(its record was removed from the store)"
            for version, names in gone.items()
        ]
        if self.deleted:
            one = len(self.deleted) == 1
            said.append(
                f"{'version' if one else 'versions'} {', '.join(map(str, self.deleted))} of {self.name!r} "
                f"{'was' if one else 'were'} deleted (with {'its' if one else 'their'} aliases)"
            )
        return "; ".join(said) or None


def lost_versions(name: str, given_uri: str | None = None) -> LostVersions:
    """What the registry lost of ``name``: aliases that name a version no longer there (its record
    removed from the store by hand, or by a partly restored copy) and versions deleted (MLflow's UI
    or API delete a version with its aliases). Before, both read "has no alias 'champion'" / "no
    versions yet" (s36-attack)."""
    nothing = LostVersions(name, {}, ())
    uri = tracking_uri(given_uri)
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        if not db.is_file():
            return nothing
        try:
            with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as con:
                rows = con.execute(
                    "SELECT version, current_stage FROM model_versions WHERE workspace = ? AND name = ?",
                    (_WORKSPACE, name),
                ).fetchall()
                aliases = dict(
                    con.execute(
                        "SELECT alias, version FROM registered_model_aliases WHERE workspace = ? AND name = ?",
                        (_WORKSPACE, name),
                    ).fetchall()
                )
        except sqlite3.Error:
            return nothing
        live = {str(v) for v, stage in rows if stage != _DELETED}
        deleted = tuple(sorted(int(v) for v, stage in rows if stage == _DELETED))
    else:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            aliases = dict(client.get_registered_model(name).aliases or {})
            live = {str(mv.version) for mv in client.search_model_versions(f"name='{name}'")}
        except MlflowException:
            return nothing
        deleted = ()
    dangling = {str(a): str(v) for a, v in aliases.items() if str(v) not in live}
    return LostVersions(name, dangling, deleted)


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def decision_events(records: list[VersionRecord] | None) -> list[dict[str, Any]]:
    """Every recorded decision, oldest first: ``at`` (aware UTC datetime), ``version``, ``event``,
    ``by``, ``mode``, ``reason``, ``previous``, ``summary`` (the reason in one short line: the one
    recorded with the event, else :func:`short_reason`) and ``comparison`` (a gate decision's comparison
    with the champion and what it is worth, the version's ``ews.gate.comparison`` tag; "" otherwise). A gate's reason recorded before session 28 is
    shown in today's words (``models.evaluate.in_words``: AUC, not test_auc); a person's reason for a
    manual promotion as it was typed."""
    from models.gate_words import in_words

    rows = []
    for record in records or []:
        raw = record.tags.get(EVENTS_TAG)
        for event in json.loads(raw) if raw else []:
            said = (lambda text: text) if event.get("mode") == "manual" else in_words
            ev = {**event, **{k: said(event[k]) for k in ("reason", "summary") if event.get(k)}}
            rows.append(
                {
                    "at": _utc(ev["at"]),
                    "version": record.version,
                    "event": ev["event"],
                    "by": ev.get("by", ""),
                    "mode": ev.get("mode", ""),
                    "reason": ev.get("reason", ""),
                    "previous": ev.get("previous") or "",
                    "summary": _retired_words(ev) or ev.get("summary") or short_reason(ev.get("reason", "")),
                    "deleted": record.deleted,
                    # the gate's comparison with the champion and what it is worth (session 42)
                    "comparison": record.tags.get("ews.gate.comparison", "")
                    if ev["event"] == "gate_failed" or (ev["event"] == CHAMPION and ev.get("mode") == "gate")
                    else "",
                }
            )
        if record.deleted and raw:  # the deletion itself, dated as the store dates it (s38-attack)
            rows.append(
                {
                    "at": datetime.fromtimestamp(record.deleted_ms / 1000, tz=UTC),
                    "version": record.version,
                    "event": "deleted",
                    "by": "",
                    "mode": "mlflow",
                    "reason": DELETED_WORDS,
                    "previous": "",
                    "summary": DELETED_WORDS,
                    "deleted": True,
                    "comparison": "",
                }
            )
    return sorted(rows, key=lambda row: (row["at"], _EVENT_RANK.get(row["event"], 4)))


def _retired_words(event: dict[str, Any]) -> str:
    """A retirement's short line names the version that replaced it: the reason recorded with it is
    the new champion's ("v1 retired ... Promoted: every check passed." read as v1's own verdict)."""
    if event.get("event") != "retired" or not event.get("replaced_by"):
        return ""
    reason = short_reason(event.get("reason", ""))
    return f"replaced by v{event['replaced_by']}" + (f", whose promotion said: {reason}" if reason else "")


def short_reason(reason: str, limit: int = 110) -> str:
    """A decision's reason as ``ews models history`` shows it at a glance: a gate's plain verdict (the text
    before its ``Checks:``), else the first clause; cut at a word before ``limit`` characters (with ``...``).
    The full reason is kept in the event (``--verbose``)."""
    gate = " Checks: " in reason
    text = reason.split(" Checks: ")[0] if gate else reason
    accept = re.search(r"`ews models promote [^`]*`", text) if gate else None
    cut = [i for i in (text.find(". ") if gate else text.find("; "), text.find(". ")) if i >= 20]
    text = text[: min(cut) + (1 if text[min(cut)] == "." else 0)] if cut else text
    if len(text) > limit:
        space = text.rfind(" ", 0, limit - 4)  # no space to cut at (a long path or id): at the limit
        text = (text[:space] if space > 0 else text[: limit - 4]).rstrip(",;:") + " ..."
    # a failed gate without a champion: the command that accepts the version stays in the short line
    return f"{text} To accept it anyway: {accept.group(0)}" if accept else text


def _number(tags: dict[str, str], key: str) -> float:
    return float(tags[key]) if key in tags else float("nan")


def _gate_shown(tags: dict[str, str]) -> str:
    """A version's gate outcome for ``ews models list``: passed, failed, ``warned`` (promoted with a WARN
    check: a first model whose ECE missed the limit; "passed" before session 37, beside a later version
    "failed" on the same check), ``manual`` (promoted by hand, no gate)."""
    gate = tags.get("ews.gate", "manual" if "ews.promotion.manual" in tags else "")
    if gate == "passed" and "WARN " in tags.get("ews.gate.reasons", ""):
        return "warned"
    return gate


def version_rows(records: list[VersionRecord] | None) -> list[dict[str, Any]]:
    """One row per version: ``version``, ``created`` (aware UTC datetime), ``aliases``, ``test_auc``,
    ``test_ece`` (a PD model's), ``test_mae_days``, ``test_coverage_80`` (a payment-date model's), ``test_as_of``, ``gate``, ``queue_key`` (the collections queue's key chosen at
    training, ``pd`` or ``blend``; empty for versions trained before it was chosen),
    ``champion_periods`` (``from..until`` spans), ``run_id``."""
    promotions = [e for e in decision_events(records) if e["event"] == CHAMPION]
    periods: dict[str, list[str]] = {}
    for i, row in enumerate(promotions):
        until = promotions[i + 1]["at"].strftime("%Y-%m-%d %H:%M") if i + 1 < len(promotions) else "now"
        periods.setdefault(row["version"], []).append(f"{row['at'].strftime('%Y-%m-%d %H:%M')}..{until}")
    return [
        {
            "version": r.version,
            "created": datetime.fromtimestamp(r.created_ms / 1000, tz=UTC),
            "aliases": ",".join(r.aliases),
            "test_auc": _number(r.tags, "ews.test_auc"),
            "test_ece": _number(r.tags, "ews.test_ece"),
            "test_mae_days": _number(r.tags, "ews.test_mae_days"),  # the payment-date model's
            "test_coverage_80": _number(r.tags, "ews.test_coverage_80"),
            "test_as_of": r.tags.get("ews.test_as_of", ""),
            "gate": _gate_shown(r.tags),
            "queue_key": r.tags.get("ews.queue_key", ""),
            "champion_periods": "; ".join(periods.get(r.version, [])),
            "run_id": r.run_id,
        }
        for r in records or []
    ]
