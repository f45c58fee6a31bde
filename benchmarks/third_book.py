"""A third, independent B2B receivables simulator (session 30, s30-third; issue 9 part 1).

Written without reading ``pipelines/synthetic`` (``ews generate``) or the mechanics of
``benchmarks/unseen_book.py``: only the canonical contract (``features/schema.py``), the default
definition (DESIGN.md: open invoice at least 90 days past due, or an event, first default in
(T, T + 90]) and the layout ``unseen_book.py`` writes (``invoices / payments / debtors / events /
truth.parquet`` + ``generate-summary.json``), so that ``benchmarks/unseen.py``-style scripts and
``ews backtest --truth`` read it.

Mechanics (all debtors exist from the first day; months m = 0 .. M-1 from 2022-01):

- **Sizes**: a debtor's size is Pareto (alpha 1.16, the 80/20 shape, capped at 400): a few large
  debtors hold most of the exposure. Invoices per month Poisson(1.2 x size^0.45 x exp(0.5 c) x the
  state's order factor), amounts lognormal around 600 x size^0.55 (sd 0.5). Terms per debtor 14 / 30
  / 45 / 60 days. Large debtors (size > 20) pay weekly, the others every 14 days, on a fixed weekday
  of their own (payment runs).
- **Industry cycle, visible only through peers' order volumes**: four industries (the ``segment``
  column: construction, retail, services, agri_tourism), each with a hidden cycle
  c(m) = sin(2 pi (m / P + phi)), P = 20 / 26 / 32 / 24 months, phi drawn per seed. The cycle scales
  the default hazard by exp(0.9 c) (retail exp(1.0 c)) and every debtor's order volume by
  exp(0.5 c): a single debtor's volume is noisy, the industry's summed volume shows the cycle.
- **Drift**: every hazard is multiplied by exp(0.8 m / M): the default rate roughly doubles over
  the history.
- **Two default routes**:
  * *slow deterioration* (construction, services, agri_tourism): a monthly chain
    H -> S1 -> S2 -> S3 -> X (stopped). H -> S1 has hazard h0 x size^-0.25 x cycle x drift (h0 0.012,
    agri_tourism 0.008); S1 -> S2 0.30, S1 -> H 0.20; S2 -> S3 0.30, S2 -> S1 0.10; S3 -> X 0.35,
    S3 -> S2 0.05. Transitions happen at month-ends. The state at an invoice's issue sets its
    lateness (extra days H 0, S1 12, S2 28, S3 48), the chance it is paid in two parts (4 / 15 / 35 /
    55 %) and the order volume (x1 / 0.9 / 0.75 / 0.6). On entering X at month-end s the debtor stops
    ordering and paying (every payment dated after s is never made): the default comes when the
    oldest invoice unpaid at s reaches 90 days past due. A debtor with nothing open at s just leaves.
  * *sudden insolvency* (retail): no states, no lateness signal; each month an insolvency hazard
    h0 0.0025 x size^-0.35 x cycle x drift; the event day is uniform over the month's days; from that
    day on nothing is ordered or paid; an ``insolvency`` event is written on that day (default).
- **Seasonal lateness without default**: agri_tourism debtors pay 25 days later every winter (due
  month Nov-Feb), with 30 points more part payments; their hazard has no season.
- **Payments**: intended payment day = due + debtor's base lateness U(-3, 12) + N(0, 4) + the state's
  extra (+ winter), at most 72 days late, at least the day after issue; paid on the next payment
  run (so at most 85 days late: no invoice of a paying debtor ever reaches 90 DPD). A part payment
  (30-70 %) goes on an earlier run (14-35 days before). 5 % of invoices get a credit note (5-20 %,
  ``kind`` credit, allocated, 3-30 days after issue, before the final payment). A payment run that
  settles several invoices is one payment row per invoice (a shared remittance number in the id),
  or, half the time when the run settles exactly the oldest open invoices in full, one unallocated
  payment row (empty ``invoice_id``) for the lot, which ews applies oldest first, as the debtor meant.
- **Debtors table**: ``credit_limit`` = the debtor's yearly invoicing over the *whole* history / 6,
  written once, as a master-data export of the last day would hold it. It reads the future: a debtor
  that stopped (insolvency, X) early has a limit well below its real volume at every month-end, which
  ews applies to all past month-ends. On 2,000 x 36 s3 / s4 the in-sample retail defaulters' limit is
  0.42 / 0.54 of their 365-day invoicing / 6 (others 1.04 / 1.28) and the shipped LightGBM's SHAP puts +3.7 /
  +2.3 log-odds on ``credit_limit`` for them; the forward insolvencies (month 28-33 of 36) barely show it
  (``benchmarks/third_memo.py``, BENCHMARKS.md s31-third). With ``--limit-history`` (default off, so the
  books of s30 / s31 stay as they were): a dated limit history instead (``debtor_history.parquet``:
  opening limit, yearly reviews, a cut to 0 on default; :func:`limit_history`) and the last day's
  limits in the debtors table (``benchmarks/master_history.py`` trains on both).
- **Truth** (``truth.parquet``, one row per debtor and month-end T): ``oracle_pd`` = P(first default
  in (T, T + 90] | the simulator's state at T), exact: slow route by enumerating the chain's next three
  month-ends (time-varying hazards, a stop at month-end T+k defaults inside the horizon iff an invoice
  issued by T whose scheduled final payment falls after the stop day has due + 90 <= T + 90;
  the schedule of invoices issued by T is fixed at issue, invoices issued after T are due after T);
  a stopped debtor's default day is known (0 or 1); sudden route: sum over the months j after T of
  P(alive to j) x hazard_j x (share of month j's days inside (T, T + 90]). ``default_day`` (the
  debtor's first default day from the realised path, also after the data's end), ``state`` (H / S1 /
  S2 / S3 / X / R for a live retail debtor / I after insolvency), ``route`` and ``segment``.

    python benchmarks/third_book.py --debtors 2000 --months 36 --seed 1 --out /tmp/third-2000x36-s1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2022-01-01")
INDUSTRIES = ("construction", "retail", "services", "agri_tourism")
IND_SHARE = (0.30, 0.25, 0.30, 0.15)
PERIOD = (20.0, 26.0, 32.0, 24.0)
SLOW_H0 = {"construction": 0.012, "services": 0.012, "agri_tourism": 0.008}
SUDDEN_H0 = 0.0025
STATES = ("H", "S1", "S2", "S3")
EXTRA = (0, 12, 28, 48)
PART = (0.04, 0.15, 0.35, 0.55)
ORDERS = (1.0, 0.9, 0.75, 0.6)
# transitions among H, S1, S2, S3 (rows: from; H -> S1 is the time-varying hazard, filled per month)
P_S3_X = 0.35
EPOCH = np.datetime64("1970-01-01", "D")


def month_ends(months: int) -> pd.DatetimeIndex:
    return pd.date_range(START, periods=months, freq="ME")


def _day(ts) -> int:
    return int((np.datetime64(pd.Timestamp(ts).date(), "D") - EPOCH).astype(int))


class Book:
    """The hidden economy of one seed: cycles, drift, month calendar (pure functions of m)."""

    def __init__(self, months: int, rng: np.random.Generator):
        self.M = months
        self.phase = rng.uniform(0, 1, len(INDUSTRIES))
        # month m's first and last day (day numbers), for m up to M + 6 (the oracle looks ahead)
        ends = pd.date_range(START, periods=months + 8, freq="ME")
        self.first = np.array([_day(e.replace(day=1)) for e in ends])
        self.last = np.array([_day(e) for e in ends])

    def cycle(self, k: int, m: int) -> float:
        return float(np.sin(2 * np.pi * (m / PERIOD[k] + self.phase[k])))

    def drift(self, m: int) -> float:
        return float(np.exp(0.8 * m / self.M))

    def slow_hazard(self, k: int, size: float, m: int) -> float:
        h0 = SLOW_H0[INDUSTRIES[k]]
        return min(h0 * size**-0.25 * np.exp(0.9 * self.cycle(k, m)) * self.drift(m), 0.5)

    def sudden_hazard(self, size: float, m: int) -> float:
        k = INDUSTRIES.index("retail")
        return min(SUDDEN_H0 * size**-0.35 * np.exp(1.0 * self.cycle(k, m)) * self.drift(m), 0.5)

    def matrix(self, k: int, size: float, m: int) -> np.ndarray:
        """Transition at month-end m among (H, S1, S2, S3, X)."""
        h = self.slow_hazard(k, size, m)
        P = np.zeros((5, 5))
        P[0, 0], P[0, 1] = 1 - h, h
        P[1, 0], P[1, 2], P[1, 1] = 0.20, 0.30, 0.50
        P[2, 1], P[2, 3], P[2, 2] = 0.10, 0.30, 0.60
        P[3, 2], P[3, 4], P[3, 3] = 0.05, P_S3_X, 0.60
        P[4, 4] = 1.0
        return P


def _run_day(x: int, gap: int, phase: int) -> int:
    """The first payment-run day >= x."""
    return x + (phase - x) % gap


def simulate(debtors: int, months: int, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng([30_303, seed])
    book = Book(months, rng)
    end_day = int(book.last[months - 1])
    ind = rng.choice(len(INDUSTRIES), size=debtors, p=IND_SHARE)
    size = np.minimum((1 - rng.uniform(size=debtors)) ** (-1 / 1.16), 400.0)
    terms = rng.choice([14, 30, 30, 45, 60], size=debtors)
    base_late = rng.uniform(-3, 12, size=debtors)
    inv_rows, pay_rows, ev_rows, truth_rows = [], [], [], []
    for d in range(debtors):
        did = f"T{d:06d}"
        k, sz, term = int(ind[d]), float(size[d]), int(terms[d])
        industry = INDUSTRIES[k]
        sudden = industry == "retail"
        gap = 7 if sz > 20 else 14
        phase = int(rng.integers(gap))
        mu = np.log(600 * sz**0.55)
        # --- the latent path
        state = np.zeros(months, dtype=int)  # state during month m+1 = state[m] (after month-end m)
        stop_day = None  # slow: the month-end of entering X; sudden: the event day
        z = 0
        for m in range(months):
            if sudden:
                if stop_day is None and rng.uniform() < book.sudden_hazard(sz, m):
                    stop_day = int(rng.integers(book.first[m], book.last[m] + 1))
                state[m] = 0 if stop_day is None else 5
            else:
                if z != 4:
                    z = int(rng.choice(5, p=book.matrix(k, sz, m)[z]))
                    if z == 4:
                        stop_day = int(book.last[m])
                state[m] = z
        # --- invoices, with their payment schedule fixed at issue
        invs = []  # (issue, due, amount cents, final pay day, [(day, cents, kind)])
        for m in range(months):
            s_during = 0 if m == 0 else int(state[m - 1])  # state during month m
            if not sudden and s_during == 4:
                break
            lam = 1.2 * sz**0.45 * np.exp(0.5 * book.cycle(k, m)) * ORDERS[0 if sudden else s_during]
            n = rng.poisson(min(lam, 25.0))
            days = np.sort(rng.integers(book.first[m], book.last[m] + 1, size=n))
            for issue in days:
                issue = int(issue)
                if sudden and stop_day is not None and issue >= stop_day:
                    continue
                due = issue + term
                cents = int(max(round(np.exp(rng.normal(mu, 0.5)) * 100), 500))
                st = 0 if sudden else s_during
                due_month = pd.Timestamp(EPOCH + np.timedelta64(due, "D")).month
                winter = industry == "agri_tourism" and due_month in (11, 12, 1, 2)
                late = base_late[d] + rng.normal(0, 4) + EXTRA[st] + (25 if winter else 0)
                late = min(late, 72.0)
                x = max(due + int(round(late)), issue + 1)
                final = _run_day(x, gap, phase)
                pieces = []
                p_part = PART[st] + (0.30 if winter else 0.0)
                left = cents
                if rng.uniform() < 0.05:
                    cday = issue + int(rng.integers(3, 31))
                    if cday < final:
                        c = int(round(cents * rng.uniform(0.05, 0.20)))
                        pieces.append((cday, c, "credit"))
                        left -= c
                if rng.uniform() < p_part:
                    first = _run_day(max(issue + 1, x - int(rng.integers(14, 36))), gap, phase)
                    if first < final:
                        c = int(round(left * rng.uniform(0.3, 0.7)))
                        pieces.append((first, c, "cash"))
                        left -= c
                pieces.append((final, left, "cash"))
                invs.append((issue, due, cents, final, pieces))
        # --- the realised default day
        if sudden:
            default_day = stop_day
        elif stop_day is not None:
            open_at_stop = [
                due + 90 for issue, due, _c, final, _p in invs if issue <= stop_day and final > stop_day
            ]
            default_day = min(open_at_stop) if open_at_stop else None
        else:
            default_day = None
        # --- tables (dated rows after the stop never happen; the data ends at end_day)
        cutoff = (
            end_day
            if stop_day is None
            else (min(end_day, stop_day - 1) if sudden else min(end_day, stop_day))
        )
        ids = [f"{did}-{j:05d}" for j in range(len(invs))]
        for j, (issue, due, cents, _f, _p) in enumerate(invs):
            if issue <= end_day:
                inv_rows.append((ids[j], did, issue, due, cents))
        # payment runs: group the cash pieces by day
        by_day: dict[int, list] = {}
        for j, (_i, _d, _c, final, pieces) in enumerate(invs):
            for day, c, kind in pieces:
                if day > cutoff:
                    continue
                if kind == "credit":
                    pay_rows.append((f"{did}-C{j:05d}", did, ids[j], day, c, "credit"))
                else:
                    by_day.setdefault(day, []).append((j, c, day == final))
        closed = 0  # invoices 0..closed-1 are settled (finals happen in issue order? not always)
        settled = np.zeros(len(invs), dtype=bool)
        for r, day in enumerate(sorted(by_day)):
            batch = by_day[day]
            finals = sorted(j for j, _c, fin in batch if fin)
            partial = [b for b in batch if not b[2]]
            while closed < len(invs) and settled[closed]:
                closed += 1
            oldest = [j for j in range(closed, len(invs)) if not settled[j] and invs[j][0] <= day][
                : len(finals)
            ]
            lump = bool(finals) and not partial and finals == oldest and rng.uniform() < 0.5
            if lump:
                total = sum(c for _j, c, _f in batch)
                pay_rows.append((f"{did}-R{r:05d}", did, None, day, total, "cash"))
            else:
                for i, (j, c, _f) in enumerate(sorted(batch)):
                    pay_rows.append((f"{did}-R{r:05d}-{i:02d}", did, ids[j], day, c, "cash"))
            for j in finals:
                settled[j] = True
        if sudden and stop_day is not None and stop_day <= end_day:
            ev_rows.append((did, stop_day, "insolvency"))
        # --- truth per month-end
        inv_issue = np.array([v[0] for v in invs], dtype=np.int64)
        inv_due = np.array([v[1] for v in invs], dtype=np.int64)
        inv_final = np.array([v[3] for v in invs], dtype=np.int64)
        for m in range(months):
            T = int(book.last[m])
            H = T + 90
            if sudden:
                st_name = "R" if (stop_day is None or stop_day > T) else "I"
                if stop_day is not None and stop_day <= T:
                    pd_ = 0.0
                else:
                    alive, pd_ = 1.0, 0.0
                    j = m + 1
                    while book.first[j] <= H:
                        lam = book.sudden_hazard(sz, j)
                        n_days = book.last[j] - book.first[j] + 1
                        inside = min(book.last[j], H) - book.first[j] + 1
                        pd_ += alive * lam * inside / n_days
                        alive *= 1 - lam
                        j += 1
            else:
                z = int(state[m])
                st_name = ("H", "S1", "S2", "S3", "X")[z]
                if z == 4:
                    pd_ = float(default_day is not None and T < default_day <= H)
                else:
                    p = np.zeros(5)
                    p[z] = 1.0
                    pd_ = 0.0
                    known = inv_issue <= T
                    for step in (1, 2, 3):
                        nxt = p @ book.matrix(k, sz, m + step)
                        enter = p[3] * P_S3_X
                        s = int(book.last[m + step])
                        hit = known & (inv_final > s) & (inv_due + 90 <= H)
                        if hit.any():
                            pd_ += enter
                        nxt[4] = 0.0  # only the first entry into X counts
                        p = nxt
            dd = None if default_day is None else default_day
            truth_rows.append((did, T, pd_, dd, st_name, "sudden" if sudden else "slow", industry))
    inv = pd.DataFrame(inv_rows, columns=["invoice_id", "debtor_id", "issue", "due", "cents"])
    invoices = pd.DataFrame(
        {
            "invoice_id": inv["invoice_id"],
            "debtor_id": inv["debtor_id"],
            "issue_date": _dates(inv["issue"]),
            "due_date": _dates(inv["due"]),
            "amount": inv["cents"] / 100.0,
            "currency": "EUR",
            "disputed": False,
        }
    )
    pay = pd.DataFrame(pay_rows, columns=["payment_id", "debtor_id", "invoice_id", "day", "cents", "kind"])
    payments = pd.DataFrame(
        {
            "payment_id": pay["payment_id"],
            "debtor_id": pay["debtor_id"],
            "invoice_id": pay["invoice_id"],
            "paid_on": _dates(pay["day"]),
            "amount": pay["cents"] / 100.0,
            "currency": "EUR",
            "kind": pay["kind"],
        }
    )
    ev = pd.DataFrame(ev_rows, columns=["debtor_id", "day", "kind"])
    events = pd.DataFrame(
        {"debtor_id": ev["debtor_id"], "event_date": _dates(ev["day"]), "kind": ev["kind"], "amount": np.nan}
    )
    yearly = inv.groupby("debtor_id")["cents"].sum() / 100.0 * 12 / months
    ids = [f"T{d:06d}" for d in range(debtors)]
    debtors_t = pd.DataFrame(
        {
            "debtor_id": ids,
            "name": [f"Third {i}" for i in ids],
            "segment": [INDUSTRIES[i] for i in ind],
            "country": "DE",
            "credit_limit": np.round(yearly.reindex(ids).fillna(0).to_numpy() / 6, 2),
            "onboarded_on": START - pd.to_timedelta(rng.integers(30, 2000, size=debtors), unit="D"),
        }
    )
    tr = pd.DataFrame(
        truth_rows, columns=["debtor_id", "day", "oracle_pd", "dday", "state", "route", "segment"]
    )
    truth = pd.DataFrame(
        {
            "debtor_id": tr["debtor_id"],
            "month_end": _dates(tr["day"]),
            "oracle_pd": tr["oracle_pd"].astype(float),
            "default_day": _dates(tr["dday"]),
            "state": tr["state"],
            "route": tr["route"],
            "segment": tr["segment"],
        }
    )
    return {
        "invoices": invoices,
        "payments": payments,
        "debtors": debtors_t,
        "events": events,
        "truth": truth,
    }


def limit_history(tables: dict[str, pd.DataFrame], months: int) -> dict[str, pd.DataFrame]:
    """``--limit-history``: a credit team's dated limits, and the debtors table as exported on the last day.

    Computed from the simulated tables (no random draws: the ledger stays the one of the seed):

    - at onboarding (``valid_from`` = ``onboarded_on``): the opening limit, the debtor's invoicing of its
      first 3 months x 4 / 6 (the team's estimate of two months of its yearly volume);
    - a yearly review at each year's end (``valid_from`` = the next 1 January, inside the data): the
      invoicing of the 12 months before / 6, for a debtor not in default by then;
    - a cut to 0 on the debtor's first default day (90 days past due, or its insolvency), when it falls
      inside the data: the team stops the account after the trouble.

    ``debtors.credit_limit`` becomes each debtor's last limit by the data's end (what a master-data export
    of that day holds: the cut of every debtor that defaulted, at every past month-end when applied as one
    snapshot). Returns ``tables`` with ``debtors`` replaced and ``debtor_history`` added.
    """
    inv, deb = tables["invoices"], tables["debtors"]
    end = START + pd.DateOffset(months=months) - pd.Timedelta(days=1)
    month = (inv["issue_date"].dt.year - START.year) * 12 + inv["issue_date"].dt.month - 1
    by_month = inv.groupby([inv["debtor_id"], month])["amount"].sum().unstack(fill_value=0.0)
    by_month = by_month.reindex(index=deb["debtor_id"], columns=range(months), fill_value=0.0)
    first_default = (
        tables["truth"]
        .drop_duplicates("debtor_id")
        .set_index("debtor_id")["default_day"]
        .reindex(deb["debtor_id"])
    )
    rows = [
        pd.DataFrame(
            {
                "debtor_id": deb["debtor_id"],
                "valid_from": deb["onboarded_on"],
                "credit_limit": np.round(by_month.iloc[:, :3].sum(axis=1).to_numpy() * 4 / 6, 2),
            }
        )
    ]
    for year_end in range(12, months, 12):
        when = START + pd.DateOffset(months=year_end)
        live = ~(first_default < when).to_numpy()
        rows.append(
            pd.DataFrame(
                {
                    "debtor_id": deb["debtor_id"][live],
                    "valid_from": when,
                    "credit_limit": np.round(
                        by_month.iloc[:, year_end - 12 : year_end].sum(axis=1).to_numpy()[live] / 6, 2
                    ),
                }
            )
        )
    cut = first_default.notna() & (first_default <= end)
    rows.append(
        pd.DataFrame(
            {
                "debtor_id": first_default.index[cut],
                "valid_from": first_default[cut].to_numpy(),
                "credit_limit": 0.0,
            }
        )
    )
    history = pd.concat(rows, ignore_index=True)
    history["valid_from"] = history["valid_from"].astype("datetime64[ns]")
    history = history.sort_values(["debtor_id", "valid_from"], kind="stable", ignore_index=True)
    last = history.drop_duplicates("debtor_id", keep="last").set_index("debtor_id")["credit_limit"]
    debtors = deb.assign(credit_limit=last.reindex(deb["debtor_id"]).to_numpy())
    return {**tables, "debtors": debtors, "debtor_history": history}


def _dates(days: pd.Series) -> pd.Series:
    v = pd.to_numeric(days, errors="coerce")
    return pd.to_datetime(v, unit="D", origin="unix").astype("datetime64[ns]")


def write_book(debtors: int, months: int, seed: int, out: Path, dated_limits: bool = False) -> dict:
    tables = simulate(debtors, months, seed)
    if dated_limits:
        tables = limit_history(tables, months)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        tmp = out / f".{name}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.replace(out / f"{name}.parquet")
    truth = tables["truth"]
    end = truth["month_end"].max()
    summary = {
        "simulator": "third_book",
        **({"dated_limits": True} if dated_limits else {}),
        "debtors": debtors,
        "months": months,
        "seed": seed,
        "rows": {k: len(f) for k, f in tables.items()},
        "defaults_by_end": int(truth.loc[truth["default_day"] <= end, "debtor_id"].nunique()),
        "defaults_by_route": truth.loc[truth["default_day"] <= end]
        .drop_duplicates("debtor_id")["route"]
        .value_counts()
        .to_dict(),
        "unallocated_payments": int(tables["payments"]["invoice_id"].isna().sum()),
        "credit_notes": int((tables["payments"]["kind"] == "credit").sum()),
        "mean_oracle_pd": round(float(truth["oracle_pd"].mean()), 5),
        "truth_states": truth["state"].value_counts().to_dict(),
        "top_10pct_debtors_share_of_invoiced": round(
            float(
                tables["invoices"]
                .groupby("debtor_id")["amount"]
                .sum()
                .sort_values(ascending=False)
                .pipe(lambda s: s.iloc[: max(1, len(s) // 10)].sum() / s.sum())
            ),
            3,
        ),
    }
    (out / "generate-summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debtors", type=int, default=2000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--limit-history",
        action="store_true",
        help="dated limits in debtor_history.parquet (opening, yearly reviews, a cut to 0 on default) and the "
        "last day's limits in debtors.parquet (default off: the whole-history limit, old books unchanged)",
    )
    args = ap.parse_args()
    summary = write_book(args.debtors, args.months, args.seed, args.out, dated_limits=args.limit_history)
    print(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
