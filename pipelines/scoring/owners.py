"""An owner for every queue row, from the collectors of ``conf/teams.yaml``.

1. A debtor keeps last night's owner while that collector still covers it (same segment and
   country rules, same queue).
2. Every other row, in rank order, goes to the collector covering it whose load relative to their
   daily capacity is lowest (ties: the order of the file). Work is spread in proportion to capacity.
3. A row no collector covers, and every row when there is no teams file, goes to ``unassigned``.

``within_capacity`` marks each owner's top ``capacity`` rows by rank: today's work. A collector's
capacity is per day, not per queue: :func:`assign_queues` spreads the recovery queue knowing the
rows each collector already owns in the collections queue, and :func:`share_capacity` splits one
collector's daily capacity between the queues in proportion to the rows owned in each (largest
remainder; ties go to the collections queue), the top rows by rank in each queue.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config.teams import UNASSIGNED, Collector
from pipelines.words import counted


def _covers(c: Collector, segment: str, country: str, queue: str) -> bool:
    return (
        queue in c.queues
        and (not c.segments or segment in c.segments)
        and (not c.countries or country in c.countries)
    )


def assign_owners(
    queue: pd.DataFrame,
    collectors: Sequence[Collector],
    previous: pd.Series | None,
    queue_name: str,
    owned: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """``owner`` and ``within_capacity`` per row of ``queue`` (same index), rows in rank order.

    ``queue``: ``debtor_id`` and optional ``segment`` / ``country``. ``previous``: last night's
    owner per debtor_id (index), or None. ``queue_name``: ``collections`` or ``recovery``.
    ``owned``: rows each collector (by name) already owns in the other queue; they count in the
    load that spreads the new rows. ``within_capacity`` here is for this queue alone
    (:func:`share_capacity` makes it one capacity across queues).
    """
    n = len(queue)
    if not collectors:  # no teams file: no capacity is known, so "today's work" is left empty, not False
        return pd.DataFrame(
            {
                "owner": pd.Series(UNASSIGNED, index=queue.index, dtype="string"),
                "within_capacity": pd.Series(pd.NA, index=queue.index, dtype="boolean"),
            },
            index=queue.index,
        )

    def text(col: str) -> list[str]:
        if col not in queue:
            return [""] * n
        return queue[col].astype("string").fillna("").tolist()

    segments, countries = text("segment"), text("country")
    ids = queue["debtor_id"].astype("string").tolist()
    prev = {} if previous is None else previous.dropna().astype(str).to_dict()
    by_name = {c.name: i for i, c in enumerate(collectors)}
    capacity = [c.capacity for c in collectors]
    load = [int((owned or {}).get(c.name, 0)) for c in collectors]
    eligible: dict[tuple[str, str], list[int]] = {}
    owner: list[int] = [-1] * n

    def covering(row: int) -> list[int]:
        key = (segments[row], countries[row])
        if key not in eligible:
            eligible[key] = [i for i, c in enumerate(collectors) if _covers(c, *key, queue_name)]
        return eligible[key]

    for row in range(n):  # 1. keep last night's owner
        i = by_name.get(prev.get(ids[row], ""), -1)
        if i >= 0 and i in covering(row):
            owner[row] = i
            load[i] += 1
    for row in range(n):  # 2. spread the rest by capacity, in rank order
        if owner[row] >= 0:
            continue
        options = covering(row)
        if options:
            i = min(options, key=lambda j: (load[j] / capacity[j], j))
            owner[row] = i
            load[i] += 1

    names = np.array([c.name for c in collectors] + [UNASSIGNED], dtype=object)
    codes = np.array(owner, dtype=np.int64)
    out = pd.DataFrame({"owner": pd.Series(names[codes], index=queue.index, dtype="string")})
    position = out.groupby("owner", sort=False).cumcount().to_numpy()
    cap = np.array(capacity + [0], dtype=np.int64)[codes]
    out["within_capacity"] = position < cap
    return out


def assign_queues(
    queues: Sequence[tuple[pd.DataFrame, str]], collectors: Sequence[Collector], previous: pd.Series | None
) -> list[pd.DataFrame]:
    """:func:`assign_owners` for each (queue, name) in turn, each knowing the rows owned in the
    queues before it, then :func:`share_capacity`: one daily capacity per collector across them."""
    out: list[pd.DataFrame] = []
    owned: dict[str, int] = {}
    for frame, name in queues:
        got = assign_owners(frame, collectors, previous, name, owned)
        for owner, n in got["owner"].value_counts().items():
            owned[str(owner)] = owned.get(str(owner), 0) + int(n)
        out.append(got)
    return share_capacity(out, collectors)


def share_capacity(owners: Sequence[pd.DataFrame], collectors: Sequence[Collector]) -> list[pd.DataFrame]:
    """``within_capacity`` recomputed across queues: collector c with capacity k owning n_q rows
    in queue q (rows in rank order) works the top quota_q of each, quota_q = k x n_q / sum(n)
    rounded by largest remainder (ties: the earlier queue), or all rows when sum(n) <= k.
    ``owners``: per queue, ``owner`` per row in rank order. New frames."""
    out = [f.copy() for f in owners]
    if not collectors:  # no capacity known: within_capacity stays empty (assign_owners)
        return out
    capacity = {c.name: c.capacity for c in collectors}
    counts = [f["owner"].astype("string").value_counts() for f in owners]
    for f in out:
        f["within_capacity"] = False
    for name, cap in capacity.items():
        n = np.array([int(c.get(name, 0)) for c in counts], dtype=np.int64)
        if n.sum() <= cap:
            quota = n
        else:
            exact = cap * n / n.sum()
            quota = np.floor(exact).astype(np.int64)
            order = sorted(range(len(n)), key=lambda q: (-(exact[q] - quota[q]), q))
            for q in order[: cap - int(quota.sum())]:
                quota[q] += 1
        for f, k in zip(out, quota, strict=True):
            mine = (f["owner"] == name).to_numpy(dtype=bool)
            position = np.cumsum(mine) - 1
            f["within_capacity"] = f["within_capacity"].to_numpy(dtype=bool) | (mine & (position < k))
    return out


def previous_owners(frames: Sequence[pd.DataFrame | None]) -> pd.Series | None:
    """Owner per debtor_id from last night's queues (the first frame naming a debtor wins)."""
    found = [f[["debtor_id", "owner"]] for f in frames if f is not None and "owner" in f.columns]
    if not found:
        return None
    both = pd.concat(found, ignore_index=True).drop_duplicates("debtor_id")
    return both.set_index(both["debtor_id"].astype("string"))["owner"].astype("string")


LAST_NIGHT_FILES = ("collections_queue.parquet", "recovery_queue.parquet", "watchlist.parquet")
"""Where last night's owners are read, in this order: the queues, then the watchlist. A flagged debtor
that left the queue for a night (nothing overdue) keeps its watchlist owner when it comes back (s39-walk:
D0000025, escalated and owned by Chloe on the watchlist of 2025-03-31, went to Ben when it was overdue
again on 2025-04-30)."""


def last_night_owners(run_dir: Path | None) -> pd.Series | None:
    """Owner per debtor_id in the published run ``run_dir`` (last night's), from
    :data:`LAST_NIGHT_FILES` that exist and carry an ``owner`` column; None without a run."""
    import pyarrow.parquet as pq

    if run_dir is None:
        return None
    return previous_owners(
        [
            pd.read_parquet(path, columns=["debtor_id", "owner"])
            for name in LAST_NIGHT_FILES
            if (path := run_dir / name).exists() and "owner" in pq.read_schema(path).names
        ]
    )


def near_spelling(value: str, have: Sequence[str]) -> str | None:
    """The value of ``have`` (sorted, as the book spells them) that ``value`` differs from only in case
    or spaces, else the closest within a typo (``difflib`` ratio >= 0.8), else None. Teams files and
    ``queue.lgd.by_segment`` compare names exactly; this names the value a user most likely meant."""
    from difflib import get_close_matches

    folded = {v.strip().casefold(): v for v in have}
    return folded.get(value.strip().casefold()) or next(
        iter(get_close_matches(value, have, n=1, cutoff=0.8)), None
    )


def unknown_coverage(
    collectors: Sequence[Collector], segments: Collection[str], countries: Collection[str]
) -> list[tuple[str, str, str, str | None]]:
    """Each segment or country a collector names that no debtor has (``segments`` / ``countries``: the
    values the book holds), as ``(collector, column, value, near)``: ``near`` is the book's value it
    is close to (case, spaces or a typo: ``"Services"`` -> ``"services"``, :func:`near_spelling`), else
    None (a country not in the book yet, or a mistake nothing resembles). Collectors in file order,
    segments first."""
    found: list[tuple[str, str, str, str | None]] = []
    for field, column, values in (("segments", "segment", segments), ("countries", "country", countries)):
        have = sorted({str(v) for v in values})
        for c in collectors:
            for value in getattr(c, field):
                if value in have:
                    continue
                found.append((c.name, column, value, near_spelling(value, have)))
    return found


def coverage_gaps(
    collectors: Sequence[Collector], scored: pd.DataFrame, queues: Mapping[str, pd.DataFrame]
) -> dict[str, object]:
    """What a teams file leaves unowned tonight: ``{}`` without collectors. Otherwise
    ``unassigned``: the rows per queue that went to ``unassigned``, out of ``rows``; ``unknown``: each
    segment or country a collector names that no scored debtor has but that is close to one the book
    has (case, spaces or a typo: ``"Ben: segment 'Services' (the book has 'services')"``; a value with
    no debtor and nothing close, such as a country not in the book yet, is no mistake); ``uncovered`` /
    ``uncovered_countries``: the segments / countries of unassigned rows, each only when a collector
    names segments / countries (a teams file split by country alone named the unowned rows' segments
    before session 34). ``scored``: one row per debtor with optional ``segment`` and
    ``country``; ``queues``: name -> rows with ``owner`` (and ``segment``)."""
    if not collectors:
        return {}
    have = {
        column: set(scored[column].dropna().astype(str)) if column in scored else set()
        for column in ("segment", "country")
    }
    unknown = [
        f"{name}: {column} {value!r} (the book has {near!r})"
        for name, column, value, near in unknown_coverage(collectors, have["segment"], have["country"])
        if near is not None
    ]
    unassigned = {name: int((q["owner"] == UNASSIGNED).sum()) for name, q in queues.items()}

    def uncovered(column: str, field: str) -> list[str]:
        if not any(getattr(c, field) for c in collectors):  # nobody splits the work by it
            return []
        return sorted(
            {
                str(v)
                for q in queues.values()
                if column in q
                for v in q.loc[q["owner"] == UNASSIGNED, column].dropna()
            }
        )

    return {
        "unassigned": unassigned,
        "rows": {name: int(len(q)) for name, q in queues.items()},
        "unknown": unknown,
        "uncovered": uncovered("segment", "segments"),
        "uncovered_countries": uncovered("country", "countries"),
    }


def owner_gaps_note(gaps: Mapping[str, object]) -> str:
    """:func:`coverage_gaps` in one line for the flow's log and ``ews score``'s summary."""
    rows, unassigned = gaps["rows"], gaps["unassigned"]
    parts = []
    if any(unassigned.values()):
        counts = " and ".join(
            f"{unassigned[q]:,} of {counted(rows[q], f'{q} queue row')}" for q in unassigned if unassigned[q]
        )
        which = "; ".join(
            f"{label} {', '.join(values)}"
            for label, values in (
                ("segments", gaps["uncovered"]),
                ("countries", gaps.get("uncovered_countries") or []),
            )
            if values
        )
        parts.append(
            f"{counts} went to '{UNASSIGNED}': no collector in the teams file covers them"
            + (f" ({which})" if which else "")
        )
    if gaps["unknown"]:
        parts.append(
            "the teams file names values no debtor has: "
            + "; ".join(gaps["unknown"])
            + " (names are compared exactly, case included)"
        )
    return "; ".join(parts)
