"""An independent receivables simulator: a portfolio ews was not designed around (issue 9, part 1).

Written without importing or reading ``pipelines/synthetic`` (only the canonical contract,
``features/schema.py``, and the default definition of DESIGN.md). It writes the canonical tables
(``debtors``, ``invoices``, ``payments``, ``events`` as parquet) and ``truth.parquet``: one row per
debtor and month end while the debtor is onboarded and not yet in default, with ``oracle_pd``, the
*exact* probability (computed in closed form from the simulator's own hazard, no Monte Carlo) that the
first default happens in (month_end, month_end + 90 days].

Mechanics (different from ``ews generate`` by design):

- Latent monthly chain per debtor: healthy (H) -> distressed (D) -> stopped (S). H -> D with a
  debtor hazard x segment seasonality x a macro shock that hits two segments with a lag; D -> S with
  probability ``q`` a month, D -> H (recovery) with ``r``. Entering S on a day ``s`` (uniform in the
  month) the debtor stops ordering and paying. Two routes, chosen at ``s``:
  A (``p_event``): an ``insolvency`` or ``agency_placement`` event ``U{0..30}`` days after ``s``;
  B: a *bust-out*: on day ``s`` the debtor clears everything open and takes one large last invoice
  (3-6x its usual size) at its own terms, never paid; default is that invoice's 90 days past due
  (``s + terms + 90``), and a ``write_off`` event 30 days later.
  Before ``s`` no invoice ever reaches 60 days past due (lateness is capped at 59), so the first
  default day is exactly ``s + delay`` (A) or ``s + terms + 90`` (B): the ews label of the data is
  the truth's label.
- Heterogeneous terms (14/30/60/90 days); a chronically late but safe type (pays 30-50 days late,
  hazard x0.7); debtors joining over the whole history (short histories); a seasonal segment
  (agriculture: orders peak in spring, pays later in winter); disputes (3 % of invoices, paid
  20-59 days late).
- Distress shows through one of five mechanisms (drawn per distress spell): an order spree (x2.5)
  then a near stop (x0.3), invoice sizes growing 12 % a month, paying the newest invoices first while
  the ones open at the onset age (50-59 days late), part payments (half at due, the rest 30-59 days
  late), or disputes (30 % of invoices). Every distressed debtor also pays 5-20 days later.

Variants (``--variant``): ``small`` 600 debtors x 30 months, low default rate; ``large`` 5,000 x 36,
a higher rate and a stronger macro shock.

    nice .venv/bin/python benchmarks/unseen_book.py --variant small --seed 1 --out /tmp/unseen/small-s1
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

HORIZON = 90  # days; DESIGN.md default definition (conf default)
TERMS = np.array([14, 30, 60, 90])
TERMS_P = np.array([0.25, 0.4, 0.25, 0.1])
SEGMENTS = ("construction", "retail", "agriculture", "software", "logistics", "healthcare")
SEGMENT_P = np.array([0.2, 0.2, 0.15, 0.15, 0.15, 0.15])
SEGMENT_HAZARD = {
    "construction": 1.5,
    "retail": 1.2,
    "agriculture": 1.0,
    "software": 0.7,
    "logistics": 1.0,
    "healthcare": 0.5,
}
SHOCKED = ("construction", "retail")
COUNTRIES = ("DE", "FR", "NL", "BE", "AT", "PL", "IT", "ES")
MECHANISMS = ("spree_stop", "growing", "newest_first", "partial", "disputes")


@dataclass(frozen=True)
class Variant:
    name: str
    debtors: int
    months: int
    hazard: float  # mean monthly H -> D probability before multipliers
    q: float  # D -> S monthly
    r: float  # D -> H monthly
    p_event: float  # route A share
    shock_month: int  # month index when the macro shock starts (its effect lags)
    shock_lag: int
    shock_size: float  # hazard multiplier on SHOCKED segments at the peak
    shock_months: int
    joined_at_start: float  # share of debtors onboarded before the first month
    start: str = "2023-01-01"


VARIANTS = {
    "small": Variant("small", 600, 30, 0.006, 0.30, 0.10, 0.6, 14, 2, 2.0, 6, 0.7),
    "large": Variant("large", 5000, 36, 0.008, 0.35, 0.08, 0.4, 18, 3, 3.5, 8, 0.55),
}


def month_starts(v: Variant) -> list[dt.date]:
    d0 = dt.date.fromisoformat(v.start)
    out = []
    for m in range(v.months):
        y, mo = divmod(d0.month - 1 + m, 12)
        out.append(dt.date(d0.year + y, mo + 1, 1))
    return out


def month_end(d: dt.date) -> dt.date:
    return dt.date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def macro(v: Variant, m: int, segment: str) -> float:
    """Hazard multiplier of month ``m`` (the shock acts from shock_month + shock_lag, linear decay)."""
    if segment not in SHOCKED:
        return 1.0
    k = m - (v.shock_month + v.shock_lag)
    if 0 <= k < v.shock_months:
        return 1.0 + (v.shock_size - 1.0) * (1 - k / v.shock_months)
    return 1.0


def season(segment: str, month: int) -> tuple[float, float, float]:
    """(order multiplier, hazard multiplier, extra lateness days) of a calendar month."""
    if segment != "agriculture":
        return 1.0, 1.0, 0.0
    orders = 1.0 + 0.8 * np.cos(2 * np.pi * (month - 4) / 12)  # peak in April
    late = 12.0 if month in (12, 1, 2) else 0.0
    hazard = 1.6 if month in (1, 2, 3) else 0.8
    return float(orders), hazard, late


def simulate(v: Variant, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    starts = month_starts(v)
    ends = [month_end(d) for d in starts]
    as_of = ends[-1]
    n = v.debtors
    seg = rng.choice(len(SEGMENTS), n, p=SEGMENT_P)
    terms = rng.choice(TERMS, n, p=TERMS_P)
    chronic = rng.random(n) < 0.15
    joined = np.where(rng.random(n) < v.joined_at_start, -1, rng.integers(0, v.months - 3, n))
    base_h = v.hazard * rng.lognormal(-0.5, 1.0, n)  # mean exp(0) = 1
    base_h = np.where(chronic, base_h * 0.7, base_h)
    rate = rng.gamma(2.0, 2.0, n) + 0.5  # invoices a month
    size = rng.lognormal(7.5, 1.0, n)
    mu_late = np.where(chronic, rng.uniform(30, 50, n), rng.uniform(-3, 12, n))
    q_i = np.clip(v.q * rng.lognormal(0, 0.3, n), 0.05, 0.9)

    debtors, invoices, payments, events, truth = [], [], [], [], []
    laws: list[dict] = []  # per invoice: the law its settlement day was drawn from (oracle_invoices)
    inv_no = pay_no = 0
    for i in range(n):
        did = f"U{i:06d}"
        segment = SEGMENTS[seg[i]]
        first_m = max(joined[i], 0)
        onboard = (
            starts[0] - dt.timedelta(days=int(rng.integers(60, 1500)))
            if joined[i] < 0
            else starts[joined[i]] + dt.timedelta(days=int(rng.integers(0, 28)))
        )
        debtors.append(
            {
                "debtor_id": did,
                "name": f"Unseen {i} {segment[:4].title()}",
                "segment": segment,
                "country": COUNTRIES[int(rng.integers(len(COUNTRIES)))],
                "credit_limit": float(round(size[i] * rate[i] * 2, -2)),
                "onboarded_on": onboard,
            }
        )
        # latent chain
        state = "H"
        route: str | None = None
        path: list[tuple[int, str]] = []
        spell: list[str | None] = []  # the distress mechanism per month of path (diagnostic only)
        stop_day: dt.date | None = None
        default_day: dt.date | None = None
        mech = None
        d_month = 0  # months in the current spell
        open_at_onset: set[str] = set()
        inv_list: list[dict] = []  # this debtor's invoices, planned payments

        def hazard_of(m: int, i: int = i, segment: str = segment) -> float:
            month = (dt.date.fromisoformat(v.start).month - 1 + m) % 12 + 1
            return min(
                base_h[i] * SEGMENT_HAZARD[segment] * season(segment, month)[1] * macro(v, m, segment), 0.5
            )

        for m in range(first_m, v.months):
            o_mult, _, extra_late = season(segment, starts[m].month)
            h = hazard_of(m)
            # transition at the start of month m (not in the first month of the relationship)
            if m > first_m and state in ("H", "D"):
                u = rng.random()
                if state == "H" and u < h:
                    state, d_month = "D", 0
                    mech = MECHANISMS[int(rng.integers(len(MECHANISMS)))]
                    open_at_onset = {
                        x["invoice_id"]
                        for x in inv_list
                        if x["due_date"] + dt.timedelta(days=x["pieces"][-1][1]) >= starts[m]
                    }
                elif state == "D" and u < q_i[i]:
                    state = "S"
                    ndays = (ends[m] - starts[m]).days + 1
                    stop_day = starts[m] + dt.timedelta(days=int(rng.integers(0, ndays)))
                    if rng.random() < v.p_event:
                        default_day = stop_day + dt.timedelta(days=int(rng.integers(0, 31)))
                        kind = "insolvency" if rng.random() < 0.5 else "agency_placement"
                        events.append(
                            {"debtor_id": did, "event_date": default_day, "kind": kind, "amount": None}
                        )
                        route = "A"
                    else:
                        route = "B"
                        default_day = stop_day + dt.timedelta(days=int(terms[i]) + HORIZON)
                        events.append(
                            {
                                "debtor_id": did,
                                "event_date": default_day + dt.timedelta(days=30),
                                "kind": "write_off",
                                "amount": None,
                            }
                        )
                elif state == "D" and u < q_i[i] + v.r:
                    state, mech = "H", None
                if state == "D":
                    d_month += 1
            path.append((m, state))
            spell.append(mech if state in ("D", "S") else None)
            # orders this month
            lam = rate[i] * o_mult
            grow = 1.0
            if state == "D":
                if mech == "spree_stop":
                    lam *= 2.5 if d_month <= 1 else 0.3
                if mech == "growing":
                    grow = 1.12**d_month
            k = rng.poisson(lam)
            first_day = onboard if m == joined[i] else starts[m]
            span = (ends[m] - first_day).days + 1
            days = np.sort(rng.integers(0, span, k))
            for dd in days:
                issue = first_day + dt.timedelta(days=int(dd))
                if state == "S" and stop_day is not None and issue >= stop_day:
                    break
                amt = float(round(size[i] * grow * rng.lognormal(0, 0.4), 2))
                due = issue + dt.timedelta(days=int(terms[i]))
                disputed = rng.random() < (0.3 if (state == "D" and mech == "disputes") else 0.03)
                late = rng.normal(mu_late[i], 6) + extra_late
                # law: the settlement's lateness as drawn here (no draw of its own; oracle_invoices)
                law = ("normal", mu_late[i] + extra_late, 0.0, 0.0)
                if state == "D":
                    late += rng.uniform(5, 20)
                    law = ("normal", mu_late[i] + extra_late, 5.0, 20.0)
                    if mech == "newest_first":
                        late = rng.uniform(0, 5)
                        law = ("uniform", 0.0, 5.0, 0.0)
                if disputed:
                    late = rng.uniform(20, 59)
                    law = ("uniform", 20.0, 59.0, 0.0)
                late = int(np.clip(round(late), -10, 59))
                pieces = [(1.0, late)]
                if state == "D" and mech == "partial":
                    pieces = [(0.5, max(late - 30, -5)), (0.5, int(rng.uniform(30, 59)))]
                    law = ("integers", 30.0, 59.0, 0.0)  # settled by the last piece
                inv_no += 1
                inv_list.append(
                    {
                        "invoice_id": f"UI{inv_no:08d}",
                        "debtor_id": did,
                        "issue_date": issue,
                        "due_date": due,
                        "amount": amt,
                        "currency": "EUR",
                        "disputed": bool(disputed),
                        "pieces": pieces,
                        "open_from": issue,
                        "law": law,
                        "law_from": None,
                    }
                )
            if state == "D" and mech == "newest_first":
                # the invoices open at the onset age: paid 50-59 days late
                for x in inv_list:
                    if x["invoice_id"] in open_at_onset:
                        x["pieces"] = [(1.0, int(rng.integers(50, 60)))]
                        x["prior_law"] = x["law"]
                        x["law"], x["law_from"] = ("integers", 50.0, 60.0, 0.0), starts[m]
                open_at_onset = set()
            if state == "S":
                path += [(mm, "S") for mm in range(m + 1, v.months)]
                spell += [mech] * (v.months - m - 1)
                break
        # route B: the bust-out invoice on the stop day
        if stop_day is not None and route == "B" and stop_day <= as_of:
            inv_no += 1
            inv_list.append(
                {
                    "invoice_id": f"UI{inv_no:08d}",
                    "debtor_id": did,
                    "issue_date": stop_day,
                    "due_date": stop_day + dt.timedelta(days=int(terms[i])),
                    "amount": float(round(size[i] * rng.uniform(3, 6), 2)),
                    "currency": "EUR",
                    "disputed": False,
                    "pieces": [],
                    "open_from": stop_day,
                    "law": ("never", 0.0, 0.0, 0.0),
                    "law_from": None,
                }
            )
        # payments
        for x in inv_list:
            done = 0.0
            for j, (share, late) in enumerate(x["pieces"]):
                paid = x["due_date"] + dt.timedelta(days=late)
                paid = max(paid, x["issue_date"])
                if stop_day is not None and paid >= stop_day:
                    if route == "B" and x["issue_date"] < stop_day:
                        paid = stop_day  # the bust-out clears everything open first
                    else:
                        continue
                if paid > as_of:
                    continue
                last = j == len(x["pieces"]) - 1
                amount = round(x["amount"] - done, 2) if last else round(x["amount"] * share, 2)
                done += amount
                pay_no += 1
                payments.append(
                    {
                        "payment_id": f"UP{pay_no:08d}",
                        "debtor_id": did,
                        "invoice_id": x["invoice_id"],
                        "paid_on": paid,
                        "amount": amount,
                        "currency": "EUR",
                    }
                )
            invoices.append({k: x[k] for k in INVOICE_COLUMNS})
            laws.append(_law_row(x, stop_day, route))
        truth += _truth_rows(v, did, hazard_of, path, q_i[i], default_day, onboard, spell)

    tables = {
        "debtors": pd.DataFrame(debtors),
        "invoices": pd.DataFrame(invoices),
        "payments": pd.DataFrame(payments),
        "events": pd.DataFrame(events, columns=["debtor_id", "event_date", "kind", "amount"]),
        "truth": pd.DataFrame(truth),
        "oracle_invoices": pd.DataFrame(laws),
    }
    for name, cols in {
        "debtors": ["onboarded_on"],
        "invoices": ["issue_date", "due_date"],
        "payments": ["paid_on"],
        "events": ["event_date"],
        "truth": ["month_end", "default_day"],
        "oracle_invoices": ["due_date", "law_from", "stop_day"],
    }.items():
        for c in cols:
            tables[name][c] = pd.to_datetime(tables[name][c])
    tables["events"] = tables["events"][tables["events"]["event_date"] <= pd.Timestamp(as_of)]
    tables["events"]["amount"] = tables["events"]["amount"].astype("float64")
    return tables


def _law_row(x: dict, stop_day: dt.date | None, route: str | None) -> dict:
    """One row of ``oracle_invoices.parquet``: the law the invoice's settlement lateness (days after its
    due date; the day the last piece is paid) was drawn from, with no draw of its own. ``law``:
    ``normal`` = clip(round(N(a, 6) + U(b, c)), -10, 59) (U(0, 0) = 0); ``uniform`` = clip(round(U(a, b)),
    -10, 59); ``integers`` = an integer in [a, b); ``never`` (route B's last invoice). ``law_from``: the
    day it took this law when that was after the invoice's issue (``newest_first``'s onset: the invoices
    open then are paid 50-59 days late; before that day the law of ``prior``, ``prior_a`` .. ``prior_c``
    held). ``stop_day`` / ``route``: the debtor's stop (after it nothing is paid, route A, or everything
    open is paid on it, route B)."""
    kind, a, b, c = x["law"]
    pk, pa, pb, pc = x.get("prior_law") or (None, np.nan, np.nan, np.nan)
    return {
        "invoice_id": x["invoice_id"],
        "due_date": x["due_date"],
        "law": kind,
        "a": a,
        "b": b,
        "c": c,
        "law_from": x["law_from"],
        "prior": pk,
        "prior_a": pa,
        "prior_b": pb,
        "prior_c": pc,
        "stop_day": stop_day,
        "route": route,
    }


def _p_event_by(T: dt.date, s_lo: dt.date, s_hi: dt.date) -> float:
    """P(s + U{0..30} <= T + 90) for s uniform on [s_lo, s_hi] (days)."""
    limit = T + dt.timedelta(days=HORIZON)
    tot = 0.0
    nd = (s_hi - s_lo).days + 1
    for j in range(nd):
        s = s_lo + dt.timedelta(days=j)
        room = (limit - s).days  # delay must be <= room
        tot += min(max(room + 1, 0), 31) / 31
    return tot / nd


def _truth_rows(v, did, hazard_of, path, q, default_day, onboard, spell):
    """Exact PD at every month end while onboarded and not yet in default, from the latent chain.

    ``path``: the chain's state in each month (the simulator's own record). The next three months'
    transitions use the hazards the simulator uses (macro path and seasons included: the oracle knows
    them); past the book's end the chain goes on with the same formulas."""
    starts = month_starts(replace(v, months=v.months + 4))
    ends = [month_end(d) for d in starts]
    rows = []
    for (m, state), mech in zip(path, spell, strict=True):
        T = ends[m]
        if onboard > T:
            continue
        if default_day is not None and default_day <= T:
            break
        limit = T + dt.timedelta(days=HORIZON)
        if state == "S":
            pd_ = 1.0 if default_day is not None and default_day <= limit else 0.0
        else:
            # Route A: stop in month m+k (uniform day) then default U{0..30} days later. Route B
            # defaults terms + 90 days after the stop: never inside the horizon of a debtor not
            # stopped at T.
            pH, pD = (1.0, 0.0) if state == "H" else (0.0, 1.0)
            pd_ = 0.0
            for k in range(1, 5):
                mm = m + k
                if starts[mm] > limit:
                    break
                pd_ += pD * q * v.p_event * _p_event_by(T, starts[mm], ends[mm])
                h = hazard_of(mm)
                pH, pD = pH * (1 - h) + pD * v.r, pH * h + pD * (1 - q - v.r)
        rows.append(
            {
                "debtor_id": did,
                "month_end": T,
                "state": state,
                "mechanism": mech,
                "oracle_pd": pd_,
                "default_day": default_day,
            }
        )
    return rows


INVOICE_COLUMNS = ("invoice_id", "debtor_id", "issue_date", "due_date", "amount", "currency", "disputed")


def write_book(variant: str, seed: int, out: Path) -> Variant:
    v = VARIANTS[variant]
    tables = simulate(v, seed)
    out.mkdir(parents=True, exist_ok=True)
    laws = tables.pop("oracle_invoices")  # not a canonical table: the payment-date oracle's input
    laws.to_parquet(out / ".oracle_invoices.parquet.tmp", index=False)
    (out / ".oracle_invoices.parquet.tmp").replace(out / "oracle_invoices.parquet")
    for name, frame in tables.items():
        tmp = out / f".{name}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.replace(out / f"{name}.parquet")
    truth = tables["truth"]
    summary = {
        "variant": asdict(v),
        "seed": seed,
        "rows": {k: len(f) for k, f in tables.items()},
        "defaults_by_end": int(
            truth.loc[truth["default_day"] <= truth["month_end"].max(), "debtor_id"].nunique()
        ),
        "debtors_with_events": int(tables["events"]["debtor_id"].nunique()),
        "mean_oracle_pd": round(float(truth["oracle_pd"].mean()), 5),
        "truth_states": truth["state"].value_counts().to_dict(),
    }
    (out / "generate-summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="small")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    write_book(args.variant, args.seed, args.out)
    print((args.out / "generate-summary.json").read_text())


if __name__ == "__main__":
    main()
