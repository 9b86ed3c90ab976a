"""Kaplan-Meier estimates of "share answered within t" with right-censoring, also under bootstrap.

A test is an *event* when its first human answer arrived inside its observation window, and
*censored* otherwise (at the window end, or at the analysis time while the window is still open).
Censored tests stay in the risk set up to their censoring time, so unanswered tests are never
dropped: with every window closed, F(t) equals answered-within-t divided by all tests.
"""

from __future__ import annotations

import math

import numpy as np

CHECKPOINTS_H = (1.0, 4.0, 24.0)  # the published delay buckets, plus the window itself


def _sorted(times: np.ndarray, events: np.ndarray) -> np.ndarray:
    # Events before censorings at equal times: the usual KM convention (a test censored at t
    # was still at risk at t).
    return np.lexsort((~events, times))


def _km(times: np.ndarray, events: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the tests sorted by time (times, events) and S after each of them, shape (B, n)."""
    n = times.shape[0]
    w = np.ones((1, n)) if weights is None else np.asarray(weights, dtype=float)
    order = _sorted(times, events)
    t, e, w = times[order], events[order], w[:, order]
    at_risk = w[:, ::-1].cumsum(axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(at_risk > 0, w * e / at_risk, 0.0)
    return t, e, np.cumprod(1.0 - frac, axis=1)


def _f_at(t: np.ndarray, surv: np.ndarray, cps: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(t, cps, side="right") - 1
    return np.where(idx >= 0, 1.0 - surv[:, np.clip(idx, 0, None)], 0.0)


def km_at(
    times: np.ndarray, events: np.ndarray, checkpoints: np.ndarray | list[float],
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Return F(t) = 1 - S(t) at each checkpoint; shape (len(checkpoints),) or (B, ...) with weights.

    `weights` (B, n) are bootstrap multiplicities: a test drawn k times counts k times. Treating the
    sorted tests one by one with factor 1 - w*e/R (R = weight still at risk) equals the grouped
    product over distinct times, so ties need no special case.
    """
    times = np.asarray(times, dtype=float)
    events = np.asarray(events, dtype=bool)
    cps = np.asarray(checkpoints, dtype=float)
    single = weights is None
    if times.shape[0] == 0:
        out = np.full((1 if single else np.asarray(weights).shape[0], cps.shape[0]), np.nan)
        return out[0] if single else out
    t, _, surv = _km(times, events, weights)
    result = _f_at(t, surv, cps)
    return result[0] if single else result


def km_summary(times: np.ndarray, events: np.ndarray, checkpoints) -> tuple[np.ndarray, float]:
    """Return (km_at(times, events, checkpoints), km_median(times, events)) from one estimate."""
    times = np.asarray(times, dtype=float)
    events = np.asarray(events, dtype=bool)
    cps = np.asarray(checkpoints, dtype=float)
    if times.shape[0] == 0:
        return np.full(cps.shape[0], np.nan), math.nan
    t, e, surv = _km(times, events, None)
    ev_times = np.unique(t[e])
    f = _f_at(t, surv, ev_times)[0] if ev_times.size else np.array([])
    hit = np.nonzero(f >= 0.5 - 1e-12)[0]
    return _f_at(t, surv, cps)[0], (float(ev_times[hit[0]]) if hit.size else math.nan)


def km_curve(times: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the step points (t, F(t)) at each distinct event time, starting at (0, 0)."""
    times = np.asarray(times, dtype=float)
    events = np.asarray(events, dtype=bool)
    if times.size == 0:
        return np.array([0.0]), np.array([0.0])
    ev_times = np.unique(times[events])
    f = km_at(times, events, ev_times) if ev_times.size else np.array([])
    return np.concatenate(([0.0], ev_times)), np.concatenate(([0.0], f))


def km_median(times: np.ndarray, events: np.ndarray) -> float:
    """Return the smallest t with F(t) >= 0.5, or NaN when fewer than half are ever answered."""
    return km_summary(times, events, ())[1]
