"""Benchmark: how the reason codes read, before and after reason groups and direction checks.

For the ``--top`` highest-PD live debtors of one as-of date, scored by the champion in
``--mlflow-uri``, it compares

* **before**: the top ``--top-n`` positive TreeSHAP contributions, one reason per feature;
* **after**: :func:`models.reasons.reason_codes` (one reason per group, risk direction checked
  against the median of the live debtors, missing values worded by the catalog).

and prints, for each: debtors with two or more reasons from one group, reasons whose value points
against the feature's risk direction, reasons on a missing value (before: the raw description +
"no history available"), and the mean number of reasons per debtor. The last line is one JSON
object. Example (after ``ews demo``, from the repository root)::

    .venv/bin/python benchmarks/reasons_quality.py --data data/sample --as-of 2025-12-31 \
        --mlflow-uri sqlite:///data/mlflow/mlflow.db
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data/sample"))
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--mlflow-uri", default="sqlite:///data/mlflow/mlflow.db")
    parser.add_argument("--top", type=int, default=500, help="highest-PD live debtors to explain")
    parser.add_argument("--top-n", type=int, default=4)
    args = parser.parse_args()

    import features.build  # noqa: F401 - fills the catalog
    from features.catalog import CATALOG
    from features.params import DefaultDefinition
    from models.reasons import contributions, reason_codes
    from pipelines.adapters.files import read_portfolio
    from pipelines.adapters.registry import load_model_version, prepare_X
    from pipelines.engine import Book, build_book
    from pipelines.scoring.watchlist import debtor_currency

    as_of = dt.date.fromisoformat(args.as_of)
    loaded = load_model_version("champion", tracking_uri=args.mlflow_uri)
    portfolio = read_portfolio(args.data)
    built = build_book(
        Book.in_memory(portfolio, 2_000_000), [pd.Timestamp(as_of)], DefaultDefinition(**_definition(loaded))
    )
    in_default = built.defaults.set_index(built.defaults["debtor_id"].astype("string"))["in_default_at_asof"]
    frame = built.features
    frame = frame[~frame["debtor_id"].astype("string").map(in_default).fillna(False).astype(bool)]
    X_all = prepare_X(frame, loaded)
    X_all.index = pd.Index(frame["debtor_id"].astype("string").to_numpy())
    pd_all = loaded.estimator.predict_proba(X_all)[:, 1]
    top = X_all.iloc[np.argsort(-pd_all, kind="stable")[: args.top]]
    contrib = contributions(loaded.booster, top)
    centre = X_all.median(numeric_only=True)

    # before: one reason per feature, the largest positive contributions, no checks
    arr = contrib.values.to_numpy()
    order = np.argsort(-arr, axis=1, kind="stable")[:, : args.top_n]
    before = []
    for i, row in enumerate(order):
        for j in row:
            if arr[i, j] > 0:
                before.append((top.index[i], top.columns[j], top.iat[i, j]))
    old = pd.DataFrame(before, columns=["row", "feature", "value"])
    new = reason_codes(
        contrib,
        top,
        CATALOG,
        args.top_n,
        centre=centre,
        currency=debtor_currency(portfolio.invoices, top.index),
    )
    new_values = [top.at[r.row, r.feature] for r in new.itertuples()]
    new = new.assign(value=new_values)
    figures = {"as_of": args.as_of, "debtors": len(top), "model_version": loaded.version}
    for name, frame_ in (("before", old), ("after", new)):
        figures[name] = _figures(frame_, CATALOG, centre, len(top))
    print(f"reason codes of the {len(top)} highest-PD live debtors as of {as_of} (model v{loaded.version})")
    print(f"{'':38s}{'before':>10s}{'after':>10s}")
    for key, label in (
        ("debtors_with_repeated_group", "debtors with 2+ reasons of one group"),
        ("wrong_direction", "reasons against the risk direction"),
        ("missing_value", "reasons on a missing value"),
        ("reasons_per_debtor", "reasons per debtor (mean)"),
    ):
        print(f"{label:38s}{figures['before'][key]:>10}{figures['after'][key]:>10}")
    print(json.dumps(figures))


def _definition(loaded) -> dict:
    record = loaded.definition or {}
    keys = ("dpd_threshold", "horizon_days", "event_kinds")
    return {k: (tuple(record[k]) if k == "event_kinds" else record[k]) for k in keys if k in record}


def _figures(reasons: pd.DataFrame, catalog, centre: pd.Series, n_debtors: int) -> dict:
    groups = reasons["feature"].map(lambda f: catalog[f].group if f in catalog else f)
    repeated = groups.groupby(reasons["row"]).agg(lambda g: g.duplicated().any())
    direction = reasons["feature"].map(lambda f: catalog[f].direction if f in catalog else 0)
    values = pd.to_numeric(reasons["value"], errors="coerce")
    centres = reasons["feature"].map(centre).astype("float64")
    wrong = (direction != 0) & values.notna() & centres.notna() & (direction * (values - centres) <= 0)
    return {
        "debtors_with_repeated_group": int(repeated.sum()),
        "wrong_direction": int(wrong.sum()),
        "missing_value": int(reasons["value"].isna().sum()),
        "reasons_per_debtor": round(len(reasons) / n_debtors, 2),
    }


if __name__ == "__main__":
    main()
