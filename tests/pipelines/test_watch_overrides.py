"""Watchlist overrides: the append-only audit log, bad requests, overrides in force, watch state."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.overrides import (
    AuditLogError,
    Override,
    OverrideError,
    active_overrides,
    append_override,
    check_head,
    log_head,
    new_override,
    read_log,
)
from pipelines.scoring.watch_state import STATE_FILE, apply_overrides, debtor_history, watch_state, with_state
from pipelines.scoring.watchlist import assign_bands

CFG = NightlyConfig()  # threshold band D (PD >= 0.07); jump +0.03 and +50 %
RUN = dt.date(2024, 8, 31)
NOW = dt.datetime(2024, 9, 1, 9, 30, tzinfo=dt.UTC)


def publish_scores(runs: Path, day: dt.date, rows: list[tuple[str, float, bool]]) -> Path:
    """A minimal published run folder (what `ews watchlist` reads): scores.parquet only."""
    folder = runs / day.isoformat()
    folder.mkdir(parents=True)
    frame = pd.DataFrame(rows, columns=["debtor_id", "pd", "in_default"])
    frame["debtor_id"] = frame["debtor_id"].astype("string")
    frame["band"] = assign_bands(frame["pd"], CFG).where(~frame["in_default"], "default")
    frame.to_parquet(folder / "scores.parquet", index=False)
    return folder


def ov(
    debtor: str, status: str, run: dt.date = RUN, pd_: float | None = 0.08, until=None, band=None
) -> Override:
    return Override(debtor, status, "checked with the customer", "anna", run, pd_, band, until)


# ---------------------------------------------------------------------------------- audit log


def test_log_is_append_only_and_chained(tmp_path) -> None:
    first = append_override(tmp_path, ov("D1", "cleared"), now=NOW)
    before = (tmp_path / "overrides.jsonl").read_bytes()
    second = append_override(tmp_path, ov("D2", "escalated", until=dt.date(2024, 12, 31)), now=NOW)
    after = (tmp_path / "overrides.jsonl").read_bytes()
    assert after.startswith(before) and after.count(b"\n") == 2  # existing bytes never change
    assert (first["seq"], second["seq"]) == (1, 2) and second["prev"] == first["hash"]
    assert first["at"] == "2024-09-01T09:30:00Z" and first["run"] == "2024-08-31" and first["pd"] == 0.08
    assert second["until"] == "2024-12-31" and first["until"] is None
    assert [r["debtor_id"] for r in read_log(tmp_path)] == ["D1", "D2"]
    assert log_head(tmp_path) == {"lines": 2, "hash": second["hash"]}


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda lines: [lines[0].replace("checked with", "never spoke to"), *lines[1:]],
            "line 1 (debtor D1) was changed",
        ),
        (lambda lines: lines[1:], "line 1: out of sequence"),
        (lambda lines: [lines[0], "{not json\n", lines[2]], "line 2 is not a JSON object"),
        (lambda lines: [lines[0], lines[2], lines[1]], "line 2: out of sequence"),
    ],
)
def test_tampered_log_is_detected_at_the_line(tmp_path, tamper, message) -> None:
    for d in ("D1", "D2", "D3"):
        append_override(tmp_path, ov(d, "cleared"), now=NOW)
    path = tmp_path / "overrides.jsonl"
    path.write_text("".join(tamper(path.read_text().splitlines(keepends=True))))
    with pytest.raises(AuditLogError, match=re.escape(message)):
        read_log(tmp_path)
    with pytest.raises(AuditLogError):  # and nothing more is appended to a broken log
        append_override(tmp_path, ov("D4", "cleared"), now=NOW)


def test_cut_off_lines_are_found_against_the_recorded_head(tmp_path) -> None:
    for d in ("D1", "D2"):
        append_override(tmp_path, ov(d, "cleared"), now=NOW)
    head = log_head(tmp_path)
    check_head(tmp_path, head, "manifest.json")  # intact: no error
    path = tmp_path / "overrides.jsonl"
    path.write_text(path.read_text().splitlines(keepends=True)[0])  # a valid chain, one line short
    read_log(tmp_path)
    with pytest.raises(AuditLogError, match="recorded 2 lines"):
        check_head(tmp_path, head, "manifest.json")


# ------------------------------------------------------------------------------ bad requests


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"debtor_id": "NOPE"}, "debtor 'NOPE' is not in the latest published run"),
        ({"status": "forgiven"}, "--status 'forgiven' is not a status"),
        ({"reason": "  "}, "--reason is empty"),
        ({"reason": ""}, "--reason is empty"),
        ({"by": ""}, "--by is empty"),
        # s17: against the reviewed run's as-of date (RUN, 2024-08-31), not the wall clock
        (
            {"until": dt.date(2024, 8, 30)},
            "--until 2024-08-30 is before the as-of date 2024-08-31 of the run",
        ),
        ({"band": "Z", "bands": ["A", "B"]}, "--band 'Z' is not a band"),
        # s6-robust: a 100,000-character reason was logged and exported (an Excel cell holds 32,767)
        ({"reason": "x" * 2001}, "--reason is 2,001 characters long; keep it to 2,000"),
        ({"by": "-bob\tx"}, "--by '-bob.+': give a name on one line"),
        ({"by": "anna\n=1+1"}, "give a name on one line, at most 100 characters"),
        ({"by": "\u202eanna"}, "without tabs, line breaks or other control characters"),
        ({"by": "a" * 101}, "at most 100 characters"),
    ],
)
def test_bad_override_requests(tmp_path, kwargs, message) -> None:
    publish_scores(tmp_path, RUN, [("D1", 0.08, False)])
    args = {
        "debtor_id": "D1",
        "status": "cleared",
        "reason": "paid",
        "by": "anna",
    }
    with pytest.raises(OverrideError, match=message):
        new_override(tmp_path, **{**args, **kwargs})


def test_override_names_the_latest_run_and_pd(tmp_path) -> None:
    publish_scores(tmp_path, dt.date(2024, 8, 30), [("D1", 0.20, False)])
    publish_scores(tmp_path, RUN, [("D1", 0.08, False), ("D2", 1.0, True)])
    got = new_override(tmp_path, "D1", "cleared", " paid in full ", "anna")
    assert (got.run, got.pd, got.reason) == (RUN, 0.08, "paid in full")
    assert new_override(tmp_path, "D2", "escalated", "x", "anna").pd is None  # in default: no PD
    with pytest.raises(OverrideError, match="no published run"):
        new_override(tmp_path / "empty", "D1", "cleared", "x", "anna")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_cli_bad_override_is_one_line_exit_2(tmp_path) -> None:
    publish_scores(tmp_path, RUN, [("D1", 0.08, False)])
    for args, text in [
        (["D9", "--status", "cleared", "--reason", "x", "--by", "a"], "not in the latest published run"),
        (["D1", "--status", "cleared", "--by", "a"], "--reason is empty"),
        (["D1", "--status", "gone", "--reason", "x", "--by", "a"], "is not a status"),
        (
            ["D1", "--status", "cleared", "--reason", "x", "--by", "a", "--until", "2001-01-01"],
            "is before the as-of date",
        ),
        (["D1", "--status", "cleared", "--reason", "x", "--by", "a", "--until", "soon"], "is not a date"),
    ]:
        res = invoke("watchlist", "override", *args, "--out", str(tmp_path))
        assert res.exit_code == 2, res.output
        assert text in res.output and "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "overrides.jsonl").exists()  # nothing logged for a refused request
    res = invoke("watchlist", "override", "D1", "--status", "cleared", "--reason", "paid", "--by", "anna",
                 "--band", "C", "--out", str(tmp_path))  # fmt: skip
    assert res.exit_code == 0, res.output
    line = json.loads((tmp_path / "overrides.jsonl").read_text())
    assert (line["debtor_id"], line["status"], line["band"], line["by"], line["pd"]) == (
        "D1",
        "cleared",
        "C",
        "anna",
        0.08,
    )


# -------------------------------------------------------------------------- overrides in force


def test_active_overrides_latest_wins_applies_after_its_run_and_expires(tmp_path) -> None:
    append_override(tmp_path, ov("D1", "escalated", run=dt.date(2024, 8, 30)), now=NOW)
    append_override(tmp_path, ov("D1", "cleared", run=RUN), now=NOW)
    append_override(tmp_path, ov("D2", "escalated", run=RUN, until=dt.date(2024, 9, 2)), now=NOW)
    append_override(tmp_path, ov("D3", "cleared", run=dt.date(2024, 8, 1)), now=NOW)
    append_override(
        tmp_path, ov("D3", "payment_plan", run=dt.date(2024, 8, 2), until=dt.date(2024, 8, 31)), now=NOW
    )
    on = {d: active_overrides(tmp_path, d).set_index("debtor_id")["status"].to_dict() for d in
          (RUN, dt.date(2024, 9, 1), dt.date(2024, 9, 3))}  # fmt: skip
    # the run reviewed is not changed by its own overrides; D3's plan runs up to 08-31 inclusive
    assert on[RUN] == {"D1": "escalated", "D3": "payment_plan"}
    assert on[dt.date(2024, 9, 1)] == {"D1": "cleared", "D2": "escalated"}  # D3's plan ended 08-31
    assert on[dt.date(2024, 9, 3)] == {"D1": "cleared"}  # D2 expired after 09-02
    assert active_overrides(tmp_path / "none", RUN).empty


# ------------------------------------------------------------------------------- watch state


def scored(rows: list[tuple[str, float, bool]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["debtor_id", "pd", "in_default"])
    frame["debtor_id"] = frame["debtor_id"].astype("string")
    frame["band"] = assign_bands(frame["pd"], CFG).where(~frame["in_default"], "default")
    return frame


def flags_of(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the threshold trigger (PD >= 0.07 and live), enough for these cases."""
    out = pd.DataFrame(index=frame.index)
    out["trigger_threshold"] = (frame["pd"] >= 0.07) & ~frame["in_default"]
    out["trigger_jump"] = False
    return out


def night(tmp_path, day, rows, previous, owners=None):
    s = scored(rows)
    f, eff = apply_overrides(flags_of(s), s, active_overrides(tmp_path, day), previous, CFG)
    wl = pd.concat([s, f], axis=1).loc[f.any(axis=1)].assign(triggers="")
    state = watch_state(wl, s, eff, previous, day, owners)
    return f.set_axis(s["debtor_id"]), state.set_index("debtor_id"), with_state(wl, state)


def test_cleared_debtor_stays_off_until_its_pd_jumps_from_the_pd_at_clearing(tmp_path) -> None:
    d1, d2, d3, d4 = (dt.date(2024, 9, d) for d in (1, 2, 3, 4))
    _, s1, _ = night(tmp_path, d1, [("X", 0.10, False), ("Y", 0.09, False), ("Z", 0.01, False)], None)
    assert s1.loc["X", "status"] == "new" and s1.loc["X", "owner"] == "unassigned"
    append_override(tmp_path, ov("X", "cleared", run=d1, pd_=0.10), now=NOW)
    append_override(tmp_path, ov("Z", "escalated", run=d1, pd_=0.01), now=NOW)

    # PD 0.12: +2 points over 0.10 is no jump -> kept off, status cleared; Z kept on by escalation
    f2, s2, wl2 = night(
        tmp_path, d2, [("X", 0.12, False), ("Y", 0.09, False), ("Z", 0.01, False)], s1.reset_index()
    )
    assert not f2.loc["X"].any() and s2.loc["X", "status"] == "cleared" and not s2.loc["X", "on_list"]
    assert f2.loc["Z", "trigger_override"] and s2.loc["Z", "status"] == "escalated"
    assert wl2.set_index("debtor_id").loc["Z", "triggers"] == "override (escalated)"
    assert s2.loc["Y", "status"] == "under_review" and s2.loc["Y", "days_on_list"] == 1
    assert s2.loc["Y", "first_flagged_on"] == pd.Timestamp(d1)

    # PD 0.16: +6 points and +60 % over 0.10 -> flagged again as new, and the clearing is void
    f3, s3, _ = night(
        tmp_path, d3, [("X", 0.16, False), ("Y", 0.09, False), ("Z", 0.01, False)], s2.reset_index()
    )
    assert f3.loc["X", "trigger_threshold"] and s3.loc["X", "status"] == "new"
    assert s3.loc["X", "void_seq"] == 1 and s3.loc["X", "first_flagged_on"] == pd.Timestamp(d3)

    # back to 0.12: the void clearing no longer hides X, which continues its episode
    f4, s4, _ = night(tmp_path, d4, [("X", 0.12, False), ("Y", 0.09, False), ("Z", 0.01, False)], s3.reset_index(),
                      owners=pd.Series({"Y": "bob"}))  # fmt: skip
    assert f4.loc["X", "trigger_threshold"] and s4.loc["X", "status"] == "under_review"
    assert s4.loc["X", "days_on_list"] == 1 and s4.loc["Y", "days_on_list"] == 3
    assert s4.loc["Y", "owner"] == "bob"


def test_escalation_never_flags_a_debtor_in_default_and_band_override_flags(tmp_path) -> None:
    d1, d2 = dt.date(2024, 9, 1), dt.date(2024, 9, 2)
    append_override(tmp_path, ov("W", "escalated", run=d1), now=NOW)
    append_override(tmp_path, ov("V", "payment_plan", run=d1, band="E"), now=NOW)
    append_override(tmp_path, ov("U", "payment_plan", run=d1, band="B"), now=NOW)
    f, s, _ = night(tmp_path, d2, [("W", 1.0, True), ("V", 0.02, False), ("U", 0.02, False)], None)
    assert not f.loc["W"].any() and not s.loc["W", "on_list"]
    assert f.loc["V", "trigger_override"] and s.loc["V", "override_band"] == "E"
    assert not f.loc["U"].any()


def test_a_flagged_debtor_on_an_agreed_plan_shows_the_plan_as_its_status(tmp_path) -> None:
    # s16-robust's walk: after `--status payment_plan` the watchlist said under_review while the
    # queue said monitor_plan; the analyst's decision must read the same in both
    d1, d2, d3 = dt.date(2024, 9, 1), dt.date(2024, 9, 2), dt.date(2024, 9, 3)
    _, s1, _ = night(tmp_path, d1, [("P", 0.30, False), ("Q", 0.30, False)], None)
    append_override(tmp_path, ov("P", "payment_plan", run=d1, pd_=0.30), now=NOW)
    _, s2, wl2 = night(tmp_path, d2, [("P", 0.30, False), ("Q", 0.30, False)], s1.reset_index())
    assert s2.loc["P", "on_list"] and s2.loc["P", "status"] == "payment_plan"
    assert s2.loc["Q", "status"] == "under_review"  # no override: unchanged
    assert wl2.set_index("debtor_id").loc["P", "status"] == "payment_plan"
    assert s2.loc["P", "days_on_list"] == 1  # the episode goes on
    _, s3, _ = night(tmp_path, d3, [("P", 0.01, False), ("Q", 0.30, False)], s2.reset_index())
    assert not s3.loc["P", "on_list"] and s3.loc["P", "status"] == "payment_plan"  # off the list, as before


def test_history_lists_runs_and_overrides(tmp_path) -> None:
    publish_scores(tmp_path, dt.date(2024, 8, 30), [("D1", 0.05, False)])
    run = publish_scores(tmp_path, RUN, [("D1", 0.09, False)])
    pd.DataFrame({"debtor_id": ["D1"], "triggers": ["threshold"]}).to_parquet(run / "watchlist.parquet")
    append_override(tmp_path, ov("D1", "cleared", pd_=0.09), now=NOW)
    runs, overrides = debtor_history(tmp_path, "D1")
    assert runs["as_of"].tolist() == ["2024-08-30", "2024-08-31"]
    assert runs["flagged"].tolist() == [False, True] and runs["pd"].tolist() == [0.05, 0.09]
    assert overrides["status"].tolist() == ["cleared"]
    res = invoke("watchlist", "history", "D1", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    # in words since session 32 (they read "threshold" and "cleared")
    assert "2024-08-31" in res.output and "High-risk band" in res.output and "Cleared" in res.output
    assert "checked with the customer" in res.output
    res = invoke("watchlist", "history", "NOPE", "--out", str(tmp_path))
    assert res.exit_code == 2 and "in no published run" in res.output


def test_history_at_80_columns_cuts_no_date_status_or_reason(tmp_path) -> None:
    # s11-small: at 80 columns (a pipe, CliRunner) the tables cut "2025-11-30" to "2025-11…", the
    # status to "under_…", the owner to "unassi…" and the reason to "paid in…"
    run = publish_scores(tmp_path, RUN, [("D0000099", 0.7714, False)])
    pd.DataFrame({"debtor_id": ["D0000099"], "triggers": ["threshold, jump"]}).to_parquet(
        run / "watchlist.parquet"
    )
    state = pd.DataFrame(
        {"debtor_id": ["D0000099"], "status": ["under_review"], "days_on_list": [31], "owner": ["unassigned"]}
    )
    state.to_parquet(run / STATE_FILE)
    reason = "paid in full on 3 March, remittance advice checked with the bank statement"
    append_override(
        tmp_path, Override("D0000099", "cleared", reason, "anna", RUN, 0.7714, None, None), now=NOW
    )
    res = CliRunner().invoke(
        app, ["watchlist", "history", "D0000099", "--out", str(tmp_path)], env={"COLUMNS": "80"}
    )
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80
    for text in (
        "2024-08-31",
        "77.14%",  # a percentage, as in the report (s25-newuser: it read 0.7714 beside the report's 77.14%)
        "Under review",  # in words since session 32 (it read "under_review", "threshold")
        "unassigned",
        "High-risk",
        "2024-09-01 09:30 UTC",
        reason,
    ):
        assert text in res.output, (text, res.output)
    assert "…" not in res.output


def test_check_log_uses_the_head_in_the_previous_manifest(tmp_path) -> None:
    from pipelines.scoring.overrides import check_log

    run = publish_scores(tmp_path, RUN, [("D1", 0.08, False)])
    for d in ("D1", "D2"):
        append_override(tmp_path, ov(d, "cleared"), now=NOW)
    (run / "manifest.json").write_text(json.dumps({"overrides": log_head(tmp_path)}))
    check_log(tmp_path, run)
    check_log(tmp_path, None)
    path = tmp_path / "overrides.jsonl"
    path.write_text(path.read_text().splitlines(keepends=True)[0])
    with pytest.raises(AuditLogError, match="manifest.json recorded 2 lines"):
        check_log(tmp_path, run)


def test_stay_days_keep_a_debtor_on_the_list_after_its_last_trigger(tmp_path) -> None:
    cfg = CFG.model_copy(update={"watchlist": CFG.watchlist.model_copy(update={"stay_days": 10})})
    d1, d2, d3, d4 = (dt.date(2024, 9, d) for d in (1, 8, 10, 13))

    def run(day, rows, previous):
        s = scored(rows)
        f, eff = apply_overrides(flags_of(s), s, active_overrides(tmp_path, day), previous, cfg, day)
        wl = pd.concat([s, f], axis=1).loc[f.any(axis=1)].assign(triggers="")
        state = watch_state(wl, s, eff, previous, day)
        return f.set_axis(s["debtor_id"]), state, with_state(wl, state).set_index("debtor_id")

    _, s1, _ = run(d1, [("X", 0.10, False), ("Y", 0.10, False)], None)
    assert s1.set_index("debtor_id").loc["X", "last_trigger_on"] == pd.Timestamp(d1)
    f2, s2, wl2 = run(d2, [("X", 0.02, False), ("Y", 0.02, False)], s1)  # 7 days later: both stay
    assert f2["trigger_stay"].all() and wl2.loc["X", "triggers"] == f"kept on the list after its flag of {d1}"
    assert s2.set_index("debtor_id").loc["X", "days_on_list"] == 7
    assert s2.set_index("debtor_id").loc["X", "last_trigger_on"] == pd.Timestamp(d1)  # no new trigger
    append_override(tmp_path, ov("Y", "cleared", run=d2, pd_=0.02), now=NOW)
    f3, s3, _ = run(d3, [("X", 0.02, False), ("Y", 0.02, False)], s2)  # day 9: X stays, Y cleared off
    assert f3.loc["X", "trigger_stay"] and not f3.loc["Y"].any()
    assert s3.set_index("debtor_id")["status"].to_dict() == {"X": "under_review", "Y": "cleared"}
    f4, _, _ = run(d4, [("X", 0.02, False)], s1)  # 12 days after the trigger: beyond stay_days
    assert not f4.loc["X"].any()


def test_stay_band_keeps_a_flagged_debtor_while_its_band_holds(tmp_path) -> None:
    """Hysteresis: X enters at band D (PD 0.10), stays while in band C (PD 0.05 >= 0.03) and
    leaves at band B (0.02); Y never flagged stays off in band C (the band alone flags nobody)."""
    cfg = CFG.model_copy(update={"watchlist": CFG.watchlist.model_copy(update={"stay_band": "C"})})
    days = [dt.date(2024, 9, d) for d in (1, 2, 3, 4)]
    previous, on = None, []
    for day, pd_x in zip(days, (0.10, 0.05, 0.05, 0.02), strict=True):
        s = scored([("X", pd_x, False), ("Y", 0.05, False)])
        f, eff = apply_overrides(flags_of(s), s, None, previous, cfg, day)
        wl = pd.concat([s, f], axis=1).loc[f.any(axis=1)].assign(triggers="")
        previous = watch_state(wl, s, eff, previous, day)
        on.append(f.set_axis(s["debtor_id"]).any(axis=1).to_dict())
    assert [o["X"] for o in on] == [True, True, True, False]
    assert not any(o["Y"] for o in on)


def test_stay_band_must_name_a_band() -> None:
    with pytest.raises(ValueError, match="watchlist.stay_band: band 'Z' is not one of the bands"):
        NightlyConfig.model_validate({"watchlist": {"stay_band": "Z"}})


def test_stay_top_share_keeps_a_flagged_debtor_while_its_pd_ranks_high(tmp_path) -> None:
    """Rank hysteresis: 4 live debtors, stay_top_share 0.5 (rank <= 2). X enters by the threshold
    (PD 0.10), stays at PD 0.02 while ranked 2nd (0.02 >= min_pd 0.01), leaves when ranked 3rd;
    Y (0.05, ranked 1st from night 2) is never flagged: the share alone flags nobody."""
    cfg = NightlyConfig.model_validate({"watchlist": {"stay_top_share": 0.5}})
    days = [dt.date(2024, 9, d) for d in (1, 2, 3, 4)]
    previous, on = None, []
    for day, pd_x, pd_w in zip(days, (0.10, 0.02, 0.02, 0.02), (0.001, 0.001, 0.03, 0.001), strict=True):
        s = scored([("X", pd_x, False), ("Y", 0.05, False), ("W", pd_w, False), ("V", 0.0, False)])
        f, eff = apply_overrides(flags_of(s), s, None, previous, cfg, day)
        wl = pd.concat([s, f], axis=1).loc[f.any(axis=1)].assign(triggers="")
        previous = watch_state(wl, s, eff, previous, day)
        on.append(f.set_axis(s["debtor_id"]).any(axis=1).to_dict())
    # night 3: W (0.03) outranks X (0.02): X is 3rd and leaves; night 4: X is 2nd again but off the list
    assert [o["X"] for o in on] == [True, True, False, False]
    assert not any(o["Y"] or o["W"] for o in on)


def test_long_reason_and_accented_name_within_limits_are_kept(tmp_path) -> None:
    publish_scores(tmp_path, RUN, [("D1", 0.08, False)])
    reason = "Zahlung zugesagt – 株式会社 🚀\nzweite Zeile " + "x" * 1960
    got = new_override(
        tmp_path,
        "D1",
        "cleared",
        reason,
        " Jürgen Ødegård ",
    )
    assert (len(got.reason), got.by) == (len(reason), "Jürgen Ødegård")


def test_a_debtor_kept_by_an_earlier_flag_says_so_in_words_with_its_day() -> None:
    """The triggers cell of a debtor on the list only because an earlier flag keeps it there
    (stay_days / stay_band): before session 26 it read "stay (watchlist.stay_days or stay_band)",
    config keys an analyst cannot act on."""
    from pipelines.scoring.watch_state import WATCHLIST_STATE_COLUMNS

    wl = pd.DataFrame(
        {
            "debtor_id": pd.array(["D1", "D2", "D3"], dtype="string"),
            "triggers": ["", "threshold", ""],
            "trigger_stay": [True, True, True],
        }
    )
    state = pd.DataFrame({c: [None, None, None] for c in WATCHLIST_STATE_COLUMNS})
    state["debtor_id"] = pd.array(["D3", "D2", "D1"], dtype="string")
    state["last_trigger_on"] = pd.to_datetime(["2024-08-20", "2024-09-02", "2024-08-31"])
    state.loc[0, "last_trigger_on"] = pd.NaT
    got = with_state(wl, state)["triggers"].tolist()
    assert got == [
        "kept on the list after its flag of 2024-08-31",
        "threshold",
        "kept on the list after an earlier flag",
    ]
