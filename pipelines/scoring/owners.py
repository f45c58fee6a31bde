"""An owner for every queue row, from the collectors of ``conf/teams.yaml``.

1. A debtor keeps last night's owner while that collector still covers it (same segment and
   country rules, same queue).
2. Every other row, in rank order, goes to the collector covering it whose load relative to their
   daily capacity is lowest (ties: the order of the file). Work is spread in proportion to capacity.
3. A row no collector covers, and every row when there is no teams file, goes to ``unassigned``.

``within_capacity`` marks each owner's top ``capacity`` rows by rank: today's work.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipelines.config.teams import UNASSIGNED, Collector


def _covers(c: Collector, segment: str, country: str, queue: str) -> bool:
    return (
        queue in c.queues
        and (not c.segments or segment in c.segments)
        and (not c.countries or country in c.countries)
    )


def assign_owners(
    queue: pd.DataFrame, collectors: Sequence[Collector], previous: pd.Series | None, queue_name: str
) -> pd.DataFrame:
    """``owner`` and ``within_capacity`` per row of ``queue`` (same index), rows in rank order.

    ``queue``: ``debtor_id`` and optional ``segment`` / ``country``. ``previous``: last night's
    owner per debtor_id (index), or None. ``queue_name``: ``collections`` or ``recovery``.
    """
    n = len(queue)
    if not collectors:
        return pd.DataFrame(
            {"owner": pd.Series(UNASSIGNED, index=queue.index, dtype="string"), "within_capacity": False},
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
    load = [0] * len(collectors)
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


def previous_owners(frames: Sequence[pd.DataFrame | None]) -> pd.Series | None:
    """Owner per debtor_id from last night's queues (the first frame naming a debtor wins)."""
    found = [f[["debtor_id", "owner"]] for f in frames if f is not None and "owner" in f.columns]
    if not found:
        return None
    both = pd.concat(found, ignore_index=True).drop_duplicates("debtor_id")
    return both.set_index(both["debtor_id"].astype("string"))["owner"].astype("string")
