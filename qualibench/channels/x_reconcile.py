"""What became of an X probe whose send was interrupted, read from the account's own posts.

A POST to X whose answer was lost (the connection cut after the request went out, a 5xx other
than 503, an answer that is not JSON) may or may not have posted; so may a send killed mid-call.
Posting again could make a duplicate that the brand sees, so the probe is left `dispatching` and
the next run asks X instead: the account's posts since the probe was claimed (GET
/2/users/:id/tweets with start_time) for a mention, its DM events (GET /2/dm_events) for a DM.
Found: the probe was sent, at X's created_at. Not found: X never took it, and it is sent again.
X unreachable: the question waits for the run after.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import select

from ..models import Brand, Persona, Probe
from .base import DispatchResult

if TYPE_CHECKING:
    import httpx

    from ..workspace import Workspace
    from .x import XChannel

MAX_PAGES = 10  # 1,000 posts or DM events back: far more than a send run makes
MARGIN = timedelta(minutes=10)  # clocks of X and of this machine differ by seconds, not this


def _same(a: str, b: str) -> bool:
    # X returns a post's text with &, < and > escaped as entities, and may trim spacing.
    norm = lambda t: " ".join(html.unescape(t or "").split())  # noqa: E731
    return norm(a) == norm(b)


def _x_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reconcile_probe(channel: XChannel, ws: Workspace, probe: Probe) -> DispatchResult:
    """Return "sent" (found on X), "retry" (not there) or "unknown" (X could not be asked)."""
    from .x import XUnavailable

    with ws.session() as s:
        brand = s.get(Brand, probe.brand_id)
        persona = s.get(Persona, probe.persona_id)
        # Posts and DMs already known as another probe's: two probes may say the same words.
        taken: set[str] = set()
        for other in s.exec(select(Probe).where(Probe.campaign_id == probe.campaign_id,
                                                Probe.channel == probe.channel,
                                                Probe.id != probe.id)):
            dispatch = other.dispatch or {}
            taken |= {str(v) for v in (other.external_id, dispatch.get("tweet_id"),
                                       dispatch.get("dm_event_id")) if v}
    contact = str(((brand.contacts if brand else None) or {}).get("x", "")).strip()
    mode, handle, text = channel._compose(ws, probe, contact)
    claimed = probe.dispatching_at or probe.claimed_at or ws.clock.now()
    if claimed.tzinfo is None:
        claimed = claimed.replace(tzinfo=UTC)
    since = claimed - MARGIN
    account = channel._accounts(ws, persona)[0]
    client = channel._send_client(account)
    try:
        me = channel._me.get(account.name, "")
        if not me:  # asked once per run and account
            me = str((channel._call(ws, client, "GET", "/2/users/me", "GET /2/users/me")[1]
                      .get("data") or {}).get("id", ""))
            if not me:
                raise XUnavailable("X did not say which account the token acts for", "")
            channel._me[account.name] = me
        if mode == "dm":
            found = _find_dm(channel, ws, client, me, handle, text, since, taken)
        else:
            found = _find_post(channel, ws, client, me, text, since, taken)
    except XUnavailable as exc:
        return DispatchResult(outcome="unknown", detail=f"could not look for it on X: "
                              f"{exc.message}; asked again on the next run")
    if found is None:
        return DispatchResult(outcome="retry", detail=f"not among the account's X {mode}s since "
                              "it was claimed: X never took it",
                              evidence={"reconciled": True})
    return found


def _pages(channel: XChannel, ws: Workspace, client: httpx.Client, path: str, endpoint: str,
           params: dict[str, Any]) -> Any:
    token = ""
    for _ in range(MAX_PAGES):
        query = {**params, **({"pagination_token": token} if token else {})}
        _, body = channel._call(ws, client, "GET", path, endpoint, params=query)
        items = body.get("data")
        yield from (i for i in items if isinstance(i, dict)) if isinstance(items, list) else ()
        token = str((body.get("meta") or {}).get("next_token") or "")
        if not token:
            return


def _created(item: dict) -> datetime | None:
    from .x import parse_x_time

    try:
        return parse_x_time(str(item.get("created_at", "")))
    except ValueError:
        return None


def _find_post(channel: XChannel, ws: Workspace, client: httpx.Client, me: str, text: str,
               since: datetime, taken: set[str]) -> DispatchResult | None:
    params = {"max_results": 100, "start_time": _x_time(since),
              "tweet.fields": "id,text,created_at,conversation_id"}
    for tweet in _pages(channel, ws, client, f"/2/users/{me}/tweets",
                        "GET /2/users/:id/tweets", params):
        if (_same(str(tweet.get("text", "")), text) and tweet.get("id")
                and str(tweet["id"]) not in taken):
            tid = str(tweet["id"])
            return DispatchResult(outcome="sent", sent_at=_created(tweet) or ws.clock.now(),
                                  external_id=tid, detail=f"tweet {tid} found among the "
                                  "account's posts after an interruption",
                                  evidence={"tweet_id": tid, "reconciled": True,
                                            "conversation_id": str(tweet.get("conversation_id")
                                                                   or tid),
                                            "sent_at_source": "X created_at"})
    return None


def _find_dm(channel: XChannel, ws: Workspace, client: httpx.Client, me: str, handle: str,
             text: str, since: datetime, taken: set[str]) -> DispatchResult | None:
    participant = handle if handle.isdigit() else ""
    if not participant:
        _, found = channel._call(ws, client, "GET", f"/2/users/by/username/{handle.lstrip('@')}",
                                 "GET /2/users/by/username")
        participant = str((found.get("data") or {}).get("id", ""))
    params = {"max_results": 100, "event_types": "MessageCreate",
              "dm_event.fields": "id,text,event_type,sender_id,dm_conversation_id,created_at"}
    for event in _pages(channel, ws, client, "/2/dm_events", "GET /2/dm_events", params):
        created = _created(event)
        if created is not None and created < since:
            return None  # newest first: everything further is older than the claim
        conv = str(event.get("dm_conversation_id", ""))
        if (str(event.get("sender_id", "")) == me and _same(str(event.get("text", "")), text)
                and (not participant or participant in conv.split("-"))
                and str(event.get("id", "")) not in taken):
            return DispatchResult(outcome="sent", sent_at=created or ws.clock.now(),
                                  external_id=f"dm:{conv}", detail=f"DM {event.get('id', '')} "
                                  "found among the account's DMs after an interruption",
                                  evidence={"dm_conversation_id": conv, "reconciled": True,
                                            "participant_id": participant,
                                            "dm_event_id": str(event.get("id", "")),
                                            "sent_at_source": "X created_at"})
    return None
