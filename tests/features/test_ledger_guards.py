"""The ledger refuses amounts it cannot add up exactly (defence behind ingest's checks)."""

from __future__ import annotations

import numpy as np
import pytest

from features.ledger import prepare_ledger
from tests.features.ledgers import inv, pay, portfolio


@pytest.mark.parametrize("amount", [1.797e308, np.inf, np.nan, -2e13])
def test_absurd_invoice_amount_is_refused_not_overflowed(amount: float) -> None:
    p = portfolio(
        [
            inv("i1", "a", "2024-01-01", "2024-01-31", 100.0),
            inv("i2", "a", "2024-01-02", "2024-02-01", amount),
        ]
    )
    with pytest.raises(ValueError, match=r"invoices.amount: 1 value not finite or above 1e\+13"):
        prepare_ledger(p)


def test_absurd_payment_amount_is_refused() -> None:
    p = portfolio(
        [inv("i1", "a", "2024-01-01", "2024-01-31", 100.0)], [pay("p1", "a", "2024-01-05", 1.797e308)]
    )
    with pytest.raises(ValueError, match="payments.amount"):
        prepare_ledger(p)
