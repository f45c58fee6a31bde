"""Session 41 (s41-limits): a debtor never invoiced has no band in every output.

s40-review read a demo run: the report's band-migration table counted the 113 debtors with no invoice, payment or
statement yet in band A (scores.parquet's band, the model's reading of empty features), while the report's summary
listed them as "never invoiced: no band" and credit_limits.csv left their band empty. An analyst cannot act on a band
with no behaviour behind it: the band is empty in scores.parquet, the credit-limit table, the migration table, the
largest increases, the expected loss per band and a debtor page's history. Each test fails on main aa34baa.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.watchlist import assign_bands, compare_with_previous

CFG = NightlyConfig()  # bands A<0.01<=B<0.03<=C<0.07<=D<0.15<=E


def table_of(html: str, table_id: str = "migration-matrix") -> pd.DataFrame:
    """The table ``table_id`` of ``html`` (DataFrame.to_html's layout: a header row, a row naming the index, then
    one row per index value) as integers, read with the standard library's parser."""
    from html.parser import HTMLParser

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside, self.rows, self.cell = False, [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table" and dict(attrs).get("id") == table_id:
                self.inside = True
            elif self.inside and tag == "tr":
                self.rows.append([])
            elif self.inside and tag in ("td", "th"):
                self.cell = ""

        def handle_endtag(self, tag):
            if tag == "table":
                self.inside = False
            elif self.inside and tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append(self.cell.strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Rows()
    parser.feed(html)
    header, body = parser.rows[0], [r for r in parser.rows[1:] if len(r) == len(parser.rows[0])]
    body = [r for r in body if r[0] and any(c for c in r[1:])]
    frame = pd.DataFrame([r[1:] for r in body], index=[r[0] for r in body], columns=header[1:])
    return frame.astype(int)


def _scored_book() -> pd.DataFrame:
    """The nightly's scoring pass (features, a real LightGBM, bands) over a book of three debtors on 2024-06-15:
    A and B invoiced (A's 04-01 invoice 75 days overdue), P in the debtors table only (a prospect)."""
    import lightgbm as lgb

    from features.params import DefaultDefinition
    from features.tables import Portfolio
    from pipelines.adapters.registry import LoadedModel
    from pipelines.engine import Book, map_buckets
    from pipelines.scoring.score import combine_scored, score_bucket
    from tests.features.ledgers import frame, inv

    invoices = [
        inv("A1", "A", "2024-03-01", "2024-04-01", 12_000.0),
        inv("B1", "B", "2024-06-01", "2024-07-01", 3_000.0),
    ]
    book = Portfolio(
        invoices=frame("invoices", invoices),
        payments=frame("payments", []),
        debtors=frame(
            "debtors",
            [
                {"debtor_id": d, "credit_limit": 10_000.0, "onboarded_on": pd.Timestamp("2024-01-15")}
                for d in "ABP"
            ],
        ),
    )
    rng = np.random.default_rng(41)  # a real LightGBM on two features the engine builds
    X = pd.DataFrame(
        {"dpd_current_max": rng.integers(0, 120, 300) * 1.0, "open_balance": rng.uniform(0, 2e4, 300)}
    )
    clf = lgb.LGBMClassifier(n_estimators=5, num_leaves=3, n_jobs=1, verbose=-1, random_state=0)
    clf.fit(X, (X["dpd_current_max"] > 60).astype(int))
    loaded = LoadedModel(name="ews-pd", version="1", alias="champion", run_id="r", estimator=clf,
                         booster=clf.booster_, feature_names=list(X.columns), categorical_features=[],
                         categories={}, reference={}, metrics={})  # fmt: skip
    whole = Book(buckets=1, frames=book)
    buckets = map_buckets(
        score_bucket, whole, pd.Timestamp("2024-06-15"), DefaultDefinition(), loaded, CFG, (), None, None
    )
    return combine_scored(buckets).scores.set_index("debtor_id", drop=False)


def test_the_scores_give_a_debtor_never_invoiced_no_band_and_its_credit_limit_follows_the_prospect_rule() -> (
    None
):
    """P has no invoice, payment or statement: has_history False and band empty (before: the band of the PD the
    model read from its empty features); A and B keep the band of their PD. The credit-limit step reads the empty
    band as a prospect's (no ValueError for a band without factors): no limit, the never-invoiced rule, no band
    in credit_limits.csv."""
    from pipelines.config.credit import CreditPolicyConfig
    from pipelines.scoring.limits import add_credit_limits, credit_limits_table

    s = _scored_book()
    assert s["has_history"].to_dict() == {"A": True, "B": True, "P": False}
    assert pd.isna(s.loc["P", "band"]) and not s.loc["P", "in_default"]
    for d in "AB":  # the band of its own PD
        assert s.loc[d, "band"] == assign_bands(pd.Series([s.loc[d, "pd"]]), CFG).iloc[0]
    limits = add_credit_limits(s.reset_index(drop=True), None, CreditPolicyConfig(), "EUR").set_index(
        "debtor_id"
    )
    assert limits.loc["P", ["credit_limit_recommended", "credit_limit_aggressive"]].isna().all()
    assert str(limits.loc["P", "credit_limit_rule"]).startswith("never invoiced: no basis for a limit")
    table = credit_limits_table(limits.reset_index(), "EUR").set_index("debtor_id")
    assert pd.isna(table.loc["P", "band"])


def _run(rows: list[tuple[str, float, bool, bool]]) -> pd.DataFrame:
    """A run's scores as score_rows writes them: (debtor_id, pd, in_default, has_history)."""
    f = pd.DataFrame(rows, columns=["debtor_id", "pd", "in_default", "has_history"])
    f["debtor_id"] = f["debtor_id"].astype("string")
    f["band"] = assign_bands(f["pd"], CFG).where(~f["in_default"], "default").astype("string")
    f["band"] = f["band"].mask(~f["has_history"] & ~f["in_default"])
    f["name"] = f["debtor_id"]
    return f


def test_the_migration_table_and_the_largest_increases_name_no_band_as_the_summary_does() -> None:
    """By hand, previous run -> tonight: a A -> A, b A -> C (worse), p1 and p2 never invoiced on both nights
    (no band -> no band; p2's PD from empty features rose 0.4 % -> 5 %), n never invoiced yesterday, invoiced
    tonight (no band -> B). The table: A row: A 1, C 1; "never invoiced: no band" row: B 1, no band 2; the A column
    holds 1 (a alone: before, p1 and p2 were counted there too and n in A -> B). Worse 1 (b), better 0. The
    largest increases name p2's bands "never invoiced: no band" (before: "<NA>")."""
    from pipelines.report import changes_summary

    previous = _run([("a", 0.005, False, True), ("b", 0.005, False, True), ("n", 0.004, False, False),
                     ("p1", 0.004, False, False), ("p2", 0.004, False, False)])  # fmt: skip
    tonight = _run([("a", 0.006, False, True), ("b", 0.05, False, True), ("n", 0.02, False, True),
                    ("p1", 0.004, False, False), ("p2", 0.05, False, False)])  # fmt: skip
    got = changes_summary(compare_with_previous(tonight, previous), previous, CFG, top=10)
    matrix = table_of(got["matrix_html"])
    words = "never invoiced: no band"
    assert list(matrix.columns)[-1] == words and list(matrix.index)[-1] == words
    assert matrix.loc["A"].to_dict() == {"A": 1, "B": 0, "C": 1, "D": 0, "E": 0, "default": 0, words: 0}
    assert matrix.loc[words].to_dict() == {"A": 0, "B": 1, "C": 0, "D": 0, "E": 0, "default": 0, words: 2}
    assert int(matrix.to_numpy().sum()) == 5
    assert (got["worse"], got["better"]) == (1, 0)
    movers = {m["debtor_id"]: (m["band_prev"], m["band"]) for m in got["movers"]}
    assert movers["p2"] == (words, words) and movers["b"] == ("A", "C") and movers["n"] == (words, "B")


def test_a_book_without_prospects_keeps_its_migration_table() -> None:
    """No debtor without a history on either night: the table has the bands and default only, as before."""
    from pipelines.report import changes_summary

    previous = _run([("a", 0.005, False, True), ("b", 0.02, False, True)])
    tonight = _run([("a", 0.005, False, True), ("b", 1.0, True, True)])
    got = changes_summary(compare_with_previous(tonight, previous), previous, CFG, top=10)
    matrix = table_of(got["matrix_html"])
    assert list(matrix.columns) == ["A", "B", "C", "D", "E", "default"]
    assert matrix.loc["B", "default"] == 1 and got["defaulted"] == ["b"]


def test_expected_loss_per_band_and_a_debtor_pages_history_name_no_band() -> None:
    """The report's expected loss per band puts a prospect in its own row (before: band A); a debtor page's PD
    history says "never invoiced: no band" for a run at which it had no history (before: "<NA>" / "None")."""
    from features.portfolio import expected_loss_by
    from pipelines.report.portfolio import _band_words

    words = "never invoiced: no band"
    assert _band_words(None) == words and _band_words(pd.NA) == words and _band_words("C") == "C"
    frame = pd.DataFrame(
        {
            "band": pd.array(["A", pd.NA], dtype="string").fillna(words),
            "pd": [0.005, 0.004],
            "exposure": [1000.0, 0.0],
            "lgd": [0.5, 0.5],
        }
    )
    out = expected_loss_by(frame, "band", order=["A", "B", "C", "D", "E", "default"])
    assert out.loc["A", "debtors"] == 1 and out.loc[words, "debtors"] == 1
    assert out.loc["A", "expected_loss"] == 0.005 * 1000 * 0.5


def test_ews_watchlist_history_says_no_band_for_a_run_before_the_first_invoice(tmp_path) -> None:
    """P was a prospect on 31 January (band empty in scores.parquet) and invoiced by 29 February (band B, PD 2 %).
    `ews watchlist history P` reads "never invoiced: no band" for January and "B" for February (before: "<NA>"
    beside an empty model band, and an analyst's band over an empty one stopped on "boolean value of NA is
    ambiguous")."""
    import json

    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.commands.watchlist import _band_shown

    runs = tmp_path / "runs"
    for day, band, pd_, seen in (("2024-01-31", None, 0.004, False), ("2024-02-29", "B", 0.02, True)):
        folder = runs / day
        folder.mkdir(parents=True)
        pd.DataFrame(
            {
                "debtor_id": pd.array(["P"], dtype="string"),
                "pd": [pd_],
                "band": pd.array([band], dtype="string"),
                "in_default": [False],
                "has_history": [seen],
            }
        ).to_parquet(folder / "scores.parquet")
        (folder / "manifest.json").write_text(json.dumps({"as_of": day}))
    got = CliRunner().invoke(app, ["watchlist", "history", "P", "--out", str(runs)])
    assert got.exit_code == 0, got.output
    rows = {line.split()[0]: line for line in got.output.splitlines() if line.strip().startswith("2024-")}
    assert "never invoiced: no band" in rows["2024-01-31"] and "<NA>" not in got.output
    assert rows["2024-02-29"].split()[2] == "B"
    assert (
        _band_shown("C", pd.NA) == "C (model: no band, never invoiced)"
        and _band_shown("C", "B") == "C (model B)"
    )
