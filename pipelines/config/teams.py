"""``kind: teams`` -- the collectors who work the queues, what they cover and how much per day.

Optional: ``conf/teams.yaml`` (the nightly config's ``teams`` key). Without it every queue row goes
to one owner, ``unassigned``. Example::

    kind: teams
    collectors:
      - {name: Anna, countries: [DE, AT], capacity: 40}
      - {name: Ben, segments: [retail], capacity: 25}
      - {name: Chloe, queues: [recovery], capacity: 15}
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import Field, model_validator

from pipelines.config import ConfigModel

KIND = "teams"
UNASSIGNED = "unassigned"

QueueName = Literal["collections", "recovery"]


class Collector(ConfigModel):
    """One collector. Empty ``segments`` / ``countries`` mean any."""

    name: str = Field(min_length=1, description="shown as the owner; one XLSX sheet each")
    capacity: int = Field(ge=1, description="debtors this collector works per day")
    segments: tuple[str, ...] = Field((), description="debtor segments covered (empty: all)")
    countries: tuple[str, ...] = Field((), description="ISO-3166 alpha-2 countries covered (empty: all)")
    queues: tuple[QueueName, ...] = Field(
        ("collections", "recovery"), min_length=1, description="queues this collector works"
    )


RESERVED_SHEETS = frozenset({"all", "about", "history"})
"""Sheets of the queue workbooks (``pipelines.adapters.exports.write_exports``: "all", "about") and
Excel's reserved "History": a collector's sheet cannot take these names."""


class TeamsConfig(ConfigModel):
    kind: Literal["teams"] = "teams"
    collectors: tuple[Collector, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> TeamsConfig:
        names = [c.name for c in self.collectors]
        hidden = [n for n in names if any(unicodedata.category(ch)[0] == "C" for ch in n)]
        if hidden:
            # s42-attack: 'Anna' + a zero-width space read like 'Anna' (two owners, two sheets alike);
            # a line break or a bell character went into a sheet's tab
            raise ValueError(
                f"collectors: {', '.join(ascii(n) for n in hidden)} hold invisible or control characters (zero-width "
                "spaces, line breaks, tabs, ...): retype the names as plain text"
            )
        if len({unicodedata.normalize("NFC", n).casefold() for n in names}) != len(names):
            # s42-attack: 'Zoë' typed twice, once with the accent as its own character (NFD)
            raise ValueError(
                f"collectors: names must be unique (Excel sheet names ignore case; a letter with an accent "
                f"typed two ways is one letter), got {', '.join(ascii(n) for n in names)}"
            )
        if any(n != n.strip() for n in names):
            # 'Anna' and 'Anna ' were two owners that read alike in the queue (s35-attack)
            raise ValueError(
                f"collectors: a name starts or ends with a space: {[n for n in names if n != n.strip()]}; "
                "remove the spaces (the queue's owner and the sheet would read like another collector's)"
            )
        taken = [n for n in names if n.casefold() in RESERVED_SHEETS]
        if taken:
            raise ValueError(
                f"collectors: {taken} would be the name of an Excel sheet ews writes itself or Excel "
                f"reserves ({', '.join(sorted(RESERVED_SHEETS))}, any case); rename the collector"
            )
        if any(n.startswith("'") or n.endswith("'") for n in names):
            raise ValueError(
                "collectors: a name is an Excel sheet name: it cannot start or end with an apostrophe"
            )
        if any(n.casefold() == UNASSIGNED for n in names):
            # s42-attack: 'Unassigned' beside the rows nobody covers ('unassigned') stopped the nightly
            # on writing the queues' workbook (two sheets of one name to Excel)
            raise ValueError(
                f"collectors: {[n for n in names if n.casefold() == UNASSIGNED]} is reserved (any case) for "
                "the rows nobody covers; rename the collector"
            )
        if any(len(n) > 31 or set(n) & set("[]:*?/\\") for n in names):
            raise ValueError(
                "collectors: a name is an Excel sheet name: at most 31 characters, none of []:*?/\\"
            )
        return self


# codes people write for a country whose ISO-3166 alpha-2 code is another (the EU's and everyday use)
NOT_ISO = {"UK": "GB", "EL": "GR"}


def country_code_problems(collectors: tuple[Collector, ...]) -> list[tuple[str, str, str]]:
    """Each country a collector names that can match no debtor, because ews stores countries as
    ISO-3166 alpha-2 codes in capitals (``ews ingest`` upper-cases them): ``"de"``, ``"Germany"``,
    ``"UK"`` (the United Kingdom is ``GB``): ``(collector, value, line)`` each, the line with the fix."""
    out = []
    for c in collectors:
        for value in c.countries:
            code = value.strip().upper()
            if value in NOT_ISO or code in NOT_ISO:
                fix = f"the ISO code is {NOT_ISO[code]!r}"
            elif len(code) == 2 and code.isascii() and code.isalpha():
                if code == value:
                    continue
                fix = f"write {code!r}: countries are compared exactly, as ingest stores them"
            else:
                fix = "countries are ISO-3166 alpha-2 codes, two capital letters such as 'DE'"
            out.append(
                (c.name, value, f"{c.name}: country {value!r} is not a country code ews stores ({fix})")
            )
    return out
