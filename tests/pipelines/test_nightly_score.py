"""Scoring step: PD for live debtors, defaults at PD 1, hashes, and refusal of incompatible features."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from pipelines.adapters.registry import LoadedModel, prepare_X
from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.score import IncompatibleModelError, score_debtors

CFG = NightlyConfig()


@pytest.fixture(scope="module")
def model_and_features() -> tuple[LoadedModel, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 400
    feats = pd.DataFrame(
        {
            "debtor_id": pd.Series([f"D{i:04d}" for i in range(n)], dtype="string"),
            "as_of": pd.Timestamp("2024-06-30"),
            "late_share_180d": rng.random(n),
            "dpd_current_max": rng.integers(0, 120, n).astype("float64"),
            "segment": pd.Categorical(rng.choice(["retail", "wholesale"], n)),
            "open_balance": rng.uniform(100, 5000, n),
            "overdue_amount": rng.uniform(0, 100, n),
        }
    )
    y = (rng.random(n) < 0.05 + 0.3 * feats["late_share_180d"]).astype(int)
    names = ["late_share_180d", "dpd_current_max", "segment"]
    clf = lgb.LGBMClassifier(n_estimators=20, num_leaves=5, verbose=-1, random_state=0).fit(feats[names], y)
    loaded = LoadedModel(
        name="ews-pd",
        version="4",
        alias="champion",
        run_id="r",
        estimator=clf,
        booster=clf.booster_,
        feature_names=names,
        categorical_features=["segment"],
        categories={"segment": ["retail", "wholesale"]},
        reference={},
        metrics={},
    )
    return loaded, feats


def test_scores_every_debtor_with_defaults_at_pd_one(model_and_features) -> None:
    loaded, feats = model_and_features
    shuffled = feats.sample(frac=1.0, random_state=1)
    in_default = pd.Series({"D0003": True, "D0007": True})
    scores, X = score_debtors(shuffled, in_default, pd.Series({"D0001": "Acme"}), loaded, prepare_X, CFG)
    assert scores["debtor_id"].tolist() == sorted(feats["debtor_id"])  # sorted, every debtor
    d = scores.set_index("debtor_id")
    assert (
        d.loc["D0003", "pd"] == 1.0
        and d.loc["D0003", "band"] == "default"
        and np.isnan(d.loc["D0003", "raw_score"])
    )
    assert len(X) == len(feats) - 2 and "D0003" not in X.index
    expected = loaded.estimator.predict_proba(prepare_X(feats.set_index("debtor_id").loc[["D0010"]], loaded))[
        0, 1
    ]
    assert d.loc["D0010", "pd"] == pytest.approx(expected)
    assert d.loc["D0001", "name"] == "Acme" and pd.isna(d.loc["D0002", "name"])
    assert (d["model_version"] == "4").all() and d["feature_snapshot_hash"].nunique() == 1
    live = d[~d["in_default"]]
    assert ((live["pd"] >= 0) & (live["pd"] <= 1)).all()
    # same input in another order -> identical scores (what makes reruns byte-identical)
    again, _ = score_debtors(feats, in_default, pd.Series({"D0001": "Acme"}), loaded, prepare_X, CFG)
    pd.testing.assert_frame_equal(scores, again)


def test_feature_hash_changes_only_for_changed_rows(model_and_features) -> None:
    loaded, feats = model_and_features
    changed = feats.copy()
    changed.loc[changed["debtor_id"] == "D0005", "late_share_180d"] = 0.99
    a, _ = score_debtors(feats, pd.Series(dtype=bool), None, loaded, prepare_X, CFG)
    b, _ = score_debtors(changed, pd.Series(dtype=bool), None, loaded, prepare_X, CFG)
    differs = a["feature_hash"] != b["feature_hash"]
    assert a.loc[differs, "debtor_id"].tolist() == ["D0005"]
    assert a["feature_snapshot_hash"].iloc[0] != b["feature_snapshot_hash"].iloc[0]


def test_missing_feature_column_is_refused_with_its_name(model_and_features) -> None:
    loaded, feats = model_and_features
    with pytest.raises(IncompatibleModelError, match=r"lack 1 column.*'dpd_current_max'.*ews train"):
        score_debtors(
            feats.drop(columns="dpd_current_max"), pd.Series(dtype=bool), None, loaded, prepare_X, CFG
        )


def test_wrong_feature_type_is_refused(model_and_features) -> None:
    loaded, feats = model_and_features
    bad = feats.assign(late_share_180d=feats["late_share_180d"].astype(str))
    with pytest.raises(IncompatibleModelError, match=r"late_share_180d .*model expects numeric"):
        score_debtors(bad, pd.Series(dtype=bool), None, loaded, prepare_X, CFG)


def test_score_bucket_carries_each_debtors_latest_event_known_at_as_of(model_and_features) -> None:
    """The recovery queue's event action reads the event the scoring pass found in the bucket's
    ``events`` rows (``pipelines.scoring.actions.with_events``): none dated after the as-of date."""
    from nightly_portfolio import typed_tables

    from features.params import DefaultDefinition
    from features.tables import Portfolio
    from pipelines.engine import Book
    from pipelines.scoring.score import score_bucket

    base, feats = model_and_features
    names = ["dpd_current_max", "open_balance"]  # features the engine builds (the fixture's are made up)
    y = (feats["dpd_current_max"] > 60).astype(int)
    clf = lgb.LGBMClassifier(n_estimators=5, num_leaves=3, verbose=-1, random_state=0).fit(feats[names], y)
    fields = {"estimator": clf, "booster": clf.booster_, "feature_names": names, "categorical_features": []}
    loaded = LoadedModel(**{**base.__dict__, **fields, "categories": {}})
    as_of = pd.Timestamp("2024-08-29")
    typed = typed_tables(n_debtors=40, months=10, seed=5)
    a, b, c = sorted(typed["debtors"]["debtor_id"])[:3]
    events = pd.DataFrame(
        {
            "debtor_id": pd.Series([a, a, b, c], dtype="string"),
            "event_date": pd.to_datetime(["2024-06-03", "2024-08-01", "2024-08-20", "2024-08-30"]),
            "kind": pd.Series(["insolvency", "agency_placement", "write_off", "insolvency"], dtype="string"),
            "amount": [100.0, 100.0, 50.0, 10.0],
        }
    )
    book = Book.in_memory(Portfolio(**typed, events=events), 10**9)
    got = score_bucket(book, 0, as_of, DefaultDefinition(), loaded, CFG).oldest.set_index("debtor_id")
    assert got.loc[a, "event"] == "insolvency" and got.loc[a, "event_on"] == pd.Timestamp("2024-06-03")
    assert got.loc[b, "event"] == "write_off" and got.loc[b, "event_on"] == pd.Timestamp("2024-08-20")
    assert c not in got.index or pd.isna(got.loc[c, "event"])  # its insolvency is after as-of
    assert got["event"].notna().sum() == 2 and got.index.is_monotonic_increasing
