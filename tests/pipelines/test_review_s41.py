"""Session 41's review (s41-review; BENCHMARKS.md "Session 41 (s41-review)"): tests for what the mutation check
of session 41's product commits found unpinned (benchmarks/review_mutations.py, U entries). Every expected number
is by hand."""

from __future__ import annotations

import pandas as pd
import pytest


def test_the_expected_loss_per_band_of_a_nightly_names_a_never_invoiced_debtor_as_the_summary_does() -> None:
    """4e98885 (U8): build_portfolio itself turns a never-invoiced debtor's empty band into the row "never
    invoiced: no band" of the expected loss per band (test_no_band_s41 filled the band by hand, so dropping the
    fill left "(none)" in the report unseen). By hand: a (PD 10 %, band by its PD, exposure 1,000, retail LGD
    0.45 of conf: EL 45.00) and p (PD 0.4 %, never invoiced: band empty, exposure 0: EL 0) -> two rows holding
    one debtor each, the total 2 debtors and 45.00. U9: a debtor page's PD history names p's run the same way (the
    test of 4e98885 called _band_words alone, so the page's raw "<NA>" went unseen)."""
    from pipelines.engine import Book
    from pipelines.report.portfolio import build_portfolio, debtor_pages
    from tests.pipelines.test_report import BOOK, CFG, scores

    scored = scores([0.1, 0.004], ["a", "p"])
    scored["band"] = scored["band"].astype("string").mask(scored["debtor_id"] == "p")
    scored["open_balance"] = [1000.0, 0.0]
    lgd = pd.Series({"a": 0.45, "p": 0.45})
    view = build_portfolio(Book.in_memory(BOOK, 100), pd.Timestamp("2024-06-30").date(), scored,
                           pd.Index(["a", "p"]), CFG, "EUR", None, None, lgd=lgd)  # fmt: skip
    band = view.el_band
    words = "never invoiced: no band"
    assert "(none)" not in band.index
    assert band.loc[words, "debtors"] == 1 and band.loc[words, "expected_loss"] == 0.0
    assert band.loc["total", "debtors"] == 2
    assert band.loc["total", "expected_loss"] == pytest.approx(0.1 * 1000.0 * 0.45)
    pages = debtor_pages(view, ["a", "p"])
    assert [h["band"] for h in pages["p"]["history"]] == [words]
    assert [h["band"] for h in pages["a"]["history"]] == [scored.loc[0, "band"]] != [words]


def test_an_overrides_line_whose_book_was_rewritten_breaks_the_chain(tmp_path) -> None:
    """a04116e (U15): each line's ``book`` is hashed with it, so a log copied from book A's runs folder whose lines
    were edited to name book B (hashes kept) is refused as tampered, not taken as B's own. With the book left out
    of the hash the edited log passed every check and A's three overrides would act on B's debtors D1-D3."""
    import json

    from pipelines.scoring.overrides import AuditLogError, check_log, read_log
    from tests.pipelines.test_audit_s39 import _publish, _three_lines
    from tests.pipelines.test_hostile_s41 import _book

    a, b = tmp_path / "runs_a", tmp_path / "runs_b"
    _book(a, "a" * 32, "/data/a")
    _book(b, "b" * 32, "/data/b")
    _three_lines(a)
    assert [r["book"] for r in read_log(a)] == ["a" * 32] * 3
    jan10_b = _publish(b, "2026-01-10", 0, read_at="2026-01-11T02:00:00+00:00")
    lines = (a / "overrides.jsonl").read_text(encoding="utf-8").splitlines()
    edited = []
    for line in lines:
        record = json.loads(line)
        record["book"] = "b" * 32  # the id B's folder records; "hash" and "prev" as A wrote them
        edited.append(json.dumps(record))
    (b / "overrides.jsonl").write_text("\n".join(edited) + "\n", encoding="utf-8")
    with pytest.raises(AuditLogError, match=r"line 1 \(debtor D1\) was changed after it was written"):
        read_log(b)  # before any run's read is compared: the hash itself
    with pytest.raises(AuditLogError, match="was changed after it was written"):
        check_log(b, jan10_b)


def test_a_month_missing_two_months_before_the_as_of_month_is_refused(tmp_path) -> None:
    """784be84 (U29): the month checked last is the one before the month before the as-of month (the month before
    the as-of month has no full month after it). Night 1 (2024-06-30): January-June, 25 invoices a month, each paid
    in its month; night 2 (2024-07-31) without May's: paid kept invoices per month January absent 25, February-April
    present 25, May absent 25, June present 25: May lies between two held months, refused naming 2024-05. With
    the loop stopping a month earlier May went unchecked and the export was taken."""
    from pipelines.ingest import TableError
    from tests.pipelines.test_history_s41 import NIGHT1, NIGHT2, _ingest, _monthly, _tree

    out = tmp_path / "out"
    _ingest(_monthly(tmp_path / "n1", (1, 2, 3, 4, 5, 6), 6), out, NIGHT1)
    before = _tree(out)
    with pytest.raises(
        TableError, match="lacks 25 of the 25 paid invoices the history holds issued in 2024-05"
    ):
        _ingest(_monthly(tmp_path / "n2", (2, 3, 4, 6, 7), 6), out, NIGHT2)
    assert _tree(out) == before


def test_a_store_that_lost_its_champion_version_still_refuses_without_require_model(
    mlflow_uri: str, tmp_path
) -> None:
    """530b32e (U33, U34): the run without a PD model is for a book that never had one; a store whose champion
    version was deleted through MLflow refuses as before (exit 2 naming the deleted version), with or without
    --require-model. Dropping the ``lost`` test in `ews score`'s registry check or in the flow's ``no_model`` passed
    test_nomodel_s41 and test_hostile_s37."""
    import typer

    from pipelines.commands.score import _require_version
    from pipelines.config.nightly import NightlyConfig
    from pipelines.flows.nightly import no_model
    from tests.pipelines.test_hostile_s37 import _register

    client = _register(mlflow_uri)
    client.delete_model_version("ews-pd", "1")
    assert no_model(NightlyConfig(), mlflow_uri) is None
    with pytest.raises(typer.Exit) as err:
        _require_version(tmp_path / "nightly.yaml", "ews-pd", "champion", mlflow_uri, require_model=False)
    assert err.value.exit_code == 2
