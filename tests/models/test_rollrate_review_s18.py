"""Review of session 18 (s18-review): the silent overlay's explanation. A debtor whose PD the
overlay raised (7bed8f1) has the silent state model's PD, but its reasons kept the within-state
shares of the model without silence ("up to 29 days past due in the last 180 days" raising a PD
that model did not publish). The book is tests/models/test_rollrate_within.py's, with the silent
features: a debtor 45 days past due has gone 60 days without a payment and 90 without an invoice
(12 invoices a year: 2 usual gaps 60.8 days), so it is silent; every other row 5 and 5."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from models.rollrate import RollRateModel, reason_frame
from tests.models.test_rollrate_within import PARAMS, book


def _silent_book():
    frame = book()
    quiet = frame["dpd_current_max"].eq(45.0)
    return frame.assign(
        days_since_last_payment=np.where(quiet, 60.0, 5.0),
        tenure_days=400.0,
        days_since_last_invoice=np.where(quiet, 90.0, 5.0),
        invoice_count_365d=12.0,
        overdue_invoice_count=np.where(frame["dpd_current_max"].between(1, 94), 1.0, 0.0),
    )


def test_a_pd_raised_by_silence_is_explained_by_the_silent_model() -> None:
    frame = _silent_book()
    model = RollRateModel(replace(PARAMS, silent=True)).fit(frame)
    quiet_model = model.silent_model_
    assert model.within_.kept and quiet_model.within_.kept
    live = frame[~frame["in_default_at_asof"]].drop(columns=["label"])
    raised = model.raised_by_silence(live)
    # by hand: the 14 rollers are 45 days past due once each (live then), the book's only silent rows
    assert live["dpd_current_max"].eq(45.0).sum() == 14
    assert 0 < raised.sum() <= 14 and (live.loc[raised, "dpd_current_max"] == 45.0).all()
    code, state, parts = model.logodds_parts(live)
    pd_ = model.predict_proba(live)[:, 1]
    # the shares still add up to the published PD's log-odds, on every row
    np.testing.assert_allclose(state + parts.sum(axis=1), np.log(pd_ / (1 - pd_)), atol=1e-12)
    # a raised row's within share is the silent model's own, not the plain model's
    mine = quiet_model.logodds_parts(live[raised])[2]
    np.testing.assert_allclose(parts[raised], mine, atol=1e-12)
    plain = RollRateModel(replace(PARAMS, silent=False)).fit(frame).logodds_parts(live[raised])[2]
    assert not np.allclose(parts[raised], plain)
    # its reasons: the silent sentence, then within reasons whose contributions are the silent
    # model's shares (which of them are shown also depends on the batch's typical values)
    reasons = reason_frame(model, live)
    shown = reasons[reasons["row"].isin(live.index[raised]) & (reasons["rank"] > 1)]
    assert len(shown) and (shown["feature"] == "dpd_max_180d").all()
    share = dict(zip(live.index[raised], mine[:, 0], strict=True))
    np.testing.assert_allclose(shown["contribution"], shown["row"].map(share), atol=1e-12)
    first = reasons[reasons["row"].isin(live.index[raised]) & (reasons["rank"] == 1)]
    assert (
        first["reason"].str.startswith("silent: no payment for 60 days and no new invoice for 90 days").all()
    )
    base = math.log(model.base_pd_ / (1 - model.base_pd_))
    np.testing.assert_allclose(first["contribution"].to_numpy(), state[raised] - base, atol=1e-12)
