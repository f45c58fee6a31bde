"""How much of the short-book queue's gap to the oracle a PD on the ledger could close (session 33, issue 11).

    nice python benchmarks/queue_bound.py BT [BT ...] [--json out.json] [--rounds 200]

Each ``BT`` is an ``ews backtest --model 1 --rows --out BT`` folder; its book's ingested tables are in
``BT/../../ing`` (``benchmarks/rank_book.sh``'s layout). On the live queue rows of the observed month-ends
(``benchmarks/rank_order.py``'s ``queue_rows``) a "ledger-only oracle" is fitted on the backtest window's
**own labels** (defaulted within the horizon): a LightGBM (1 thread) on what the ledger shows at each row's
month-end. Inputs:

- ``F0``: every feature of ``features.catalog`` the book has (point in time, ``features.build.build_features``)
  plus the backtest's PD and ``pay_pd``;
- ``F1``: ``F0`` plus candidate inputs for distress inside the 1-30-day state (:func:`candidates`): disputed
  share of the invoices of the last 90 days and of the open balance, invoicing in the last 30 / 90 days against
  the debtor's own (T-365, T-90] (a spree, a near stop), invoice size growth, partial payments of the last 90
  days, the days since the last invoice against the debtor's usual gap;
- ``F1+truth``: ``F1`` plus the true PD (a check of the method: it should reach the oracle).

Each is fitted three ways: ``oof`` (5 folds grouped by debtor, every row predicted by a model that did not see
its debtor: the test window's own distribution, no memory of the debtor), ``insample`` (fitted and predicted on
the same rows: optimistic, it can remember a debtor's label across month-ends) and, with several books,
``lobo`` (fitted on the other books of the same kind, generator or unseen, predicted on this one: more data of
the same laws). The queue order is p x open balance (the oracle's form; ``*_dpd`` with the shipped
x LGD x (1 + DPD / 90)). Per order: pooled ``queue_capture_top20`` and its ratio to the oracle, Brier score.
In-sample fitting is not a bound (it reaches 1.000, above the oracle, on every book measured in session 33).
Ends with one JSON line.

    nice python benchmarks/queue_bound.py --pool BOOK [BOOK ...] [--target BOOK ...] [--own] [--cache DIR]
        [--preds DIR] [--json out.json]

Pooled mode. Each ``BOOK`` is a ``rank_book.sh`` book folder (``ing/`` with ``truth.parquet``; a book with
``main/bt/backtest_rows.parquet`` is also predicted). Every live queue row of every month-end whose horizon the
data observe (:func:`labelled_rows`: label from ``features.engine.build_bucket``) of the other books of the same
kind (unseen or generator; never a ``--target``) trains a LightGBM on the catalog features (F0) or F0 plus the
candidates (F1), on the label (``pool_lobo_F*``) or on the true PD as a probability target
(``pool_lobo_F*_soft``: E[true PD | ledger inputs], the ledger-only oracle itself, the true PD being a far less
noisy target than the label); ``--own``: the book's own month-ends up to its training cut (2024-01-31 unseen,
2023-12-31 generator: ``rank_book.sh``'s ``snapshots.end``), what one book gives. ``--target``: predict only these
books. ``--preds``: each predicted book's rows with every order's p (for a paired bootstrap).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

CAND = (
    "disputed_share_90d",
    "disputed_open_share",
    "inv_count_30d_vs_own",
    "inv_count_90d_vs_own",
    "inv_count_30_of_90",
    "inv_size_90d_vs_own",
    "partial_share_90d",
    "gap_vs_usual",
    "open_newest_share",
)
PARAMS = dict(
    objective="binary",
    learning_rate=0.05,
    num_leaves=15,
    min_child_samples=10,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.8,
    reg_lambda=1.0,
    n_jobs=1,
    verbose=-1,
    random_state=7,
)


def candidates(port, dates: list[pd.Timestamp]) -> pd.DataFrame:
    """The candidate inputs per (debtor_id, as_of) from the invoices and payments dated <= as_of."""
    inv = port.invoices[["invoice_id", "debtor_id", "issue_date", "due_date", "amount", "disputed"]].copy()
    inv["debtor_id"] = inv["debtor_id"].astype(str)
    inv["issue_date"] = pd.to_datetime(inv["issue_date"])
    inv["disputed"] = inv["disputed"].fillna(False).astype(bool)
    pay = port.payments[["debtor_id", "invoice_id", "paid_on", "amount"]].copy()
    pay["paid_on"] = pd.to_datetime(pay["paid_on"])
    out = []
    for t in dates:
        i = inv.loc[inv["issue_date"] <= t]
        p = pay.loc[pay["paid_on"] <= t]
        age = (t - i["issue_date"]).dt.days
        paid = p.groupby("invoice_id")["amount"].sum()
        rem = (i["amount"] - i["invoice_id"].map(paid).fillna(0.0)).clip(lower=0.0)
        g = pd.DataFrame(
            {
                "debtor_id": i["debtor_id"],
                "n30": age < 30,
                "n90": age < 90,
                "nold": (age >= 90) & (age < 365),
                "a90": np.where(age < 90, i["amount"], 0.0),
                "aold": np.where((age >= 90) & (age < 365), i["amount"], 0.0),
                "d90": (age < 90) & i["disputed"],
                "open": rem,
                "open_disp": np.where(i["disputed"], rem, 0.0),
                "open_new": np.where(age < 30, rem, 0.0),
            }
        ).groupby("debtor_id")
        s = g.sum()
        last = i.groupby("debtor_id")["issue_date"].max()
        gaps = i.sort_values(["debtor_id", "issue_date"]).groupby("debtor_id")["issue_date"].diff().dt.days
        usual = gaps.groupby(i.sort_values(["debtor_id", "issue_date"])["debtor_id"]).median()
        r90 = p.loc[(t - p["paid_on"]).dt.days < 90]
        recv = r90["invoice_id"].dropna().unique()
        part = pd.DataFrame({"invoice_id": recv})
        part = part.merge(i[["invoice_id", "debtor_id", "amount"]], on="invoice_id", how="inner")
        part["partial"] = part["invoice_id"].map(paid).fillna(0.0) < part["amount"] - 0.005
        ps = part.groupby("debtor_id")["partial"].mean()
        own = s["nold"] / 275.0
        f = pd.DataFrame(index=s.index)
        f["disputed_share_90d"] = s["d90"] / s["n90"].where(s["n90"] > 0)
        f["disputed_open_share"] = s["open_disp"] / s["open"].where(s["open"] > 0)
        f["inv_count_30d_vs_own"] = (s["n30"] / 30.0) / own.where(own > 0)
        f["inv_count_90d_vs_own"] = (s["n90"] / 90.0) / own.where(own > 0)
        f["inv_count_30_of_90"] = s["n30"] / s["n90"].where(s["n90"] > 0)
        f["inv_size_90d_vs_own"] = (s["a90"] / s["n90"].where(s["n90"] > 0)) / (
            s["aold"] / s["nold"].where(s["nold"] > 0)
        )
        f["partial_share_90d"] = ps.reindex(s.index)
        f["gap_vs_usual"] = (t - last.reindex(s.index)).dt.days / usual.reindex(s.index).where(
            usual.reindex(s.index) > 0
        )
        f["open_newest_share"] = s["open_new"] / s["open"].where(s["open"] > 0)
        out.append(f.reset_index().assign(as_of=t))
    return pd.concat(out, ignore_index=True)


def book_rows(bt: Path) -> tuple[pd.DataFrame, dict, list[str]]:
    """The queue rows of ``bt`` with the catalog features, the candidates and the shipped arrays."""
    from rank_order import queue_rows

    from features.build import build_features
    from pipelines.adapters.files import read_portfolio

    q, meta = queue_rows(bt)
    q["debtor_id"] = q["debtor_id"].astype(str)
    ing = bt.parent.parent / "ing"
    port = read_portfolio(ing)
    dates = sorted(pd.to_datetime(q["as_of"].unique()))
    feats = build_features(port, dates)
    feats["debtor_id"] = feats["debtor_id"].astype(str)
    num = [
        c
        for c in feats.columns
        if c not in ("debtor_id", "as_of", "segment", "country") and pd.api.types.is_numeric_dtype(feats[c])
    ]
    num = [c for c in num if feats[c].notna().any()]
    feats = feats[["debtor_id", "as_of", *num]].rename(columns={c: "f_" + c for c in num})
    cand = candidates(port, dates)
    q = q.merge(feats, on=["debtor_id", "as_of"], how="left", validate="one_to_one")
    q = q.merge(cand, on=["debtor_id", "as_of"], how="left", validate="one_to_one")
    f0 = ["f_" + c for c in num] + ["pd", "pay_pd"]
    return q, meta, f0


def fit_predict(xtr, ytr, xte, rounds: int) -> np.ndarray:
    import lightgbm as lgb

    m = lgb.LGBMClassifier(n_estimators=rounds, **PARAMS)
    m.fit(xtr, ytr)
    return m.predict_proba(xte)[:, 1]


def fit_predict_soft(xtr, ptr, xte, rounds: int) -> np.ndarray:
    """A LightGBM on a probability target (cross-entropy): E[target | inputs]."""
    import lightgbm as lgb

    m = lgb.LGBMRegressor(n_estimators=rounds, **{**PARAMS, "objective": "cross_entropy"})
    m.fit(xtr, np.clip(np.asarray(ptr, dtype="float64"), 0.0, 1.0))
    return m.predict(xte)


def oof(q: pd.DataFrame, cols: list[str], rounds: int, folds: int = 5) -> np.ndarray:
    """Out-of-fold predictions, folds grouped by debtor (a fixed hash of the id)."""
    y = q["label"].fillna(0).astype(int).to_numpy()
    g = pd.util.hash_array(q["debtor_id"].to_numpy(dtype=object)) % folds
    p = np.zeros(len(q))
    x = q[cols].astype("float64")
    for k in range(folds):
        te = g == k
        p[te] = fit_predict(x[~te], y[~te], x[te], rounds)
    return p


def figures(q: pd.DataFrame, p: np.ndarray) -> dict:
    from rank_order import arrays

    from models.queue_key import queue_orders, weighted_capture

    ob, lgd, dpd, _k, _tpd, _el, y, bad, _state = arrays(q)
    ones = np.ones(len(q))
    return {
        "p": p,
        "capture": weighted_capture(queue_orders(q, p * ob), bad, ones),
        "capture_dpd": weighted_capture(queue_orders(q, p * ob * lgd * (1.0 + dpd / 90.0)), bad, ones),
        "brier": float(np.mean((p - y) ** 2)),
    }


def main(argv: list[str] | None = None) -> None:
    from rank_order import arrays

    from models.queue_key import queue_orders, weighted_capture

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("books", nargs="+", type=Path, help="ews backtest --rows folders")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args(argv)
    books = []
    for bt in args.books:
        q, meta, f0 = book_rows(bt)
        books.append((bt, q, meta, f0))
        print(f"read {bt}: {len(q)} rows, {int(q['label'].fillna(0).sum())} defaulted", flush=True)
    res = []
    for bt, q, _meta, f0 in books:
        ob, lgd, dpd, k, tpd, el, y, bad, _state = arrays(q)
        ones = np.ones(len(q))
        name = bt.parent.parent.name
        kind = "unseen" if name.startswith("unseen") else "gen"
        r = {
            "book": name,
            "kind": kind,
            "rows": int(len(q)),
            "defaulted": int(y.sum()),
            "shipped": weighted_capture(queue_orders(q, k * ob * lgd * (1.0 + dpd / 90.0), el), bad, ones),
            "oracle": weighted_capture(queue_orders(q, tpd * ob), bad, ones),
            "brier_shipped": float(np.mean((q["pd"].to_numpy() - y) ** 2)),
            "brier_oracle": float(np.mean((tpd - y) ** 2)),
            "orders": {},
        }
        sets = {"F0": f0, "F1": f0 + list(CAND)}
        q["truth_pd"] = tpd
        for sname, cols in sets.items():
            r["orders"][f"oof_{sname}"] = figures(q, oof(q, cols, args.rounds))
        x1 = q[sets["F1"]].astype("float64")
        r["orders"]["insample_F1"] = figures(q, fit_predict(x1, y.astype(int), x1, args.rounds))
        r["orders"]["oof_F1+truth"] = figures(q, oof(q, f0 + list(CAND) + ["truth_pd"], args.rounds))
        peers = [
            (b, qq, ff)
            for b, qq, _m, ff in books
            if b != bt and b.parent.parent.name.startswith("unseen") == (kind == "unseen")
        ]
        if peers:
            for sname in ("F0", "F1"):
                common = [c for c in sets[sname] if all(c in qq.columns for _b, qq, _f in peers)]
                tr = pd.concat([qq[common] for _b, qq, _f in peers], ignore_index=True).astype("float64")
                ytr = np.concatenate([qq["label"].fillna(0).astype(int).to_numpy() for _b, qq, _f in peers])
                r["orders"][f"lobo_{sname}"] = figures(
                    q, fit_predict(tr, ytr, q[common].astype("float64"), args.rounds)
                )
            r["lobo_books"] = len(peers)
        for v in r["orders"].values():
            v.pop("p", None)
        res.append(r)
        line = " ".join(
            f"{o} {v['capture']:.4f}/{v['capture'] / r['oracle']:.3f}x" for o, v in r["orders"].items()
        )
        print(
            f"{name:<26} rows {r['rows']:>5} bad {r['defaulted']:>3} shipped {r['shipped']:.4f} "
            f"({r['shipped'] / r['oracle']:.3f}x) oracle {r['oracle']:.4f} | {line}",
            flush=True,
        )
    out = {"books": res}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps(out))


def labelled_rows(book: Path) -> pd.DataFrame:
    """Every live queue row of ``book`` (``book/ing``) at the month-ends whose 90-day horizon the data
    observe: the catalog features (``f_*``), the candidates, the ledger's default label."""
    from features.engine import build_bucket
    from features.snapshots import month_ends
    from pipelines.adapters.files import read_portfolio
    from pipelines.config.nightly import QueueConfig

    port = read_portfolio(book / "ing")
    first = pd.to_datetime(port.invoices["issue_date"]).min()
    last = max(
        pd.to_datetime(port.invoices["issue_date"]).max(), pd.to_datetime(port.payments["paid_on"]).max()
    )
    dates = [d for d in month_ends(first, last) if d + pd.Timedelta(days=90) <= last][3:]
    res = build_bucket(port, dates, labels=True)
    f, d = res.features, res.defaults
    f["debtor_id"] = f["debtor_id"].astype(str)
    d["debtor_id"] = d["debtor_id"].astype(str)
    x = f.merge(d, on=["debtor_id", "as_of"], how="inner", validate="one_to_one")
    live = (
        ~x["in_default_at_asof"].astype(bool)
        & x["horizon_observed"].astype(bool)
        & x["label"].notna()
        & (x["overdue_amount"].fillna(0.0) > QueueConfig().min_overdue)
    )
    x = x.loc[live].reset_index(drop=True)
    num = [c for c in f.columns if c not in ("debtor_id", "as_of", "segment", "country")]
    x = x.rename(columns={c: "f_" + c for c in num})
    cand = candidates(port, sorted(x["as_of"].unique()))
    x = x.merge(cand, on=["debtor_id", "as_of"], how="left", validate="one_to_one")
    x["label"] = x["label"].astype(int)
    t = pd.read_parquet(book / "ing" / "truth.parquet", columns=["debtor_id", "month_end", "oracle_pd"])
    t = t.rename(columns={"month_end": "as_of", "oracle_pd": "truth_pd"})
    t["debtor_id"] = t["debtor_id"].astype(str)
    t["as_of"] = pd.to_datetime(t["as_of"])
    x = x.merge(t, on=["debtor_id", "as_of"], how="left", validate="one_to_one")
    x["book"] = book.name
    return x


def pooled(
    books: list[Path],
    rounds: int,
    with_oof: bool = False,
    cache: Path | None = None,
    own_cut: bool = False,
    preds: Path | None = None,
    targets: list[Path] | None = None,
) -> list[dict]:
    """Per book with a backtest: a LightGBM fitted on the labelled queue rows of every month-end of
    the other books of its kind (``lobo``), and of those plus its own other debtors (5 debtor folds,
    ``oof``), predicting its backtest's queue rows; F0 = catalog features, F1 = F0 + candidates."""
    from rank_order import arrays

    from models.queue_key import queue_orders, weighted_capture

    pool = {}
    for b in books:
        cached = cache / f"{b.name}.parquet" if cache else None
        if cached is not None and cached.exists():
            pool[b] = pd.read_parquet(cached)
        else:
            pool[b] = labelled_rows(b)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                pool[b].to_parquet(cached)
        print(f"pool {b.name}: {len(pool[b])} rows, {int(pool[b]['label'].sum())} defaulted", flush=True)
    fcols = sorted(
        set.intersection(*(set(c for c in x.columns if c.startswith("f_")) for x in pool.values()))
    )
    fcols = [c for c in fcols if all(x[c].notna().any() for x in pool.values())]
    sets = {"F0": fcols, "F1": fcols + list(CAND)}
    out = []
    targets = targets or []
    for b in books:
        bt = b / "main" / "bt"
        if not (bt / "backtest_rows.parquet").exists() or (targets and b not in targets):
            continue
        from rank_order import queue_rows

        q, _meta = queue_rows(bt)
        q["debtor_id"] = q["debtor_id"].astype(str)
        own = pool[b]
        keep = ["debtor_id", "as_of", *sets["F1"]]
        q = q.merge(own[keep], on=["debtor_id", "as_of"], how="left", validate="one_to_one")
        ob, lgd, dpd, k, tpd, el, y, bad, _state = arrays(q)
        ones = np.ones(len(q))
        unseen = b.name.startswith("unseen")
        peers = [
            pool[p] for p in books if p != b and p not in targets and p.name.startswith("unseen") == unseen
        ]
        r = {
            "book": b.name,
            "rows": int(len(q)),
            "defaulted": int(y.sum()),
            "unmatched": int(q[sets["F0"][0]].isna().sum()),
            "shipped": weighted_capture(queue_orders(q, k * ob * lgd * (1.0 + dpd / 90.0), el), bad, ones),
            "oracle": weighted_capture(queue_orders(q, tpd * ob), bad, ones),
            "peers": len(peers),
            "peer_rows": int(sum(len(p) for p in peers)),
            "peer_defaulted": int(sum(p["label"].sum() for p in peers)),
            "brier_shipped": float(np.mean((q["pd"].to_numpy() - y) ** 2)),
            "orders": {},
        }
        tr = pd.concat(peers, ignore_index=True)
        g = pd.util.hash_array(q["debtor_id"].to_numpy(dtype=object)) % 5
        go = pd.util.hash_array(own["debtor_id"].to_numpy(dtype=object)) % 5
        for sname, cols in sets.items():
            r["orders"][f"pool_lobo_{sname}"] = figures(
                q, fit_predict(tr[cols].astype("float64"), tr["label"], q[cols].astype("float64"), rounds)
            )
            if own_cut:  # the book's own labelled month-ends up to the training cut (what one book gives)
                cut = pd.Timestamp("2024-01-31" if unseen else "2023-12-31")
                mine = own.loc[own["as_of"] <= cut]
                r["own_rows"], r["own_defaulted"] = int(len(mine)), int(mine["label"].sum())
                r["orders"][f"own_{sname}"] = figures(
                    q,
                    fit_predict(
                        mine[cols].astype("float64"), mine["label"], q[cols].astype("float64"), rounds
                    ),
                )
                r["orders"][f"own_{sname}_soft"] = figures(
                    q,
                    fit_predict_soft(
                        mine[cols].astype("float64"),
                        mine["truth_pd"].fillna(0.0),
                        q[cols].astype("float64"),
                        rounds,
                    ),
                )
            if with_oof:
                p = np.zeros(len(q))
                for kf in range(5):
                    t2 = pd.concat([tr, own.loc[go != kf]], ignore_index=True)
                    te = g == kf
                    p[te] = fit_predict(
                        t2[cols].astype("float64"), t2["label"], q.loc[te, cols].astype("float64"), rounds
                    )
                r["orders"][f"pool_oof_{sname}"] = figures(q, p)
            ok = tr["truth_pd"].notna().to_numpy()
            r["orders"][f"pool_lobo_{sname}_soft"] = figures(
                q,
                fit_predict_soft(
                    tr.loc[ok, cols].astype("float64"),
                    tr.loc[ok, "truth_pd"],
                    q[cols].astype("float64"),
                    rounds,
                ),
            )
        out.append(r)
        if preds is not None:
            cols_out = [
                "debtor_id",
                "as_of",
                "label",
                "open_balance",
                "overdue_amount",
                "dpd",
                "lgd",
                "key_pd",
                "pd",
            ]
            frame = q[[*cols_out, "oracle_pd"]].copy()
            for o, v in r["orders"].items():
                frame[o] = v.pop("p")
            preds.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(preds / f"{b.name}.parquet")
        else:
            for v in r["orders"].values():
                v.pop("p", None)
        line = " ".join(
            f"{o} {v['capture']:.4f}/{v['capture'] / r['oracle']:.3f}x" for o, v in r["orders"].items()
        )
        print(
            f"{b.name:<26} rows {r['rows']:>5} bad {r['defaulted']:>3} unmatched {r['unmatched']} peers {r['peers']} "
            f"({r['peer_defaulted']} def) shipped {r['shipped']:.4f} ({r['shipped'] / r['oracle']:.3f}x) "
            f"oracle {r['oracle']:.4f} | {line}",
            flush=True,
        )
    return out


def main_pool(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("books", nargs="+", type=Path, help="book folders (ing/, optionally main/bt/)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--oof", action="store_true", help="also the pool + the book's other debtors (5 folds)")
    ap.add_argument("--cache", type=Path, default=None, help="keep each book's labelled rows here")
    ap.add_argument("--own", action="store_true", help="also fit on the book's own month-ends up to the cut")
    ap.add_argument("--preds", type=Path, default=None, help="write each book's rows and predictions here")
    ap.add_argument(
        "--target",
        type=Path,
        action="append",
        default=[],
        help="predict only these books, fitted on the others",
    )
    args = ap.parse_args(argv)
    out = {
        "books": pooled(
            args.books + args.target, args.rounds, args.oof, args.cache, args.own, args.preds, args.target
        )
    }
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--pool":
        main_pool(sys.argv[2:])
    else:
        main()
