"""Session 26's hostile review (s26-review; BENCHMARKS.md "Hostile inputs tried", "Session 26
(s26-review)"). Each test fails on main 6acd91d before its fix, or with the mutation of the product
code it names (a wrong edit that session 26's own tests let through). Hand-built inputs; every
expected number is by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.ingest import TableError, ingest_source
from tests.pipelines.test_history_s26 import (
    NIGHT1,
    NIGHT2,
    _files,
    _ingest,
    _kept,
    _other,
    _source,
    _tree,
)

# ------------------------------------------------------------------ keep-history: another ledger


@pytest.mark.parametrize(("n", "clashing", "refused"), [(19, 19, False), (20, 20, True), (24, 12, False)])
def test_the_clash_rule_judges_from_20_ids_found_and_refuses_above_half(
    tmp_path: Path, n: int, clashing: int, refused: bool
) -> None:
    """history._clashes: an export whose ids X1..Xn the history holds, ``clashing`` of them another
    invoice (issue date and amount both differ), the rest revised in one of the two. 19 ids found (under
    MIN_OVERLAP 20) are not judged: taken, all 19 replaced. 20 of 20 clashing: refused, the folder
    unchanged. 12 of 24 is exactly half, not more: taken (24 kept, 24 replaced). Session 26's tests
    let both wrong edits through: the floor removed (19 of 19 refused) and ``k <= half`` turned into
    ``k < half`` (12 of 24 refused)."""
    out = tmp_path / "out"
    _ingest(_files(tmp_path / "n1", _kept(n)), out, NIGHT1)
    before = _tree(out)
    files = _files(tmp_path / "n2", _other(clashing, n=n))
    if refused:
        with pytest.raises(
            TableError, match=f"{clashing} of today's {n} invoices whose ids the history holds"
        ):
            _ingest(files, out, NIGHT2)
        assert _tree(out) == before
        return
    counts = _ingest(files, out, NIGHT2).manifest["history"]["tables"]["invoices"]
    assert (counts["kept"], counts["replaced"], counts["rows"]) == (n, n, n)


def test_a_streamed_ingest_refuses_another_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The streamed merge's other-ledger check (``history_stream._foreign_check``) had no test: with
    it removed, session 26's tests passed and this export (X1..X25 again, 25 of 25 another book's)
    replaced the kept invoices. Streamed, through the CLI (inputs above STREAM_ROWS): exit 2, the
    in-memory merge's line, no traceback, the folder byte for byte as it was."""
    import pipelines.ingest as ingest

    out = tmp_path / "out"
    _ingest(_files(tmp_path / "n1", _kept()), out, NIGHT1)
    before = _tree(out)
    files = _files(tmp_path / "n2", _other(25))
    monkeypatch.setattr(ingest, "STREAM_ROWS", 0)
    args = ["ingest", "--invoices", str(files["invoices"]), "--debtors", str(files["debtors"])]
    args += ["--as-of", "2024-04-30", "--out", str(out), "--no-docs"]
    result = CliRunner().invoke(app, [*args, "--keep-history"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "25 of today's 25 invoices whose ids the history holds differ from the kept invoice" in text
    assert "another ledger" in text and "Traceback" not in result.output
    assert _tree(out) == before
    with pytest.raises(TableError, match="25 of today's 25 invoices"):
        ingest_source(_source(files), out, as_of=NIGHT2, keep_history=True, stream=True, partitions=2)
    assert _tree(out) == before


def test_a_sampled_other_ledger_check_says_its_figures_are_a_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above ``SAMPLE_ROWS`` invoices the streamed other-ledger check reads the invoices of one id in
    k. Its refusal printed the sample's counts as if they were the export's ('97 of today's 97
    invoices' for an export of 200). With SAMPLE_ROWS 100 and 200 invoices (k = 2), the refusal says
    that its figures are a sample, of one invoice id in 2."""
    import pipelines.ingest.history_stream as history_stream

    kept = "".join(f"X{k},D1,2024-03-{1 + k % 28:02d},2024-04-30,{100 + k}.00,EUR\n" for k in range(1, 201))
    other = "".join(f"X{k},D9,2024-04-{1 + k % 28:02d},2024-05-30,{500 + k}.00,EUR\n" for k in range(1, 201))
    out = tmp_path / "out"
    _ingest(_files(tmp_path / "n1", kept), out, NIGHT1)
    monkeypatch.setattr(history_stream, "SAMPLE_ROWS", 100)
    with pytest.raises(TableError) as info:
        ingest_source(
            _source(_files(tmp_path / "n2", other)),
            out,
            as_of=NIGHT2,
            keep_history=True,
            stream=True,
            partitions=2,
        )
    said = str(info.value)
    assert said.startswith("--keep-history (figures of a sample: the invoices of one id in 2, the same ids")
    assert "invoices whose ids the history holds differ" in said


# ------------------------------------------------------------------ the queue key's window model


def test_window_min_snapshots_equal_to_the_month_ends_there_are_trains() -> None:
    """``paydate.window_min_snapshots`` N needs at least N month-ends before the cut: cut 2023-08-15
    of the tiny book has 4 (2023-04-30..2023-07-31), so N = 4 trains the model (the one of N = 1)
    and N = 5 does not. Session 26's test (N = 1 and 5) let ``< N`` become ``<= N`` through."""
    from pipelines.config.project import ProjectConfig
    from pipelines.config.train import TrainConfig
    from pipelines.flows.queue_key import fit_paydate_at, pay_pd_at
    from tests.pipelines.test_queue_key_flow import _tiny_book

    book = _tiny_book()
    definition = ProjectConfig().default_definition.to_params()
    cut, at = pd.Timestamp("2023-08-15"), [pd.Timestamp("2023-08-31")]
    four = TrainConfig.model_validate({"paydate": {"train_snapshots": 4, "window_min_snapshots": 4}})
    one = TrainConfig.model_validate({"paydate": {"train_snapshots": 4, "window_min_snapshots": 1}})
    got = pay_pd_at(book, at, fit_paydate_at(book, four, cut), definition)
    want = pay_pd_at(book, at, fit_paydate_at(book, one, cut), definition)
    assert len(got) > 10
    pd.testing.assert_frame_equal(got, want)


# ------------------------------------------------------------------ ews models history


def test_a_short_reason_stays_within_its_limit_without_a_space_to_cut_at() -> None:
    """``short_reason`` cut at the last space before the limit; a reason whose first 106 characters
    hold no space (a long path or id) came back whole but its last character, 203 characters for
    the limit 110. Now cut at the limit: 106 characters and ' ...'."""
    from pipelines.adapters.registry_view import short_reason

    assert short_reason("x" * 200) == "x" * 106 + " ..."
    assert short_reason("y" * 150 + " tail") == "y" * 106 + " ..."
    assert len(short_reason("/data/" + "z" * 300, limit=40)) == 40
