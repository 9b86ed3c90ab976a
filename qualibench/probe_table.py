"""The tests table: one row per probe with every field an analyst needs (delays in hours).

Definitions (the analytics' docstring states them for the report): a test is sent when it has
sent_at, or when its published address refused it (undeliverable: its clock starts at the
delivery attempt); the clock stops at the first human reply (answer or redirect) that arrived
within the window, else at the window's end (or at `as_of` while it is open).

Built column by column: a 500-brand campaign has 6,000 probes, and a dict per row with Python
datetimes cost more than every figure computed from the table. Timestamps are read as the
database gives them before any conversion (SQLite: the UTC text SQLAlchemy stores; PostgreSQL:
aware datetimes) and converted at once; delays are integer microseconds divided as
timedelta.total_seconds() divides them, so every value is the one a row-by-row reading gives.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import String, type_coerce
from sqlmodel import Session, select

from .hours import _microseconds, brand_calendar
from .models import Brand, DelayReview, Probe, Reply, ReplyKind, Scenario, Wave

HUMAN_KINDS = (ReplyKind.ANSWER.value, ReplyKind.REDIRECT.value)
TIMED = (DelayReview.NONE.value, DelayReview.KEPT.value)  # replies whose delay may be measured
_TEXT_CHUNK = 500  # reply ids per IN (...) when reading the first answers' texts
_NAT = np.iinfo(np.int64).min  # a missing time, as pandas holds it
_US_PER_HOUR = 3600.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# the columns a table of no sent test still has (NaN), after the others
_DELAY_COLUMNS = ("time_h", "business_time_h", "censor_h", "ack_delay_h", "delay_h", "business_delay_h",
                  "quality", "quality_all")


def _rows(session: Session, *columns, where, order_by=None) -> list:
    # Core rows of named columns, run on the session's connection: no ORM object nor the ORM's
    # per-row processing, and not the probes' bodies nor the replies' raw parts
    query = select(*columns).where(where)
    return session.connection().execute(query if order_by is None else query.order_by(order_by)).all()


def _raw(column):
    # the stored value itself: the UTC type's per-value conversion is done for the whole column below
    return type_coerce(column, String)


def _times(values) -> pd.DatetimeIndex:
    """Return stored timestamps (UTC text, aware datetimes or None) as one UTC index, microseconds."""
    return pd.DatetimeIndex(pd.to_datetime(list(values), utc=True, format="ISO8601")).as_unit("us")


def _hours(us: np.ndarray) -> np.ndarray:
    # timedelta.total_seconds() / 3600.0: integer microseconds / 10**6 (exact below 2**53), then / 3600
    return us.astype(np.float64) / 1e6 / _US_PER_HOUR


def _time_column(index: pd.DatetimeIndex, present: np.ndarray):
    # what a column of aware datetimes becomes in a DataFrame; None throughout when it holds none
    return index if present.any() else [None] * len(index)


def _effective(session: Session, campaign_id: int) -> dict[int, tuple[float, dict, str]]:
    # qualibench.scorer.effective alone: reading stored scores needs no rubric nor lemmatiser
    from .scorer.effective import effective_scores

    return {rid: (e.total, e.criteria, e.source) for rid, e in effective_scores(session, campaign_id).items()}


def load_tests(session: Session, campaign_id: int, *, as_of: datetime | None = None) -> pd.DataFrame:
    """Return one row per probe with every field an analyst needs (delays in hours)."""
    as_of = as_of or datetime.now(UTC)
    brands = {r.id: r for r in _rows(session, Brand.id, Brand.key, Brand.name, Brand.sector, Brand.country,
                                     Brand.timezone, Brand.opening_hours, where=Brand.campaign_id == campaign_id)}
    scens = {r.id: r for r in _rows(session, Scenario.id, Scenario.key, Scenario.title, Scenario.kind,
                                    Scenario.language, where=Scenario.campaign_id == campaign_id)}
    waves = {r.id: r for r in _rows(session, Wave.id, Wave.number, Wave.window_days,
                                    where=Wave.campaign_id == campaign_id)}
    probes = _rows(session, Probe.id, Probe.key, Probe.brand_id, Probe.scenario_id, Probe.wave_id, Probe.channel,
                   Probe.state, _raw(Probe.planned_at), _raw(Probe.dispatching_at), _raw(Probe.sent_at),
                   _raw(Probe.window_ends_at), where=Probe.campaign_id == campaign_id, order_by=Probe.id)
    if not probes:
        df = pd.DataFrame([])
        for col in _DELAY_COLUMNS:
            df[col] = math.nan
        return df
    n = len(probes)
    ids, keys, brand_ids, scen_ids, wave_ids, channels, states, *stamps = (list(c) for c in zip(*probes, strict=True))
    planned, dispatching, sent_at, window_ends = (_times(c) for c in stamps)
    at_of = {pid: i for i, pid in enumerate(ids)}
    ack, first, reply_ids = _first_replies(session, campaign_id, at_of, n)

    b_rows = [brands[b] for b in brand_ids]
    s_rows = [scens[s] for s in scen_ids]
    w_rows = [waves.get(w) for w in wave_ids]
    states_a = np.array(states, dtype=object)
    undeliverable = states_a == "undeliverable"
    # An address the brand publishes but that refuses mail at once is a test the brand
    # failed, not one we never ran: its clock starts when delivery was attempted.
    sent_us, disp_us, plan_us, ends_us = (t.asi8 for t in (sent_at, dispatching, planned, window_ends))
    attempt = np.where(disp_us != _NAT, disp_us, plan_us)
    start = np.where(sent_us != _NAT, sent_us, np.where(undeliverable, attempt, _NAT))
    sent = start != _NAT
    span = {}  # window length by wave, in microseconds (the wave's, else 14 days)
    for w in [*waves.values(), None]:
        days = w.window_days if w else 14
        span[w.id if w else None] = _microseconds(_EPOCH + pd.Timedelta(days=days))
    window_us = np.array([span[w.id if w else None] for w in w_rows], dtype=np.int64)
    end = np.where(ends_us != _NAT, ends_us, np.where(sent, start + window_us, _NAT))
    as_us = _microseconds(as_of)

    has_ack, has_first = ack.recv != _NAT, first.recv != _NAT
    stop = np.minimum(end, as_us)
    answered = sent & has_first & (first.recv <= stop)
    at = np.where(answered, first.recv, stop)
    nan = np.full(n, np.nan)
    time_h = np.where(sent, np.maximum(0.0, _hours(at - start)), np.nan)
    censor_h = np.where(sent, _hours(stop - start), np.nan)
    ack_delay_h = np.where(sent & has_ack, _hours(ack.recv - start), np.nan)
    business = nan.copy()
    # the one business-hours rule (qualibench.hours), as timing and `check` read it: per calendar at once
    scores = _effective(session, campaign_id)
    calendars = {bid: brand_calendar(b.timezone, b.opening_hours, b.country) for bid, b in brands.items()}
    timed: dict[int, tuple] = {}  # id(calendar) -> (calendar, positions of its sent tests)
    for i in np.flatnonzero(sent).tolist():
        cal = calendars[brand_ids[i]]
        timed.setdefault(id(cal), (cal, []))[1].append(i)
    for cal, pos in timed.values():
        business[pos] = cal.business_hours_us(start[pos], at[pos])
    first_ids = [None if r < 0 else r for r in first.id.tolist()]
    quality, quality_all = nan.copy(), np.where(sent, 0.0, np.nan)
    source: list = [None if s else math.nan for s in sent.tolist()]
    scored: list[tuple[int, dict]] = []
    for i in np.flatnonzero(answered).tolist():
        eff = scores.get(first_ids[i])
        quality_all[i] = quality[i] = eff[0] if eff else math.nan
        if eff:
            source[i] = eff[2]
            scored.append((i, eff[1]))
    crit: dict[str, np.ndarray] = {}
    at_scored = np.array([i for i, _ in scored], dtype=np.int64)
    for k in dict.fromkeys(k for _, c in scored for k in c):  # the criteria in order of appearance
        crit[f"crit_{k}"] = col = nan.copy()
        col[at_scored] = [float(c.get(k, math.nan)) for _, c in scored]
    texts = _first_answer_texts(session, first_ids)
    has_ack_l = has_ack.tolist()
    sent_l, answered_l = sent.tolist(), answered.tolist()
    cols = {
        "probe_id": ids, "probe_key": keys, "brand_key": [b.key for b in b_rows], "brand": [b.name for b in b_rows],
        "sector": [b.sector for b in b_rows], "country": [b.country for b in b_rows],
        "timezone": [b.timezone for b in b_rows], "channel": channels, "scenario": [s.key for s in s_rows],
        "scenario_title": [s.title for s in s_rows], "kind": [s.kind for s in s_rows],
        "language": [s.language for s in s_rows], "wave": [w.number if w else None for w in w_rows],
        "state": states, "sent": sent_l,
        "planned_at": _time_column(planned, plan_us != _NAT),
        "sent_at": _time_column(_index(start), sent), "window_ends_at": _time_column(_index(end), end != _NAT),
        "first_ack_at": _time_column(_index(ack.recv), has_ack),
        "first_answer_at": _time_column(_index(first.recv), has_first),
        "acknowledged": has_ack_l, "undeliverable": undeliverable.tolist(),
        "first_ack_reply_id": [None if r < 0 else r for r in ack.id.tolist()], "first_answer_reply_id": first_ids,
        "reply_ids": reply_ids,
        "match_method": first.method.tolist(), "match_confidence": first.confidence.tolist(),
        "deflected": (first.kind == ReplyKind.REDIRECT.value).tolist(),
        "answer_text": [texts.get(r, "") if r is not None else "" for r in first_ids],
        "answered": answered_l, "censored": [s and not a for s, a in zip(sent_l, answered_l, strict=True)],
        "still_open": (sent & ~answered & (as_us < end)).tolist(),
        "late_answer": (sent & has_first & ~answered).tolist(),
    }
    if sent.any():
        cols |= {"time_h": time_h, "business_time_h": business, "censor_h": censor_h, "ack_delay_h": ack_delay_h,
                 "delay_h": np.where(answered, time_h, np.nan), "business_delay_h": np.where(answered, business, np.nan),
                 "quality": quality, "score_source": source, "quality_all": quality_all, **crit}
    else:
        cols |= {c: nan.copy() for c in _DELAY_COLUMNS}
    return pd.DataFrame(cols)


class _Firsts:
    """Per probe: id (-1: none), arrival (microseconds, _NAT: none), kind and match of one chosen reply."""

    def __init__(self, n: int) -> None:
        self.id = np.full(n, -1, dtype=np.int64)
        self.recv = np.full(n, _NAT, dtype=np.int64)
        self.kind, self.method, self.confidence = (np.full(n, None, dtype=object) for _ in range(3))

    def take(self, at: np.ndarray, chosen: np.ndarray, cols: dict) -> None:
        # `chosen`: positions in the replies' order; each probe keeps the first one it has
        probes, first = np.unique(at[chosen], return_index=True)
        pick = chosen[first]
        self.id[probes], self.recv[probes] = cols["id"][pick], cols["recv"][pick]
        self.kind[probes], self.method[probes], self.confidence[probes] = (
            cols[c][pick] for c in ("kind", "method", "confidence"))


def _first_replies(session: Session, campaign_id: int, at_of: dict, n: int):
    """Return (first acknowledgement, first human reply, "id,id" of every timed reply) per probe.

    A reply whose date is impossible (before its request) waits for an analyst's decision: only
    timed replies count, each probe's in the order they arrived (equal times: by id).
    """
    rows = [r for r in _rows(session, Reply.id, Reply.probe_id, Reply.kind, _raw(Reply.received_at),
                             Reply.delay_review, Reply.match_method, Reply.match_confidence,
                             where=Reply.campaign_id == campaign_id, order_by=Reply.id)
            if r[3] is not None and r[4] in TIMED and r[1] in at_of]
    ack, first = _Firsts(n), _Firsts(n)
    ids: list[list[str]] = [[] for _ in range(n)]
    if rows:
        rid, probe, kind, stamp, _, method, confidence = zip(*rows, strict=True)
        cols = {"id": np.array(rid, dtype=np.int64), "recv": _times(stamp).asi8,
                "kind": np.array(kind, dtype=object), "method": np.array(method, dtype=object),
                "confidence": np.array(confidence, dtype=object)}
        at = np.array([at_of[p] for p in probe], dtype=np.int64)
        # by probe, then arrival, then id (the rows come by id: a stable sort keeps it)
        order = np.lexsort((cols["recv"], at))
        kinds = cols["kind"][order]
        ack.take(at, order[kinds == ReplyKind.AUTO_ACK.value], cols)
        first.take(at, order[np.isin(kinds, HUMAN_KINDS)], cols)
        for i, r in zip(at[order].tolist(), cols["id"][order].tolist(), strict=True):
            ids[i].append(str(r))
    return ack, first, [",".join(x) for x in ids]


def _index(us: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(us.view("M8[us]"), tz=UTC) if len(us) else pd.DatetimeIndex([], tz=UTC).as_unit("us")


def _first_answer_texts(session: Session, reply_ids: list) -> dict[int, str]:
    # Only the texts of first answers, read by id: the other replies' texts are never shown.
    ids = sorted({r for r in reply_ids if r is not None})
    texts: dict[int, str] = {}
    for i in range(0, len(ids), _TEXT_CHUNK):
        for rid, text in _rows(session, Reply.id, Reply.text, where=Reply.id.in_(ids[i:i + _TEXT_CHUNK])):
            texts[rid] = text or ""
    return texts
