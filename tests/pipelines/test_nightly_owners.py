"""Queue owners from conf/teams.yaml: coverage, capacity, and the same owner from night to night."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.config import ConfigError, load_config
from pipelines.config.teams import Collector, TeamsConfig
from pipelines.scoring.owners import assign_owners, assign_queues, previous_owners

TEAM = (
    Collector(name="anna", capacity=2, countries=("DE",)),
    Collector(name="ben", capacity=1),
    Collector(name="chloe", capacity=3, segments=("retail",), queues=("recovery",)),
)


def queue(n: int, country: str = "DE", segment: str = "retail") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "debtor_id": pd.Series([f"d{i}" for i in range(n)], dtype="string"),
            "segment": segment,
            "country": country,
        }
    )


def test_without_teams_everything_is_unassigned() -> None:
    got = assign_owners(queue(3), (), None, "collections")
    assert got["owner"].tolist() == ["unassigned"] * 3
    # no capacity known: empty, not False on every row (s11-small: a lead read "Today: FALSE" x 56)
    assert got["within_capacity"].isna().all()
    col, rec = assign_queues([(queue(3), "collections"), (queue(2), "recovery")], (), None)
    assert col["within_capacity"].isna().all() and rec["within_capacity"].isna().all()


def test_work_is_spread_in_proportion_to_capacity() -> None:
    got = assign_owners(queue(6), TEAM, None, "collections")
    # chloe works recovery only; anna (capacity 2) gets twice ben's (capacity 1), in rank order:
    # loads (anna/2, ben/1): d0 anna (0<=0, file order), d1 ben, d2 anna, d3 anna, d4 ben, d5 anna
    assert got["owner"].tolist() == ["anna", "ben", "anna", "anna", "ben", "anna"]
    # each owner's top rows up to their capacity are today's work
    assert got["within_capacity"].tolist() == [True, True, True, False, False, False]


def test_coverage_by_country_segment_and_queue() -> None:
    rows = pd.concat([queue(2, country="FR"), queue(1, country="FR", segment="steel")], ignore_index=True)
    rows["debtor_id"] = pd.Series(["f0", "f1", "s0"], dtype="string")
    assert assign_owners(rows, TEAM, None, "collections")["owner"].tolist() == ["ben"] * 3
    rec = assign_owners(rows, TEAM, None, "recovery")["owner"].tolist()
    assert rec == ["ben", "chloe", "ben"]  # tie 0/1 vs 0/3: file order; then ben 1/1 > chloe 0/3; steel: ben
    nobody = (Collector(name="anna", capacity=2, countries=("DE",)),)
    assert assign_owners(rows, nobody, None, "collections")["owner"].tolist() == ["unassigned"] * 3


def test_a_debtor_keeps_its_owner_from_last_night() -> None:
    first = assign_owners(queue(4), TEAM, None, "collections")
    night1 = queue(4).assign(owner=first["owner"])
    # tonight the order changed and a new debtor ranks first
    tonight = pd.DataFrame({"debtor_id": pd.Series(["new", "d3", "d2", "d1", "d0"], dtype="string")})
    tonight = tonight.assign(segment="retail", country="DE")
    got = assign_owners(tonight, TEAM, previous_owners([night1, None]), "collections")
    kept = dict(zip(tonight["debtor_id"], got["owner"], strict=True))
    assert {d: kept[d] for d in ["d0", "d1", "d2", "d3"]} == dict(
        zip(night1["debtor_id"], night1["owner"], strict=True)
    )
    # kept loads: anna 3 (1.5 of capacity), ben 1 (1.0): the new debtor goes to ben
    assert kept["new"] == "ben"
    # an owner who no longer covers the debtor (moved to France) does not keep it
    moved = tonight.assign(country="FR")
    assert set(assign_owners(moved, TEAM, previous_owners([night1]), "collections")["owner"]) == {"ben"}


def test_teams_file_is_validated(tmp_path) -> None:
    good = tmp_path / "teams.yaml"
    good.write_text("kind: teams\ncollectors:\n  - {name: anna, capacity: 40, countries: [DE]}\n")
    assert load_config(good, expect=TeamsConfig).collectors[0].capacity == 40
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: teams\ncollectors:\n  - {name: anna, capacity: 0}\n  - {name: anna, capacity: 3}\n")
    with pytest.raises(ConfigError, match=r"collectors\.0\.capacity"):
        load_config(bad, expect=TeamsConfig)
    bad.write_text("kind: teams\ncollectors:\n  - {name: unassigned, capacity: 3}\n")
    with pytest.raises(ConfigError, match="reserved"):
        load_config(bad, expect=TeamsConfig)


def test_demo_config_points_at_a_valid_demo_roster(tmp_path) -> None:
    from pathlib import Path

    from pipelines.commands.score import demo_nightly_config
    from pipelines.config.nightly import NightlyConfig

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(demo_nightly_config(root / "conf" / "nightly.yaml", tmp_path), expect=NightlyConfig)
    assert cfg.teams == tmp_path / "teams.yaml"
    team = load_config(cfg.teams, expect=TeamsConfig).collectors
    assert len(team) == 5 and any(c.queues == ("recovery",) for c in team)


def test_one_daily_capacity_across_both_queues() -> None:
    """dana (capacity 3) owns 4 collections and 2 recovery rows: 3 rows today in all, split 4:2
    -> 2 + 1, the top rows by rank of each queue (per queue it would be 3 + 2 = 5)."""
    dana = (Collector(name="dana", capacity=3),)
    col, rec = assign_queues([(queue(4), "collections"), (queue(2), "recovery")], dana, None)
    assert col["within_capacity"].tolist() == [True, True, False, False]
    assert rec["within_capacity"].tolist() == [True, False]
    small = (Collector(name="dana", capacity=2),)  # 1 and 2 rows: exact 0.67 / 1.33 -> 1 + 1
    col, rec = assign_queues([(queue(1), "collections"), (queue(2), "recovery")], small, None)
    assert col["within_capacity"].tolist() == [True] and rec["within_capacity"].tolist() == [True, False]
    roomy = (Collector(name="dana", capacity=10),)  # under capacity: every row today
    col, rec = assign_queues([(queue(4), "collections"), (queue(2), "recovery")], roomy, None)
    assert col["within_capacity"].all() and rec["within_capacity"].all()


def test_recovery_rows_spread_knowing_the_collections_load() -> None:
    """x works both queues, y recovery only (capacity 2 each). x owns the 2 collections rows, so
    the recovery rows go to y, not x then y as a queue on its own would spread them."""
    team = (Collector(name="x", capacity=2), Collector(name="y", capacity=2, queues=("recovery",)))
    col, rec = assign_queues([(queue(2), "collections"), (queue(2), "recovery")], team, None)
    assert col["owner"].tolist() == ["x", "x"] and rec["owner"].tolist() == ["y", "y"]
    assert assign_owners(queue(2), team, None, "recovery")["owner"].tolist() == ["x", "y"]
    assert col["within_capacity"].all() and rec["within_capacity"].all()


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["Anna", "anna"], "unique .Excel sheet names ignore case"),
        (["All", "Ben"], r"\['All'\] would be the name of an Excel sheet"),
        (["ABOUT"], "would be the name of an Excel sheet"),
        (["History"], "would be the name of an Excel sheet"),
        (["'Ann'"], "cannot start or end with an apostrophe"),
    ],
)
def test_collector_names_that_cannot_be_sheets_are_refused(tmp_path, names, message) -> None:
    """s6-robust: `ews config check` passed these; the nightly then stopped at the exports with
    xlsxwriter's DuplicateWorksheetName / InvalidWorksheetName and Prefect tracebacks (exit 1)."""
    bad = tmp_path / "teams.yaml"
    bad.write_text(
        "kind: teams\ncollectors:\n" + "".join(f'  - {{name: "{n}", capacity: 3}}\n' for n in names)
    )
    with pytest.raises(ConfigError, match=message):
        load_config(bad, expect=TeamsConfig)


def test_owner_sheets_are_named_as_written_and_their_cells_neutralised(tmp_path) -> None:
    """s6-robust: an owner "=Boss" (a valid collector name) was neutralised to "'=Boss" before it
    named its sheet, which Excel forbids: every nightly crashed at the exports (exit 1)."""
    import datetime as dt
    import zipfile

    from pipelines.adapters.exports import write_xlsx

    frame = pd.DataFrame({"debtor_id": ["D1", "D2", "D3"], "owner": ["=Boss", "Ben", "=Boss"]})
    path = write_xlsx(frame, tmp_path / "q.xlsx", "all", dt.datetime(2024, 6, 30), split_by="owner")
    book = zipfile.ZipFile(path)
    workbook = book.read("xl/workbook.xml").decode()
    assert [n for n in ("all", "=Boss", "Ben") if f'name="{n}"' in workbook] == ["all", "=Boss", "Ben"]
    boss = book.read("xl/worksheets/sheet2.xml").decode()
    assert boss.count("'=Boss") == 2 and "D1" in boss and "D3" in boss and "D2" not in boss
