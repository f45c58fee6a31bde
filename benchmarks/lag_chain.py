"""`payments_lag_days` night by night with the previous published run (BENCHMARKS.md, "Session 32
(s32-hostile)"): the shipped rule against the candidates of session 32.

    python benchmarks/lag_chain.py OUT BOOK [BOOK ...]

BOOK: a folder of canonical tables (``ews generate --out``, ``benchmarks/unseen_book.py``,
``benchmarks/third_book.py``). Per book, a (the export a days short of the as-of date), k (the
payments' posting delay) and training (``same``: the same export a year before the book's last 365
nights; ``stale``: its payments 10 more days behind): every honest night, a sudden cut (the payments
of 7 more days left out, the night before honest), and stalls (the payments stop at night s, every
7th night; nights s+1..s+14 scored one after another, the previous published run the latest that
passed; the first night refused, 99 when none). Rules (margin 1): ``ship`` (55841d6: usual silence +
min(training lag, 7) + 1), ``wk`` (+1 day when the export ends before the as-of date and the
invoices are usually dated on the as-of weekday: candidate A, not shipped), ``rev`` (the training lag
capped by the previous run's payments lag: candidate B, shipped in ef4f849), ``revwk``. Each also
needs the invoices inside their own usual silence. Writes OUT (a pickle, one row per night or stall)
and prints the tables.
"""

import sys
from pathlib import Path

import pandas as pd

from pipelines.adapters.files import day_counts
from pipelines.feed_checks import table_lag

D = pd.Timedelta(days=1)
M = 1
RULES = ("ship", "wk", "rev", "revwk")


def read(book: Path, t: str) -> pd.DataFrame:
    p = book / f"{t}.parquet"
    return pd.read_parquet(p) if p.exists() else pd.read_csv(book / f"{t}.csv")


def verdicts(lp: dict, li: dict, iwd: float, night: pd.Timestamp, tr: dict, prev_lag: int | None) -> dict:
    """{rule: refused} for one night."""
    usual = max(lp["usual"], tr["usual"])
    quiet = li["lag"] > li["usual"] + M
    short = (night - max(pd.Timestamp(li["last"]), pd.Timestamp(lp["last"]))).days
    extra = min(short, 1) if iwd >= 0.5 else 0
    tl = min(tr["lag"], 7)
    tlr = min(tl, prev_lag) if prev_lag is not None else tl
    out = {}
    for name, t, e in (("ship", tl, 0), ("wk", tl, extra), ("rev", tlr, 0), ("revwk", tlr, extra)):
        out[name] = int((lp["lag"] > usual + t + M + e) and not quiet)
    return out


def book_rows(b: Path) -> list[dict]:
    inv = pd.to_datetime(read(b, "invoices")["issue_date"])
    pay = pd.to_datetime(read(b, "payments")["paid_on"])
    ci, cp = day_counts(inv.to_numpy()), day_counts(pay.to_numpy())
    end = max(inv.max(), pay.max()).normalize()
    nights = pd.date_range(end - 364 * D, end)
    d0 = nights[0] - D
    held = set(ci.index)
    iwd = {d: sum((d - 7 * j * D) in held for j in range(1, 9)) / 8 for d in nights}
    rows = []
    for a in (0, 1):
        li = {d: table_lag(ci[ci.index <= d - a * D], d) for d in nights}
        for k in (0, 1, 2, 3):
            lp0 = {d: table_lag(cp[cp.index <= d - (a + k) * D], d) for d in nights}
            ti = ci[ci.index <= d0 - a * D]
            trains = {}
            for tr, extra in (("same", 0), ("stale", 10)):
                tp = cp[cp.index <= d0 - (a + k + extra) * D]
                trains[tr] = table_lag(tp, max(ti.index.max(), tp.index.max()))
            key = {"book": b.name, "a": a, "k": k}
            for tr, t in trains.items():
                for i, d in enumerate(nights[1:], 1):
                    if li[d] is None or lp0[d] is None or lp0[d]["days"] < 20:
                        continue
                    prev = lp0[nights[i - 1]]["lag"]
                    cut = table_lag(cp[cp.index <= d - (a + k + 7) * D], d)
                    rows.append({**key, "train": tr, "case": "honest", "night": d, **verdicts(lp0[d], li[d], iwd[d], d, t, prev)})  # fmt: skip
                    rows.append({**key, "train": tr, "case": "cut7", "night": d, **verdicts(cut, li[d], iwd[d], d, t, prev)})  # fmt: skip
                for i in range(1, len(nights) - 15, 7):  # stalls
                    s = nights[i]
                    frozen = cp[cp.index <= s - (a + k) * D]
                    lps = {n: table_lag(frozen, s + n * D) for n in range(1, 15)}
                    first = {}
                    for rule in RULES:
                        prev = lp0[s]["lag"] if lp0[s] else None
                        first[rule] = 99
                        for n in range(1, 15):
                            d = s + n * D
                            if li[d] is None or lps[n] is None:
                                break
                            if verdicts(lps[n], li[d], iwd[d], d, t, prev)[rule]:
                                first[rule] = n
                                break
                            prev = lps[n]["lag"]  # published
                    rows.append({**key, "train": tr, "case": "stall", "night": s, **first})
    return rows


def tables(df: pd.DataFrame) -> None:
    rules = list(RULES)
    nc = df[df.case != "stall"]
    g = nc.groupby(["train", "case", "a", "k"])[rules].sum()
    g["nights"] = nc.groupby(["train", "case", "a", "k"]).size()
    print(g.to_string())
    st = df[df.case == "stall"]
    found = st.groupby(["train", "a", "k"])[rules].agg(lambda x: (x < 99).sum())
    found["stalls"] = st.groupby(["train", "a", "k"]).size()
    print("stalls detected within 14 nights\n" + found.to_string())
    mean = st.groupby(["train", "a", "k"])[rules].agg(lambda x: x[x < 99].mean()).round(2)
    print("mean first refused night (detected stalls)\n" + mean.to_string())


def main(out: str, books: list[str]) -> None:
    rows = []
    for b in map(Path, books):
        rows += book_rows(b)
        print(b.name, len(rows), flush=True)
    df = pd.DataFrame(rows)
    df.to_pickle(out)
    tables(df)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    main(sys.argv[1], sys.argv[2:])
