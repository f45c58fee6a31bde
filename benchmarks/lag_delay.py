"""`payments_lag_days` on exports posted days late, and on a payments feed left behind (BENCHMARKS.md,
"Session 31 (lead, 55841d6)").

    python benchmarks/lag_delay.py BOOK [BOOK ...]

BOOK: a folder of canonical tables (``ews generate --out``, ``benchmarks/unseen_book.py``,
``benchmarks/third_book.py``). Per night d of the book's last 365 days, an export holding the invoices issued
<= d - a and the payments paid <= d - a - k (a: the whole export a day short; k: the payments' posting delay),
and the same with the payments of ``attack`` more days left out (3, 7). The training export is made a year
before the book's end the same way (``same``) or complete (``none``). Rules (margin m = 1, 2):
``ship``: lag > usual + m (71e3a58); ``new``: lag > usual + min(training lag, 7) + m (55841d6, shipped);
``bh``: the same counted from the latest invoice instead of the as-of date (not shipped). Each rule also needs
the invoices inside their own usual silence. Prints the refused nights per rule and writes lag_rules.parquet
in the working folder.
"""

import sys
from pathlib import Path

import pandas as pd

from pipelines.adapters.files import day_counts
from pipelines.feed_checks import table_lag


def read(book, t):
    p = book / f"{t}.parquet"
    return pd.read_parquet(p) if p.exists() else pd.read_csv(book / f"{t}.csv")


D = pd.Timedelta(days=1)


def main(books: list[str]) -> None:
    rows = []
    for b in map(Path, books):
        inv = pd.to_datetime(read(b, "invoices")["issue_date"])
        pay = pd.to_datetime(read(b, "payments")["paid_on"])
        ci, cp = day_counts(inv.to_numpy()), day_counts(pay.to_numpy())
        end = max(inv.max(), pay.max()).normalize()
        nights = pd.date_range(end - 364 * D, end)
        d0 = nights[0] - D
        for a in (0, 1):
            lis = {d: table_lag(ci[ci.index <= d - a * D], d) for d in nights}
            for k in (0, 1, 2, 3):
                trains = {}
                for tr in ("same", "none"):
                    ta, tk = (a, k) if tr == "same" else (0, 0)
                    ti, tp = ci[ci.index <= d0 - ta * D], cp[cp.index <= d0 - (ta + tk) * D]
                    trains[tr] = table_lag(tp, max(ti.index.max(), tp.index.max()))
                for d in nights:
                    li = lis[d]
                    if li is None:
                        continue
                    quiet = li["lag"] > li["usual"] + 1
                    for attack in (0, 3, 7):
                        lp = table_lag(cp[cp.index <= d - (a + k + attack) * D], d)
                        if lp is None or lp["days"] < 20:
                            continue
                        for tr, train in trains.items():
                            usual = max(lp["usual"], train["usual"])
                            r = {
                                "book": b.name,
                                "a": a,
                                "k": k,
                                "train": tr,
                                "attack": attack,
                                "train_lag": train["lag"],
                            }
                            for m in (1, 2):
                                r[f"ship_m{m}"] = lp["lag"] > usual + m and not quiet
                                r[f"new_m{m}"] = lp["lag"] > usual + min(train["lag"], 7) + m and not quiet
                                behind = (pd.Timestamp(li["last"]) - pd.Timestamp(lp["last"])).days
                                r[f"bh_m{m}"] = behind > usual + min(train["lag"], 7) + m and not quiet
                            rows.append(r)
        print(b.name, len(rows), flush=True)
    df = pd.DataFrame(rows)
    cols = ["ship_m1", "new_m1", "bh_m1", "ship_m2", "new_m2", "bh_m2"]
    g = df.groupby(["train", "attack", "a", "k"])[cols].sum()
    g["nights"] = df.groupby(["train", "attack", "a", "k"]).size()
    print(g.to_string())
    df.to_parquet("lag_rules.parquet")


if __name__ == "__main__":
    if not sys.argv[1:] or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    main(sys.argv[1:])
