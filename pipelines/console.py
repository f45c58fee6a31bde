"""The one place the CLI makes its rich consoles: text is printed as typed.

ews's lines carry what users type or their files hold: paths, ``--out`` folders, ids, column names,
segment and owner names, reasons, formats. rich reads ``[...]`` in a printed string as markup and
``:name:`` as an emoji code, so ``[/]`` in a folder name ended a command in a MarkupError traceback,
``g[old]`` printed as ``g`` and ``[link=URL]x[/link]`` became a hidden link (sessions 33 and 34,
BENCHMARKS.md hostile inputs). Escaping at each print site missed sites, session after session.

So markup and emoji codes are off on every console the CLI makes (:func:`console`), and ews's own
colours go through ``style=`` or :class:`rich.text.Text` pieces, never through markup. Two rich objects
read markup whatever the console says: a status spinner's text and a progress bar's ``TextColumn``
(markup on by default). Status lines are given as :class:`Text` (:func:`plain`) and progress columns
use ``markup=False``. ``tests/pipelines/test_hostile_s34.py`` holds the guard: it fails on a console
made elsewhere, on a markup tag left in the CLI's strings, on ``rich.markup.escape`` (with markup off
it would print its backslashes), and it drives the commands with markup-looking text in every field.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.text import Text


def console(*, stderr: bool = False, width: int | None = None, **options: Any) -> Console:
    """A rich console that prints strings as typed: no markup, no emoji codes (``:smile:``)."""
    return Console(stderr=stderr, width=width, markup=False, emoji=False, **options)


def plain(text: str, style: str = "") -> Text:
    """``text`` as a rich Text, never read as markup (for status spinners and styled pieces)."""
    return Text(text, style=style)


@contextmanager
def plain_flow_logs() -> Iterator[None]:
    """Within the block, the flow-run log lines that Prefect's console handler prints replace no emoji
    code: its rich console has markup off (PREFECT_LOGGING_MARKUP) but emoji codes on, so the nightly's
    line "published .../r:smile:s/2024-06-30" showed ``r😄s``, a folder that does not exist. rich keeps
    that setting in ``Console._emoji``; it is put back after. No public setter exists (rich takes ``emoji=`` in
    ``Console(...)`` and ``print(...)`` only; Prefect's handler calls ``print`` without it):
    tests/pipelines/test_walk_s35.py pins both facts and fails, naming them, when rich or Prefect changes."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [
        logging.getLogger(),
        *(v for v in logging.root.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    consoles = {
        id(h.console): h.console
        for lg in loggers
        for h in lg.handlers
        if isinstance(h, PrefectConsoleHandler)
    }
    before = {key: getattr(c, "_emoji", None) for key, c in consoles.items()}
    for c in consoles.values():
        c._emoji = False  # noqa: SLF001 (rich has no public setter)
    try:
        yield
    finally:
        for key, c in consoles.items():
            c._emoji = before[key]  # noqa: SLF001
