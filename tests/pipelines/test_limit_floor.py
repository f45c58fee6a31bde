"""limit_breach's materiality floor on the recommended-limit test (session 36, s36-watch): a tiny
exposure over a tiny recommended limit is not flagged, a real breach still is; the floor only takes
entries off the list (the memory of breaches reads every one)."""

from __future__ import annotations

import pandas as pd

from pipelines.config.nightly import NightlyConfig
from pipelines.scoring.watchlist import assign_bands, compare_with_previous, triggers

CFG = NightlyConfig()


def _limits(balances: list[float], recommended: list[float]) -> pd.DataFrame:
    n = len(balances)
    frame = pd.DataFrame(
        {
            "debtor_id": pd.array([f"d{k}" for k in range(n)], dtype="string"),
            "pd": 0.00013,
            "in_default": False,
            "open_balance": balances,
            "credit_limit_current": float("nan"),
            "credit_limit_recommended": recommended,
            "credit_need": 1.0,
        }
    )
    frame["band"] = assign_bands(frame["pd"], CFG)
    return frame


def test_a_tiny_exposure_over_a_tiny_recommended_limit_is_not_flagged_and_a_real_breach_is() -> None:
    """Open balances 924 (recommended 500), 30,000 (recommended 20,000) and five debtors within their
    limits at 4,000, 5,000, 6,000, 7,000 and 8,000: the median open balance of the 7 live debtors is
    6,000, so the floor is 0.5 x 6,000 = 3,000. 924 > 1.2 x 500 = 600 but under 3,000: not flagged;
    30,000 > 1.2 x 20,000 = 24,000 and over 3,000: flagged. With min_exposure_share 0 (before
    session 36) both were."""
    frame = _limits(
        [924.0, 30_000.0, 4_000.0, 5_000.0, 6_000.0, 7_000.0, 8_000.0], [500.0, 20_000.0, *[10_000.0] * 5]
    )
    always = NightlyConfig.model_validate({"triggers": {"limit_breach": {"when": "always"}}})
    fired = triggers(compare_with_previous(frame, None), always, False)["trigger_limit_breach"].tolist()
    assert fired == [False, True, False, False, False, False, False]
    off = NightlyConfig.model_validate(
        {"triggers": {"limit_breach": {"when": "always", "min_exposure_share": 0}}}
    )
    assert triggers(compare_with_previous(frame, None), off, False)["trigger_limit_breach"].tolist()[:2] == [
        True,
        True,
    ]
    # an amount floor in the reporting currency: 900 flags the 924, 1,000 does not (the larger floor applies)
    for amount, tiny in ((900.0, True), (1_000.0, False)):
        cfg = NightlyConfig.model_validate(
            {
                "triggers": {
                    "limit_breach": {"when": "always", "min_exposure_share": 0, "min_exposure": amount}
                }
            }
        )
        assert triggers(compare_with_previous(frame, None), cfg, False)["trigger_limit_breach"].tolist()[
            :2
        ] == [tiny, True]


def test_the_floor_does_not_make_a_breach_new_when_it_grows_past_it() -> None:
    """d0 is over its recommended limit of 500 (x 1.2) on both nights: 924 (under the floor of 3,000)
    then 3,500 (over it). The breach was there the night before, so with when: new it is not new
    and d0 is not flagged on night 2 (the memory reads every breach; the floor only takes entries
    off the list: a floor read by the memory made it new on night 2). Before session 36, with no
    floor, night 1's 924 was flagged when limit_breach fires every night."""
    night1 = _limits([924.0, 4_000.0, 5_000.0, 6_000.0, 7_000.0, 8_000.0], [500.0, *[10_000.0] * 5])
    night2 = _limits([3_500.0, 4_000.0, 5_000.0, 6_000.0, 7_000.0, 8_000.0], [500.0, *[10_000.0] * 5])
    cfg = NightlyConfig.model_validate({"triggers": {"limit_breach": {"rearm_days": 0}}})
    first = compare_with_previous(night1, None)
    assert not triggers(first, cfg, False)["trigger_limit_breach"].any()
    # every night (when: always): the median of night 1 is 5,500, floor 2,750: 924 is not flagged
    always = cfg.model_copy(
        update={
            "triggers": cfg.triggers.model_copy(
                update={"limit_breach": cfg.triggers.limit_breach.model_copy(update={"when": "always"})}
            )
        }
    )
    assert not triggers(first, always, False)["trigger_limit_breach"].any()
    second = compare_with_previous(night2, night1)
    # median open balance 5,500 -> floor 2,750: d0's 3,500 is over it, but its breach is not new
    assert not triggers(second, cfg, True)["trigger_limit_breach"].any()
    fresh = compare_with_previous(
        night2, night1.assign(open_balance=[400.0, 4_000.0, 5_000.0, 6_000.0, 7_000.0, 8_000.0])
    )
    assert triggers(fresh, cfg, True)["trigger_limit_breach"].tolist()[0]
