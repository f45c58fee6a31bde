"""`payments_lag_days` night by night with the memory of the published runs (BENCHMARKS.md, "Session 33
(s33-lag)"): the shipped calendar rule of session 32 (`rev`) against lags in usual payment days judged
against the runs published 7-35 days before (`memN1`, shipped in session 33) and the variants explored.

    python benchmarks/lag_memory.py [--rules=rev,memN1] OUT BOOK [BOOK ...]

BOOK: a folder of canonical tables (``ews generate --out``, ``benchmarks/unseen_book.py``,
``benchmarks/third_book.py``); its first 60 days are left out (a ramp-up's silences are no mature
book's). Per book, a (the export a days short of the as-of date), k (payments posted k calendar days
late; ``v5``: each payment day 0-5 days late, seeded per book) and training (``same``: the same export
a year before the book's last 365 nights; ``stale``: its payments 10 more days behind). Each rule runs
its own chain of nights: an honest night is published when the rule passes it (the previous run = the
latest published; the memory = the published nights' lags). On each night also a sudden cut (the
payments of c = 2, 3, 7 more days left out, not published) judged with that night's memory, and stalls
every 7th night (the payments stop; nights 1..14 after, published when passed). Writes OUT (a pickle)
and prints the refused nights per cell.
"""

import bisect
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.adapters.files import day_counts
from pipelines.feed_checks import table_lag

D = pd.Timedelta(days=1)
M = 1
CAP = 7
SKIP = 60
KS = (0, 1, 2, 3, "v5")


def read(book: Path, t: str) -> pd.DataFrame:
    p = book / f"{t}.parquet"
    return pd.read_parquet(p) if p.exists() else pd.read_csv(book / f"{t}.csv")


# rule: (name, kind, params)
RULES = {
    "rev": ("cal", {}),
    "pd": ("pd", {}),  # usual days, training delay only (no memory)
    "mem": ("mem", {"gap": 7, "win": 35, "n": 10}),
    "mem0": ("mem", {"gap": 1, "win": 35, "n": 10}),
    "memN1": ("mem", {"gap": 7, "win": 35, "n": 1}),
    "memP": ("mempd", {"gap": 7, "win": 35, "n": 10}),  # pd fallback instead of rev
}


def verdict(rule: str, lp: dict, li: dict, tr: dict, prev: dict | None, mem: list) -> int:
    kind, p = RULES[rule]
    quiet = li["lag"] > li["usual"] + M
    if quiet:
        return 0
    if kind in ("mem", "mempd"):
        d = mem_night[0]
        lo = bisect.bisect_left(mem, (d - p["win"], -1))
        hi = bisect.bisect_right(mem, (d - p["gap"], 99))
        vals = [v for _, v in mem[lo:hi]]
        if len(vals) >= p["n"]:
            upd = max(lp["usual_usual_days"], tr["usual_usual_days"])
            tl = min(tr["lag_usual_days"], CAP)
            if prev is not None:
                tl = min(tl, prev["lag_usual_days"])
            allowed = max(upd + tl, min(max(vals), upd + CAP)) + M
            return int(lp["lag_usual_days"] > allowed)
        kind = "cal" if kind == "mem" else "pd"
    if kind == "cal":
        usual = max(lp["usual"], tr["usual"])
        tl = min(tr["lag"], CAP)
        if prev is not None:
            tl = min(tl, prev["lag"])
        return int(lp["lag"] > usual + tl + M)
    upd = max(lp["usual_usual_days"], tr["usual_usual_days"])
    tl = min(tr["lag_usual_days"], CAP)
    if prev is not None:
        tl = min(tl, prev["lag_usual_days"])
    return int(lp["lag_usual_days"] > upd + tl + M)


mem_night = [None]


def book_rows(b: Path, rules: list[str]) -> list[dict]:
    inv = pd.to_datetime(read(b, "invoices")["issue_date"])
    pay = pd.to_datetime(read(b, "payments")["paid_on"])
    ci, cp = day_counts(inv.to_numpy()), day_counts(pay.to_numpy())
    start = min(ci.index.min(), cp.index.min()) + SKIP * D  # a mature book: its first months left out
    ci, cp = ci[ci.index >= start], cp[cp.index >= start]
    end = max(inv.max(), pay.max()).normalize()
    nights = pd.date_range(end - 364 * D, end)
    d0 = nights[0] - D
    dn = {d: int((d - d0).days) for d in pd.date_range(d0, end + 20 * D)}
    rows = []
    for a in (0, 1):
        li = {d: table_lag(ci[ci.index <= d - a * D], d) for d in nights}
        for k in KS:
            if k == "v5":  # each payment day posted 0-5 days late (s32-review's law), seeded per book
                rng = np.random.default_rng(zlib.crc32(b.name.encode()) + a)
                posted = cp.index + pd.to_timedelta(rng.integers(0, 6, len(cp)), unit="D")

                def export(d, c=0, a=a, posted=posted):
                    e = cp[posted <= d - a * D]
                    return e[e.index <= e.index.max() - c * D] if c and len(e) else e

                def export_tr(d, extra, a=a, posted=posted):
                    e = cp[posted <= d - a * D]
                    return e[e.index <= d - (a + extra) * D] if extra else e
            else:

                def export(d, c=0, a=a, k=k):
                    return cp[cp.index <= d - (a + k + c) * D]

                def export_tr(d, extra, a=a, k=k):
                    return cp[cp.index <= d - (a + k + extra) * D]

            lp0 = {d: table_lag(export(d), d) for d in nights}
            cuts = {c: {d: table_lag(export(d, c), d) for d in nights} for c in (2, 3, 7)}
            stalls = {}
            for i in range(1, len(nights) - 15, 7):
                s = nights[i]
                frozen = export(s)
                stalls[s] = [table_lag(frozen, s + n * D) for n in range(15)]
            ti = ci[ci.index <= d0 - a * D]
            trains = {}
            for tr, extra in (("same", 0), ("stale", 10)):
                tp = export_tr(d0, extra)
                trains[tr] = table_lag(tp, max(ti.index.max(), tp.index.max()))
            key = {"book": b.name, "a": a, "k": k}
            for tr, t in trains.items():
                for rule in rules:
                    pub = []  # (night, lag_usual_days)
                    publp = {}
                    prev = None
                    for d in nights:
                        if li[d] is None or lp0[d] is None or lp0[d]["days"] < 20:
                            continue
                        mem_night[0] = dn[d]
                        v = verdict(rule, lp0[d], li[d], t, prev, pub)
                        r = {**key, "train": tr, "rule": rule, "night": d, "honest": v}
                        for c in (2, 3, 7):
                            lc = cuts[c][d]
                            r[f"cut{c}"] = verdict(rule, lc, li[d], t, prev, pub) if lc else 1
                        rows.append(r)
                        if not v:
                            pub.append((dn[d], lp0[d]["lag_usual_days"]))
                            publp[dn[d]] = lp0[d]
                            prev = lp0[d]
                    # stalls
                    for s, slps in stalls.items():
                        mem = pub[: bisect.bisect_right(pub, (dn[s], 99))]
                        pv = publp[mem[-1][0]] if mem else None
                        first = 99
                        for n in range(1, 15):
                            d = s + n * D
                            lpn = slps[n]
                            if li[d] is None or lpn is None:
                                break
                            mem_night[0] = dn[s] + n
                            if verdict(rule, lpn, li[d], t, pv, mem):
                                first = n
                                break
                            mem = mem + [(dn[s] + n, lpn["lag_usual_days"])]
                            pv = lpn
                        rows.append({**key, "train": tr, "rule": rule, "night": s, "stall": first})
    return rows


def tables(df: pd.DataFrame) -> None:
    nc = df[df.stall.isna()] if "stall" in df else df
    g = nc.pivot_table(
        index=["train", "a", "k"], columns="rule", values=["honest", "cut2", "cut3", "cut7"], aggfunc="sum"
    )
    n = nc[nc.rule == nc.rule.iloc[0]].groupby(["train", "a", "k"]).size()
    for m in ("honest", "cut2", "cut3", "cut7"):
        t = g[m].copy()
        t["nights"] = n
        print(m + "\n" + t.to_string())
    st = df[df.stall.notna()]
    f = st.pivot_table(
        index=["train", "a", "k"], columns="rule", values="stall", aggfunc=lambda x: (x < 99).sum()
    )
    print("stalls detected within 14\n" + f.to_string())
    mm = (
        st[st.stall < 99]
        .pivot_table(index=["train"], columns="rule", values="stall", aggfunc="mean")
        .round(2)
    )
    print("mean first refused night\n" + mm.to_string())


def main(out: str, books: list[str], rules: list[str]) -> None:
    rows = []
    for b in map(Path, books):
        rows += book_rows(b, rules)
        print(b.name, len(rows), flush=True)
    df = pd.DataFrame(rows)
    df.to_pickle(out)
    tables(df)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    rules = list(RULES)
    args = sys.argv[1:]
    if args[0].startswith("--rules="):
        rules = args[0].split("=", 1)[1].split(",")
        args = args[1:]
    main(args[0], args[1:], rules)
