"""The credit-limit policy (pipelines.scoring.limits) on hand-built cases, values worked out by hand.

Unless a test says otherwise: 36,500 invoiced in the last 365 days (the default window since session 41;
90 before) = 100 per day, 30-day terms, so need = 100 x 30 = 3,000 and the default factors (conf/credit.yaml)
give band A 6,000 / 4,500 / 9,000.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config import ConfigError, config_hash, load_config
from pipelines.config.credit import CreditPolicyConfig, load_credit_policy
from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.limits import DAYS_PER_MONTH, add_credit_limits, recommend_limits

ROOT = Path(__file__).resolve().parents[2]
POLICY = CreditPolicyConfig()
COLS = ["credit_limit_recommended", "credit_limit_conservative", "credit_limit_aggressive"]


def inputs(*rows: dict) -> pd.DataFrame:
    base = {"band": "A", "in_default": False, "invoiced": 36_500.0, "terms_days": 30.0}
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame.index = [f"d{i}" for i in range(len(frame))]
    return frame


def limits(frame: pd.DataFrame, policy: CreditPolicyConfig = POLICY) -> pd.DataFrame:
    return recommend_limits(frame, policy)


def policy(**changes) -> CreditPolicyConfig:
    return CreditPolicyConfig.model_validate({**POLICY.model_dump(), **changes})


def test_need_is_monthly_volume_times_terms_and_band_factors_scale_it() -> None:
    out = limits(inputs({"band": "A"}, {"band": "B"}, {"band": "C"}, {"band": "D"}, {"band": "E"}))
    assert out["credit_need"].tolist() == pytest.approx([3000.0] * 5)
    # monthly volume 100 x 30.4375 = 3,043.75; x terms in months (30 / 30.4375) = 3,000
    assert out["invoiced_per_month"].iloc[0] == pytest.approx(100 * DAYS_PER_MONTH)
    assert out["terms_days"].iloc[0] == 30.0
    # recommended / conservative / aggressive = 3,000 x factors, rounded down to 500
    expected = [
        [6000, 4500, 9000],  # A: 2.0 / 1.5 / 3.0
        [4500, 3000, 6000],  # B: 1.5 / 1.0 / 2.0
        [3000, 2000, 4500],  # C: 1.0 / 0.75 (2,250 -> 2,000) / 1.5
        [1500, 500, 3000],  # D: 0.5 / 0.25 (750 -> 500) / 1.0
        [500, 0, 1500],  # E: 0.25 (750 -> 500) / 0 / 0.5
    ]
    assert out[COLS].to_numpy().tolist() == expected
    assert out["credit_limit_rule"].iloc[1] == "band B: need x 1.5 (conservative x 1, aggressive x 2)"


def test_variants_have_their_own_factors() -> None:
    custom = policy(
        bands={b: {"recommended": 1.0, "conservative": 0.5, "aggressive": 4.0} for b in "ABCDE"},
        round_to=1.0,
    )
    out = limits(inputs({}), custom)
    assert out[COLS].iloc[0].tolist() == [3000.0, 1500.0, 12000.0]


def test_turnover_cap_applies_to_every_variant_and_names_the_rule() -> None:
    out = limits(inputs({"annual_turnover": 50_000.0}, {"annual_turnover": np.nan}))
    # cap 10 % of 50,000 = 5,000: recommended 6,000 -> 5,000; aggressive 9,000 -> 5,000; conservative 4,500 stays
    assert out[COLS].iloc[0].tolist() == [5000.0, 4500.0, 5000.0]
    assert out["credit_limit_rule"].iloc[0].endswith("capped at 10 % of annual turnover")
    # turnover unknown: no cap
    assert out[COLS].iloc[1].tolist() == [6000.0, 4500.0, 9000.0]
    assert "capped" not in out["credit_limit_rule"].iloc[1]


def test_net_worth_cap_lowest_cap_wins_and_negative_worth_gives_zero() -> None:
    out = limits(
        inputs(
            {"net_worth": 20_000.0},  # cap 20 % = 4,000
            {"net_worth": 20_000.0, "annual_turnover": 50_000.0},  # 4,000 below 5,000: net worth binds
            {"net_worth": 100_000.0, "annual_turnover": 50_000.0},  # 20,000 above 5,000: turnover binds
            {"net_worth": -5_000.0},  # negative net worth: 0
        )
    )
    assert out[COLS].to_numpy().tolist() == [
        [4000, 4000, 4000],
        [4000, 4000, 4000],
        [5000, 4500, 5000],
        [0, 0, 0],
    ]
    rules = out["credit_limit_rule"].astype(str).tolist()
    assert rules[0].endswith("capped at 20 % of net worth") and rules[1].endswith("of net worth")
    assert rules[2].endswith("capped at 10 % of annual turnover")
    assert rules[3].endswith("capped at 20 % of net worth")


def test_caps_can_be_switched_off_and_max_limit_caps_everyone() -> None:
    frame = inputs({"annual_turnover": 10_000.0, "net_worth": 1_000.0})
    out = limits(frame, policy(caps={"turnover_ratio": None, "net_worth_ratio": None, "max_limit": 5_200}))
    # only max_limit: 6,000 and 9,000 -> 5,200 -> rounded down to 5,000
    assert out[COLS].iloc[0].tolist() == [5000.0, 4500.0, 5000.0]
    assert out["credit_limit_rule"].iloc[0].endswith("capped at the maximum limit 5,200")


def test_debtor_in_default_gets_zero_whatever_its_volume() -> None:
    out = limits(inputs({"in_default": True, "band": "default", "invoiced": 1e7, "credit_limit": 50_000.0}))
    assert out[COLS].iloc[0].tolist() == [0.0, 0.0, 0.0]
    assert out["credit_limit_rule"].iloc[0] == "in default: 0"
    assert out["credit_limit_current"].iloc[0] == 50_000.0


def test_no_history_rule_zero_or_keep_current() -> None:
    frame = inputs(
        {"invoiced": 0.0, "terms_days": np.nan, "credit_limit": 7_000.0},
        {"invoiced": np.nan, "terms_days": np.nan, "credit_limit": np.nan},
    )
    zero = limits(frame)
    assert zero[COLS].to_numpy().tolist() == [[0, 0, 0], [0, 0, 0]]
    assert set(zero["credit_limit_rule"]) == {"no invoice in the last 365 days: 0"}
    assert zero["credit_need"].tolist() == [0.0, 0.0] and zero["terms_days"].isna().all()
    kept = limits(frame, policy(no_history="keep_current"))
    assert kept[COLS].to_numpy().tolist() == [[7000] * 3, [0] * 3]
    assert kept["credit_limit_rule"].astype(str).tolist() == [
        "no invoice in the last 365 days: current limit kept",
        "no invoice in the last 365 days and no current limit: 0",
    ]


def test_rounding_step_and_terms_floor() -> None:
    frame = inputs({}, {"terms_days": 0.0}, {"invoiced": 36_499.99999999})
    out = limits(frame, policy(round_to=1000.0))
    # 6,000 / 4,500 -> 4,000 / 9,000; terms 0: need 0; 36,499.99999999 (float noise) is 36,500
    assert out[COLS].to_numpy().tolist() == [[6000, 4000, 9000], [0, 0, 0], [6000, 4000, 9000]]
    floored = limits(frame, policy(min_terms_days=14, round_to=1.0))
    # terms 0 counts as 14 days: need 100 x 14 = 1,400; A x 2 = 2,800; 5,999.999999993 is 6,000 within a
    # millionth of the step
    assert floored["credit_limit_recommended"].tolist() == [6000.0, 2800.0, 6000.0]
    assert floored["terms_days"].tolist() == [30.0, 14.0, 30.0]


def test_unknown_band_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"1 risk band \['Z'\] without factors"):
        limits(inputs({"band": "Z"}))


def scores_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "debtor_id": pd.array(["a", "b", "c"], dtype="string"),
            "band": pd.array(["A", "B", "default"], dtype="string"),
            "in_default": [False, False, True],
            "pd": [0.005, 0.02, 1.0],
            "open_balance": [1000.0, 8000.0, 500.0],
            "invoice_amount_90d": [9000.0, 9000.0, 9000.0],
            "invoice_amount_365d": [36_500.0, 73_000.0, 0.0],
            "payment_terms_mean_365d": [30.0, 60.0, 30.0],
        }
    )


def test_add_credit_limits_joins_the_debtors_table_by_id() -> None:
    debtors = pd.DataFrame(
        {
            "debtor_id": pd.array(["c", "b", "x"], dtype="string"),
            "credit_limit": [100.0, 2_500.0, 9.0],
            "annual_turnover": [np.nan, 40_000.0, 1.0],
        }
    )
    out = add_credit_limits(scores_frame(), debtors, POLICY)
    assert out["credit_limit_current"].tolist()[1:] == [2500.0, 100.0] and np.isnan(
        out["credit_limit_current"][0]
    )
    # default window 365 days: b: 73,000 / 365 = 200 per day x 60 = 12,000; B x 1.5 = 18,000 capped at 10 % of
    # 40,000 = 4,000 (every variant); a: 36,500 / 365 = 100 per day x 30 = 3,000, A x 2 = 6,000
    assert out.loc[1, COLS].tolist() == [4000.0, 4000.0, 4000.0]
    assert out.loc[0, "credit_limit_recommended"] == 6000.0 and out.loc[2, "credit_limit_recommended"] == 0.0
    quarterly = add_credit_limits(scores_frame(), None, policy(volume_window_days=90))
    # a: 9,000 / 90 = 100 per day x 30 = 3,000 x 2 = 6,000; b: 100 per day x 60 = 6,000 x 1.5 = 9,000 (no cap)
    assert quarterly["credit_limit_recommended"].tolist() == [6000.0, 9000.0, 0.0]
    assert quarterly["credit_limit_current"].isna().all()


def test_no_leakage_invoices_after_as_of_change_nothing() -> None:
    """Limits from the point-in-time features at T: invoices and payments after T change nothing."""
    from features.build import build_features
    from tests.features.ledgers import inv, pay, portfolio

    T = "2024-06-30"
    before = [
        inv("i1", "a", "2024-06-20", "2024-07-20", 3000.0),  # T-10
        inv("i2", "a", "2024-05-21", "2024-06-20", 3000.0),  # T-40
        inv("i3", "a", "2024-04-11", "2024-05-11", 3000.0),  # T-80
        inv("i0", "a", "2024-03-22", "2024-05-21", 3000.0),  # T-100: in the 365 days, 60-day terms
    ]
    later = [
        inv("i9", "a", "2024-07-01", "2024-10-01", 90_000.0),
        inv("i8", "a", "2024-08-15", "2024-08-16", 5.0),
    ]
    payments = [pay("p1", "a", "2024-05-20", 3000.0, "i0")]

    def limits_at(invoices: list[dict], pays: list[dict]) -> pd.DataFrame:
        feats = build_features(portfolio(invoices, pays), [T])
        frame = feats.assign(band="A", in_default=False)
        return add_credit_limits(frame, None, policy(round_to=1.0))

    now = limits_at(before, payments)
    # 12,000 in (T-365, T] = 12,000 / 365 = 32.8767 per day; terms over 365 days (30 + 30 + 30 + 60) / 4 = 37.5
    # days; need 12,000 x 37.5 / 365 = 1,232.88; band A x 2 = 2,465.75, rounded down to 1: 2,465
    assert now["credit_need"].iloc[0] == pytest.approx(12_000 * 37.5 / 365)
    assert now["credit_limit_recommended"].iloc[0] == 2465.0
    after = limits_at(before + later, payments + [pay("p2", "a", "2024-07-05", 3000.0, "i1")])
    cols = ["invoiced_per_month", "terms_days", "credit_need", *COLS, "credit_limit_rule"]
    pd.testing.assert_frame_equal(now[cols], after[cols])


def test_shipped_credit_yaml_is_the_default_policy() -> None:
    shipped = load_config(ROOT / "conf" / "credit.yaml", expect=CreditPolicyConfig)
    assert config_hash(shipped) == config_hash(POLICY)
    shipped.check_bands([b.name for b in NightlyConfig().bands], "conf/credit.yaml")


def test_missing_file_gives_the_default(tmp_path) -> None:
    assert load_credit_policy(tmp_path / "nope.yaml", ["A", "B", "C", "D", "E"]) == POLICY
    assert load_credit_policy(None) == POLICY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "kind: credit\nbands:\n  A: {recommended: 1.0, conservative: 2.0, aggressive: 3.0}\n",
            "bands.A: Value error, need conservative <= recommended <= aggressive",
        ),
        ("kind: credit\nvolume_window_days: 180\n", "volume_window_days: Input should be 90 or 365"),
        ("kind: credit\nround_to: 0\n", "round_to: Input should be greater than 0"),
        ("kind: credit\ncaps: {turnover_ratio: 1.5}\n", "caps.turnover_ratio: Input should be less than"),
        ("kind: credit\nno_history: keep\n", "no_history: Input should be 'zero' or 'keep_current'"),
        ("kind: credit\nfactor: 2\n", "factor: unknown key"),
    ],
)
def test_bad_credit_yaml_is_a_clear_error(tmp_path, text, message) -> None:
    path = tmp_path / "credit.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_credit_policy(path, ["A", "B", "C", "D", "E"])
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_bands_must_match_the_nightly_bands(tmp_path) -> None:
    path = tmp_path / "credit.yaml"
    path.write_text("kind: credit\nbands:\n  A: {recommended: 1, conservative: 1, aggressive: 1}\n")
    with pytest.raises(ConfigError, match=r"bands: missing \['B', 'C', 'D', 'E'\]; give factors"):
        load_credit_policy(path, ["A", "B", "C", "D", "E"])


def test_credit_limits_table_largest_exposure_first_with_currency_and_files(tmp_path) -> None:
    import datetime as dt

    import openpyxl

    from pipelines.scoring.limits import credit_limits_table, write_credit_limits

    scored = add_credit_limits(scores_frame().assign(open_balance=[500.0, 8000.0, 500.0]), None, POLICY)
    # b: 73,000 / 365 = 200 per day x 60 = 12,000, B x 1.5 = 18,000; a: 100 per day x 30 = 3,000, A x 2 = 6,000
    table = credit_limits_table(scored, "EUR")
    assert table["debtor_id"].tolist() == ["b", "a", "c"]  # 8,000 first; equal exposures by debtor_id
    assert (table["currency"] == "EUR").all() and table["credit_limit_rule"].iloc[2] == "in default: 0"
    files = write_credit_limits(scored, tmp_path, dt.datetime(2024, 6, 30), "EUR", xlsx_rows=2)
    assert set(files) == {"credit_limits.csv", "credit_limits.xlsx"}
    csv = pd.read_csv(tmp_path / "credit_limits.csv", encoding="utf-8-sig")
    assert csv["credit_limit_recommended"].tolist() == [18000.0, 6000.0, 0.0]
    sheet = openpyxl.load_workbook(tmp_path / "credit_limits.xlsx", read_only=True)["credit limits"]
    rows = list(sheet.iter_rows(values_only=True))
    assert "Recommended credit limit (EUR)" in rows[0] and "Exposure at default (EUR)" in rows[0]
    assert len(rows) == 1 + 2 + 1  # header, the 2 largest exposures, totals
    assert write_credit_limits(scores_frame(), tmp_path, dt.datetime(2024, 6, 30), "EUR", 10) == {}


def test_a_debtor_never_invoiced_gets_no_band_and_no_limit_or_the_configured_starting_limit(tmp_path) -> None:
    """s38: a prospect (a debtor of the debtors table with no invoice, payment or statement by the as-of date:
    has_history False) read as "no invoice in the last 90 days: 0", and credit_limits.csv showed the band its
    empty features gave it. By hand: p (prospect, band A from the model, current limit 4,000) and a (band A,
    36,500 invoiced over 365 days on 30-day terms: need 3,000, 6,000 / 4,500 / 9,000).
    Default policy (prospect_limit null): p gets no limit (empty), the rule says to set it by hand, and its band
    and PD are empty in the table; a keeps its figures. prospect_limit 2,750: 2,500 in every variant (rounded
    down to the step of 500); with annual_turnover 20,000 (cap 10 %: 2,000) it is 2,000."""
    scored = pd.DataFrame(
        {
            "debtor_id": pd.array(["a", "p"], dtype="string"),
            "band": pd.array(["A", "A"], dtype="string"),
            "in_default": [False, False],
            "pd": [0.005, 0.004],
            "open_balance": [1000.0, np.nan],
            "invoice_amount_90d": [9000.0, np.nan],
            "invoice_amount_365d": [36_500.0, np.nan],
            "payment_terms_mean_365d": [30.0, np.nan],
            "has_history": [True, False],
        }
    )
    debtors = pd.DataFrame(
        {"debtor_id": pd.array(["p"], dtype="string"), "credit_limit": [4000.0], "annual_turnover": [np.nan]}
    )
    out = add_credit_limits(scored, debtors, POLICY).set_index("debtor_id")
    assert out.loc["a", COLS].tolist() == [6000.0, 4500.0, 9000.0]
    assert out.loc["p", COLS].isna().all() and out.loc["p", "credit_limit_current"] == 4000.0
    assert out.loc["p", "credit_limit_rule"] == (
        "never invoiced: no basis for a limit, set it by hand (or credit.prospect_limit)"
    )
    from pipelines.scoring.limits import credit_limits_table

    table = credit_limits_table(out.reset_index(), "EUR").set_index("debtor_id")
    assert pd.isna(table.loc["p", "band"]) and pd.isna(table.loc["p", "pd"])
    assert table.loc["a", "band"] == "A" and table.loc["a", "pd"] == 0.005
    start = policy(prospect_limit=2750.0)
    got = add_credit_limits(scored, debtors, start).set_index("debtor_id")
    assert got.loc["p", COLS].tolist() == [2500.0, 2500.0, 2500.0]
    assert got.loc["p", "credit_limit_rule"] == (
        "never invoiced: the starting limit 2,750 (credit.prospect_limit), at most the caps"
    )
    capped = add_credit_limits(scored, debtors.assign(annual_turnover=[20_000.0]), start).set_index(
        "debtor_id"
    )
    assert capped.loc["p", COLS].tolist() == [2000.0, 2000.0, 2000.0]
    assert got.loc["a", COLS].tolist() == [6000.0, 4500.0, 9000.0]


def test_without_a_band_the_variants_are_empty_and_the_rule_says_why() -> None:
    """``recommend_limits`` of inputs without a ``band`` column (a run without a PD model; s42-rolling: what
    ``current_limits_only`` computed with a stand-in band and then blanked): the need and the current limit
    as with a band, the three variants empty, in default and for the never-invoiced too, the rule
    NO_MODEL_RULE but in default. d0: 36,500 a year = 100 a day x 30 days' terms = 3,000 need, 5,000 on file;
    d1 in default; d2 never invoiced (prospect_limit 2,000 would give it 2,000 with a band); d3 no invoice in
    the window, 1,000 on file (keep_current would keep it with a band): need 0. A column of empty bands is
    not the same: a model's run whose never-invoiced debtor gets the starting limit and whose debtor in
    default gets 0."""
    from pipelines.scoring.limits import NO_MODEL_RULE

    pol = policy(prospect_limit=2000.0, no_history="keep_current")
    frame = inputs(
        {"credit_limit": 5000.0},
        {"in_default": True},
        {"has_history": False, "invoiced": 0.0},
        {"invoiced": 0.0, "credit_limit": 1000.0},
    ).drop(columns="band")
    frame["has_history"] = frame["has_history"].astype("boolean").fillna(True)
    out = limits(frame, pol)
    assert out["credit_need"].tolist() == pytest.approx([3000.0, 3000.0, 0.0, 0.0])
    assert out["credit_limit_current"].iloc[[0, 3]].tolist() == [5000.0, 1000.0]
    assert out[COLS].isna().all().all()
    assert out["credit_limit_rule"].tolist() == [NO_MODEL_RULE, "in default: 0", NO_MODEL_RULE, NO_MODEL_RULE]
    banded = limits(
        frame.iloc[[1, 2]].assign(band=pd.Series([pd.NA, pd.NA], dtype="string", index=["d1", "d2"])), pol
    )
    assert banded[COLS].to_numpy().tolist() == [[0.0, 0.0, 0.0], [2000.0, 2000.0, 2000.0]]
