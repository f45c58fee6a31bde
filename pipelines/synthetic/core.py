"""Simulation of one chunk of debtors: pure numpy, no I/O (the writer lives in ``writer.py``).

Every chunk draws from its own random stream ``SeedSequence(seed, spawn_key=(chunk,))``, and the
economy (macro and sector shocks) from a shared stream, so a chunk's content depends only on the
parameters and its index. Dates are int64 days since 1970-01-01 inside this module.

Ledger rules that keep the realised default date equal to the DESIGN definition:

- scheduled payments are at most 85 days (+2 for a weekend) after the due date, so an invoice only
  passes 90 days past due when the debtor has stopped paying;
- distress default on D = S + lag: an invoice due on D - 90 (the "defaulting invoice", issued
  ``terms`` days earlier) is never paid; invoices due on or after D - 90 are unpaid when their
  payment was scheduled on or after the stop day S; invoices due earlier are settled as scheduled;
- sudden default: an ``insolvency`` event on D = S; every payment scheduled on or after S is missing;
- no invoice is issued on or after the stop day;
- debtors that pay without invoice references (unallocated cash) settle invoices strictly oldest
  first (payment days are a running maximum in invoice order) and never part-pay, so the
  oldest-first allocation (docs/architecture.md) reproduces the intended settlement exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipelines.synthetic.dynamics import (
    MAX_DELAY_DAYS,
    badness,
    distress_hazard,
    stationary_moments,
    stop_lag,
)
from pipelines.synthetic.oracle import MAX_AHEAD, OracleTable
from pipelines.synthetic.params import COUNTRIES, COUNTRY_WEIGHTS, GeneratorParams

__all__ = ["ChunkResult", "Economy", "fixed_ids", "simulate_chunk"]

NEVER = np.int64(2**40)
KIND_DISTRESS, KIND_SUDDEN = 1, 2


@dataclass(frozen=True)
class Economy:
    """What every chunk shares: calendar, hazard intercept, systematic shocks, oracle table."""

    firsts: np.ndarray
    lasts: np.ndarray
    alpha: float
    lam_sudden: float
    drift: np.ndarray
    macro: np.ndarray
    sector: np.ndarray
    oracle: OracleTable


@dataclass
class ChunkResult:
    """Arrow tables of one chunk plus counts used for the summary."""

    tables: dict[str, pa.Table]
    stops: int
    stop_exposure_months: int
    label: np.ndarray  # int8 labels of the truth rows with an observed horizon
    oracle: np.ndarray  # oracle PD of those rows


def fixed_ids(prefix: str, fields: list[tuple[np.ndarray, int]], valid: np.ndarray | None = None) -> pa.Array:
    """Fixed-width ids ``prefix + zero-padded fields`` built without Python strings (fast at 50M rows)."""
    n = len(fields[0][0])
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = len(head) + sum(w for _, w in fields)
    buf = np.empty((n, width), dtype=np.uint8)
    buf[:, : len(head)] = head
    col = len(head)
    for values, w in fields:
        v = np.asarray(values, dtype=np.int64).copy()
        for d in range(w - 1, -1, -1):
            buf[:, col + d] = 48 + v % 10
            v //= 10
        col += w
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    bitmap = None
    null_count = 0
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(valid.astype(np.uint8), bitorder="little").tobytes())
        null_count = int(n - valid.sum())
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(buf.tobytes()), bitmap, null_count
    )


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    ms = np.asarray(days, dtype=np.int64) * 86_400_000
    mask = None if valid is None else ~valid
    return pa.array(ms, type=pa.int64(), mask=mask).cast(pa.timestamp("ms"))


def _to_weekday(days: np.ndarray, month_last: np.ndarray | None = None) -> np.ndarray:
    """Move Saturday/Sunday to Monday; with ``month_last``, to the Friday when Monday leaves the month."""
    wd = (days + 3) % 7  # 0 = Monday
    out = days + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
    if month_last is not None:
        out = np.where(out > month_last, out - 3, out)
    return out


def _group_rank(code: np.ndarray) -> np.ndarray:
    """Position of each row within its run of equal ``code`` (``code`` sorted)."""
    n = len(code)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def simulate_chunk(params: GeneratorParams, chunk: int, lo: int, hi: int, eco: Economy) -> ChunkResult:
    """Simulate debtors ``lo..hi-1`` (global numbers) and return their rows of every table."""
    rng = np.random.default_rng(np.random.SeedSequence(entropy=params.seed, spawn_key=(chunk,)))
    n, M = hi - lo, params.months
    gid = np.arange(lo, hi, dtype=np.int64) + 1
    segs = params.segments
    n_seg = len(segs)
    terms = np.array([s.terms_days for s in segs], dtype=np.int64)
    delay_base = np.array([s.delay_base for s in segs])
    loading = np.array([s.downturn_loading for s in segs])
    season = np.array([s.season for s in segs]) ** params.season_power
    firsts, lasts = eco.firsts, eco.lasts
    end_day = int(lasts[M - 1])

    # -- static attributes -------------------------------------------------------------------------
    seg = rng.choice(n_seg, size=n, p=[s.share for s in segs])
    klass = rng.choice(len(params.quality_means), size=n, p=params.quality_probs)
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_WEIGHTS)
    unalloc = rng.random(n) < params.unallocated_payer_share
    vol = np.array([s.invoices_per_month for s in segs])[seg] * params.volume_scale
    vol = np.minimum(vol * np.exp(rng.normal(-0.18, 0.6, n)), 150.0)
    amt_scale = rng.normal(0.0, 0.5, n)
    initial = rng.random(n) < params.share_active_at_start
    om = np.where(initial, -1, rng.integers(0, M, n))
    om0 = np.maximum(om, 0)
    in_month = np.floor(rng.random(n) * (lasts[om0] - firsts[om0] + 1)).astype(np.int64)
    onboard_day = np.where(initial, firsts[0] - rng.integers(30, 2500, n), firsts[om0] + in_month)
    lsm = om0  # month the ledger starts for this debtor (seasoning counts from here)

    # -- latent health, churn and stops, month by month ----------------------------------------------
    mean, sd = stationary_moments(params)
    mu = np.asarray(params.quality_means)[klass]
    H = np.empty((n, M + 1))
    H[:, 0] = mean[klass] + sd * rng.standard_normal(n)
    churn_month = np.full(n, NEVER)
    stop_month = np.full(n, NEVER)
    stop_day = np.full(n, NEVER)
    stop_kind = np.zeros(n, dtype=np.int8)
    lag = np.zeros(n, dtype=np.int64)
    exposure = 0
    for j in range(M):
        length = lasts[j] - firsts[j] + 1
        u_churn, u_stop = rng.random(n), rng.random(n)
        day = firsts[j] + rng.integers(0, length, n)
        eps, u_jump = rng.standard_normal(n), rng.random(n)
        alive = (churn_month == NEVER) & (stop_month == NEVER)
        churn_now = alive & (om < j) & (u_churn < params.churn_monthly)
        churn_month[churn_now] = j
        eligible = alive & ~churn_now & (om <= j) & (j - lsm >= params.seasoning_months)
        exposure += int(eligible.sum())
        ld = distress_hazard(H[:, j], eco.alpha, params.hazard_slope)
        dist = eligible & (u_stop < ld)
        sudden = eligible & ~dist & (u_stop < ld + eco.lam_sudden)
        hit = dist | sudden
        stop_month[hit] = j
        stop_day[hit] = day[hit]
        stop_kind[dist] = KIND_DISTRESS
        stop_kind[sudden] = KIND_SUDDEN
        lag[dist] = stop_lag(H[dist, j], delay_base[seg[dist]], params.delay_health)
        H[:, j + 1] = (
            H[:, j]
            + params.kappa * (mu - H[:, j])
            + loading[seg] * eco.drift[j]
            + eco.macro[j]
            + eco.sector[j, seg]
            + params.sigma_idio * eps
            - params.jump_size * (u_jump < params.jump_prob)
        )
    stopped = stop_kind > 0
    default_day = np.where(stopped, stop_day + lag, NEVER)

    # -- invoices ------------------------------------------------------------------------------------
    months = np.arange(M)
    can_invoice = (om[:, None] <= months) & (months < churn_month[:, None]) & (months <= stop_month[:, None])
    cal = (params.start.month - 1 + months) % 12
    rate = vol[:, None] * season[seg][:, cal] * np.exp(params.volume_health * np.clip(H[:, :M], -3.0, 0.0))
    counts = rng.poisson(np.where(can_invoice, rate, 0.0))
    flat = counts.ravel()
    nz = np.flatnonzero(flat)
    rows = np.repeat(nz, flat[nz])
    di, mj = rows // M, rows % M
    issue = firsts[mj] + np.floor(rng.random(len(di)) * (lasts[mj] - firsts[mj] + 1)).astype(np.int64)
    issue = _to_weekday(issue, lasts[mj])
    keep = (issue >= onboard_day[di]) & (issue < stop_day[di])
    di, issue = di[keep], issue[keep]
    due = issue + terms[seg[di]]
    inserted = np.zeros(len(di), dtype=bool)
    # the defaulting invoice of each distress stop
    dd = np.flatnonzero(stop_kind == KIND_DISTRESS)
    d_due = default_day[dd] - params.dpd_threshold
    d_issue = np.maximum(d_due - terms[seg[dd]], np.maximum(onboard_day[dd], firsts[0]))
    di = np.concatenate((di, dd))
    issue = np.concatenate((issue, d_issue))
    due = np.concatenate((due, d_due))
    inserted = np.concatenate((inserted, np.ones(len(dd), dtype=bool)))
    order = np.lexsort((due, issue, di))
    di, issue, due, inserted = di[order], issue[order], due[order], inserted[order]
    seq = _group_rank(di) + 1
    n_inv = len(di)
    dseg = seg[di]
    cents = np.maximum(
        np.rint(
            np.exp(
                np.array([s.amount_log_mean for s in segs])[dseg]
                + amt_scale[di]
                + np.array([s.amount_log_sd for s in segs])[dseg] * rng.standard_normal(n_inv)
            )
            * 100
        ),
        500,
    ).astype(np.int64)

    # -- payment behaviour ---------------------------------------------------------------------------
    due_month = np.clip(np.searchsorted(firsts, due, side="right") - 1, 0, M)
    bad = badness(H[di, due_month])
    term_i = terms[dseg]
    delay = delay_base[dseg] + params.delay_health * bad + rng.standard_normal(n_inv) * (4.0 + 6.0 * bad)
    early = rng.random(n_inv) < 0.25 * np.exp(-2.0 * bad)
    delay = np.where(early, -rng.random(n_inv) * 0.5 * term_i, delay)
    disputed = rng.random(n_inv) < np.clip(0.01 + 0.05 * bad, 0.0, 0.25)
    delay = delay + disputed * rng.uniform(10.0, 40.0, n_inv)
    delay = np.clip(np.rint(delay), -term_i, MAX_DELAY_DAYS).astype(np.int64)
    paid = _to_weekday(np.maximum(due + delay, issue))
    u_part, frac, back = rng.random(n_inv), rng.uniform(0.2, 0.7, n_inv), rng.integers(7, 36, n_inv)
    pay_un = unalloc[di]
    prob_part = np.clip(params.partial_base + params.partial_health * bad, 0.0, params.partial_cap)
    partial = ~pay_un & (u_part < prob_part) & (cents >= 2)
    if params.partial_depth_health:
        frac = frac * np.exp(-params.partial_depth_health * bad)
    part1 = np.clip(np.rint(cents * frac), 1, cents - 1).astype(np.int64)
    day1 = np.minimum(_to_weekday(np.maximum(paid - back, issue)), paid)
    # unallocated payers settle strictly oldest first: running maximum of the payment day
    base = di.astype(np.int64) * 1_000_000
    sched = np.where(inserted, 0, paid) + base
    paid = np.where(pay_un, np.maximum.accumulate(sched) - base, paid)

    kind = stop_kind[di]
    S, D = stop_day[di], default_day[di]
    old = due < D - params.dpd_threshold
    full_paid = np.where(
        kind == KIND_DISTRESS,
        ~inserted & (old | (~pay_un & (paid < S))),
        np.where(kind == KIND_SUDDEN, paid < S, True),
    )
    first_paid = np.where(
        kind == KIND_DISTRESS, ~inserted & (old | (day1 < S)), np.where(kind == KIND_SUDDEN, day1 < S, True)
    )
    amt1 = np.where(partial, part1, cents)
    p_rows = [
        (np.flatnonzero(partial & first_paid & (day1 <= end_day)), day1, part1, 1),
        (np.flatnonzero(partial & full_paid & (paid <= end_day)), paid, cents - part1, 2),
        (np.flatnonzero(~partial & full_paid & (paid <= end_day)), paid, amt1, 1),
    ]
    p_inv = np.concatenate([r[0] for r in p_rows])
    p_day = np.concatenate([r[1][r[0]] for r in p_rows])
    p_cents = np.concatenate([r[2][r[0]] for r in p_rows])
    p_part = np.concatenate([np.full(len(r[0]), r[3]) for r in p_rows])
    porder = np.lexsort((p_part, seq[p_inv], p_day, di[p_inv]))
    p_inv, p_day, p_cents, p_part = p_inv[porder], p_day[porder], p_cents[porder], p_part[porder]

    # unpaid balance per debtor after the stop (for event amounts)
    paid_cents = np.where(partial, first_paid * part1 + full_paid * (cents - part1), full_paid * cents)
    unpaid = np.bincount(di, weights=(cents - paid_cents), minlength=n) / 100.0

    # -- events --------------------------------------------------------------------------------------
    ev_d, ev_day, ev_kind = [], [], []
    u1, u2, o1, o2 = rng.random(n), rng.random(n), rng.integers(10, 91, n), rng.integers(90, 301, n)
    o3 = rng.integers(60, 241, n)
    is_d, is_s = stop_kind == KIND_DISTRESS, stop_kind == KIND_SUDDEN
    for mask, day, k in (
        (is_s, stop_day, "insolvency"),
        (is_d & (u1 < 0.7), default_day + o1, "agency_placement"),
        (is_d & (u2 < 0.6), default_day + o2, "write_off"),
        (is_s & (u2 < 0.5), stop_day + o3, "write_off"),
    ):
        sel = np.flatnonzero(mask & (day <= end_day))
        ev_d.append(sel)
        ev_day.append(day[sel])
        ev_kind.extend([k] * len(sel))
    e_d, e_day = np.concatenate(ev_d), np.concatenate(ev_day)
    e_kind = np.array(ev_kind, dtype=object)
    eorder = np.lexsort((e_day, e_d))
    e_d, e_day, e_kind = e_d[eorder], e_day[eorder], e_kind[eorder]

    # -- truth: one row per debtor per month-end from its onboarding month ------------------------------
    t_counts = M - om0
    t_d = np.repeat(np.arange(n), t_counts)
    t_m = np.arange(len(t_d)) - np.repeat(np.cumsum(t_counts) - t_counts, t_counts) + om0[t_d]
    T = lasts[t_m]
    h_t = H[t_d, t_m + 1]
    Dt, St = default_day[t_d], stop_day[t_d]
    in_default = Dt <= T
    is_stopped = (St <= T) & ~in_default
    churned = (churn_month[t_d] <= t_m) & ~is_stopped & ~in_default
    season_left = np.clip(params.seasoning_months - (t_m + 1 - lsm[t_d]), 0, MAX_AHEAD)
    pd_ = eco.oracle.lookup(t_m, seg[t_d], klass[t_d], season_left, h_t)
    pd_ = np.where(churned, 0.0, np.where(is_stopped, 1.0, pd_))
    pd_ = np.where(in_default, np.nan, pd_)
    observed = ~in_default & (T + params.horizon_days <= end_day)
    label = ((Dt > T) & (Dt <= T + params.horizon_days)).astype(np.int8)

    # -- arrow tables ----------------------------------------------------------------------------------
    seg_names = np.array([s.name for s in segs], dtype=object)
    debtor_ids = fixed_ids("D", [(gid, 7)])
    limit = (
        np.round(2.5 * vol * np.exp(np.array([s.amount_log_mean for s in segs])[seg] + amt_scale) / 1000)
        * 1000
    )
    tables = {
        "debtors": pa.table(
            {
                "debtor_id": debtor_ids,
                "name": fixed_ids("Company ", [(gid, 7)]),
                "segment": pa.array(seg_names[seg], type=pa.string()),
                "country": pa.array(np.array(COUNTRIES, dtype=object)[country], type=pa.string()),
                "credit_limit": pa.array(np.maximum(limit, 1000.0)),
                "onboarded_on": _dates(onboard_day),
            }
        ),
        "invoices": pa.table(
            {
                "invoice_id": fixed_ids("I", [(gid[di], 7), (seq, 5)]),
                "debtor_id": fixed_ids("D", [(gid[di], 7)]),
                "issue_date": _dates(issue),
                "due_date": _dates(due),
                "amount": pa.array(cents / 100.0),
                "currency": pa.array(np.full(n_inv, params.currency, dtype=object), type=pa.string()),
                "disputed": pa.array(disputed),
            }
        ),
        "payments": pa.table(
            {
                "payment_id": fixed_ids("P", [(gid[di[p_inv]], 7), (seq[p_inv], 5), (p_part, 1)]),
                "debtor_id": fixed_ids("D", [(gid[di[p_inv]], 7)]),
                "invoice_id": fixed_ids("I", [(gid[di[p_inv]], 7), (seq[p_inv], 5)], valid=~pay_un[p_inv]),
                "paid_on": _dates(p_day),
                "amount": pa.array(p_cents / 100.0),
            }
        ),
        "events": pa.table(
            {
                "debtor_id": fixed_ids("D", [(gid[e_d], 7)]),
                "event_date": _dates(e_day),
                "kind": pa.array(e_kind, type=pa.string()),
                "amount": pa.array(np.round(unpaid[e_d], 2)),
            }
        ),
        "truth": pa.table(
            {
                "debtor_id": fixed_ids("D", [(gid[t_d], 7)]),
                "month_end": _dates(T),
                "health": pa.array(h_t.astype(np.float32)),
                "oracle_pd": pa.array(pd_.astype(np.float32)),
                "first_default_date": _dates(np.where(Dt <= end_day, Dt, 0), valid=Dt <= end_day),
                "in_default": pa.array(in_default),
                "label": pa.array(label, type=pa.int8(), mask=~observed),
                "segment": pa.array(seg_names[seg[t_d]], type=pa.string()),
            }
        ),
    }
    return ChunkResult(
        tables=tables,
        stops=int(stopped.sum()),
        stop_exposure_months=exposure,
        label=label[observed],
        oracle=pd_[observed],
    )
