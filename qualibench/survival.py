"""Kaplan-Meier estimates of "share answered within t" with right-censoring, also under bootstrap.

A test is an *event* when its first human answer arrived inside its observation window, and
*censored* otherwise (at the window end, or at the analysis time while the window is still open).
Censored tests stay in the risk set up to their censoring time, so unanswered tests are never
dropped: with every window closed, F(t) equals answered-within-t divided by all tests.
"""

from __future__ import annotations

import numpy as np

CHECKPOINTS_H = (1.0, 4.0, 24.0)  # the published delay buckets, plus the window itself


def _sorted(times: np.ndarray, events: np.ndarray) -> np.ndarray:
    # Events before censorings at equal times: the usual KM convention (a test censored at t
    # was still at risk at t). Row by row for a stack of groups (shape (g, n)).
    return np.lexsort((~events, times), axis=-1)


def km_stack(times: np.ndarray, events: np.ndarray, weights: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a stack of g groups of n tests sorted by time (times, events, shape (g, n)) and S
    after each of them, shape (g, B, n) (B = 1 without weights).

    `times` and `events` are (g, n): one row per group, every group the same size (the figures
    of thousands of brand x channel cells in a few array operations). `weights` (g, B, n) are
    bootstrap multiplicities. Row by row the arithmetic is that of one group alone, bit for bit.
    """
    g, n = times.shape
    w = np.ones((g, 1, n)) if weights is None else np.asarray(weights, dtype=float)
    order = _sorted(times, events)
    t, e = np.take_along_axis(times, order, axis=1), np.take_along_axis(events, order, axis=1)
    w = np.take_along_axis(w, order[:, None, :], axis=2)
    at_risk = w[:, :, ::-1].cumsum(axis=2)[:, :, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(at_risk > 0, w * e[:, None, :] / at_risk, 0.0)
    return t, e, np.cumprod(1.0 - frac, axis=2)


def f_at_stack(t: np.ndarray, surv: np.ndarray, cps: np.ndarray) -> np.ndarray:
    """Return F = 1 - S at each checkpoint of each group of a stack: shape (g, B, len(cps)).

    `cps` is one list for every group (k,) or one per group (g, k).
    """
    if t.shape[0] == 1 and np.ndim(cps) == 1:  # one group (a curve of many points): a binary search
        idx = np.searchsorted(t[0], cps, side="right")[None, :] - 1
    else:  # a stack of small groups: count the tests at or before each checkpoint, row by row
        cps = np.broadcast_to(cps, (t.shape[0], np.shape(cps)[-1]))
        idx = (t[:, :, None] <= cps[:, None, :]).sum(axis=1) - 1
    got = np.take_along_axis(surv, np.clip(idx, 0, None)[:, None, :], axis=2)
    return np.where(idx[:, None, :] >= 0, 1.0 - got, 0.0)


def km_summary_stack(times: np.ndarray, events: np.ndarray, checkpoints) -> tuple[np.ndarray, np.ndarray]:
    """Return km_summary of each group of a stack (g, n): F at the checkpoints (g, k), medians (g,)."""
    times = np.asarray(times, dtype=float)
    events = np.asarray(events, dtype=bool)
    cps = np.asarray(checkpoints, dtype=float)
    g, n = times.shape
    if n == 0:
        return np.full((g, cps.shape[0]), np.nan), np.full(g, np.nan)
    t, e, surv = km_stack(times, events, None)
    s = surv[:, 0, :]
    # F at each test's own time is S after the last test sharing that time (the end of its run)
    run_end = np.ones((g, n), dtype=bool)
    run_end[:, :-1] = t[:, 1:] != t[:, :-1]
    last = np.minimum.accumulate(np.where(run_end, np.arange(n), n)[:, ::-1], axis=1)[:, ::-1]
    f_own = 1.0 - np.take_along_axis(s, last, axis=1)
    hit = e & (f_own >= 0.5 - 1e-12)
    first = hit.argmax(axis=1)  # times are sorted: the first hit is the smallest such time
    medians = np.where(hit.any(axis=1), t[np.arange(g), first], np.nan)
    return f_at_stack(t, surv, cps)[:, 0, :], medians


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
    t, _, surv = km_stack(times[None], events[None], None if single else np.asarray(weights, float)[None])
    result = f_at_stack(t, surv, cps)[0]
    return result[0] if single else result


def km_summary(times: np.ndarray, events: np.ndarray, checkpoints) -> tuple[np.ndarray, float]:
    """Return (km_at(times, events, checkpoints), km_median(times, events)) from one estimate."""
    f, medians = km_summary_stack(np.asarray(times, dtype=float)[None], np.asarray(events, dtype=bool)[None],
                                  checkpoints)
    return f[0], float(medians[0])


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
