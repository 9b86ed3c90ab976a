"""The `x` channel: a public mention or a DM through the X API v2, and the brands' replies.

Calls carry a user-context OAuth 2.0 bearer token read from the account's `token_env`; it never
appears in evidence, logs or errors. Rate limits are read from the x-rate-limit-* headers: when
a window is spent we wait for its reset on the workspace clock instead of calling again; 5xx and
network errors are retried with an exponential backoff.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from sqlmodel import col, select

from ..errors import QualibenchError, RemoteFailure
from ..evidence_group import keep_evidence
from ..models import InboundMessage, Probe, ProbeState, Scenario
from .base import CollectedItem, DispatchResult
from .reuse import current_park
from .sitelimits import BoundedTransport, SiteLimits, SiteRefused

if TYPE_CHECKING:
    from ..campaign.spec import AccountSpec
    from ..models import Brand, Persona
    from ..workspace import Workspace

DEFAULT_API_BASE = "https://api.x.com"
MAX_TEXT = 280
# Per-call prices in USD used by `send --dry-run`; X bills posts and DMs per call and changes
# its prices, so a campaign sets its own under [x.prices] in campaign.toml.
DEFAULT_PRICES = {"post": 0.01, "dm": 0.01, "read": 0.005}
TWEET_FIELDS = "id,text,author_id,created_at,conversation_id,in_reply_to_user_id,referenced_tweets"
DM_FIELDS = "id,text,event_type,sender_id,dm_conversation_id,created_at"
_DM_REFUSED_WORDS = ("cannot send", "not permitted", "not allowed", "does not accept",
                     "not following", "verified", "message requests")
# Bounds on what one answer of the API may cost us: its text is written by brands and relayed by
# a server we do not run. A page of 100 DMs of 10,000 characters is about 1 MB; a JSON body
# can take ~20 times its size as Python objects, so 5 MB keeps one page near 100 MB at worst.
MAX_ANSWER_BYTES = 5_000_000
PAGE_ITEMS = 100  # what we ask for (max_results); more in one page is not X's doing
MAX_ITEM_BYTES = 256_000  # one post or DM as stored raw (25,000 characters of 4 bytes, with fields)
MAX_PASS_BYTES = 64_000_000  # raw items kept in memory by one collect pass of one account
MAX_TOKEN_CHARS = 256  # a pagination token


class XUnavailable(RemoteFailure):
    """X kept failing (5xx, network, malformed answers) after every retry."""


class XOutcomeUnknown(XUnavailable):
    """A POST reached X but its answer could not be read: X may or may not have acted on it."""


# Transport errors raised before a byte of the request could reach X: safe to send again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class _Refused(Exception):
    """An answer we will not read (too large, too deep, too slow): no retry gives another."""


@dataclass
class CostEstimate:
    """What sending some probes on X would cost, by kind of call."""

    posts: int
    dms: int
    prices: dict[str, float]
    currency: str = "USD"

    @property
    def total(self) -> float:
        return round(self.posts * self.prices["post"] + self.dms * self.prices["dm"], 4)

    def as_dict(self) -> dict[str, Any]:
        return {"posts": self.posts, "dms": self.dms, "prices": self.prices,
                "currency": self.currency, "total": self.total}


def parse_x_time(value: str) -> datetime:
    """Return X's created_at ("2026-03-02T09:00:00.000Z") as an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def x_mode(probe: Probe, scenario_spec: dict | None = None, contact: str = "") -> str:
    """Return "dm" or "mention": the probe's fill, then the scenario's `x_mode`, then the contact."""
    for source in ((probe.fills or {}).get("x_mode"), (scenario_spec or {}).get("x_mode")):
        if source in ("dm", "mention"):
            return str(source)
    return "dm" if contact.lower().startswith("dm:") else "mention"


def _handle(contact: str) -> str:
    contact = contact.strip()
    if contact.lower().startswith("dm:"):
        contact = contact[3:]
    return contact if contact.startswith("@") or contact.isdigit() else f"@{contact}"


class XChannel:
    """Send probes as X posts or DMs and collect the brands' answers."""

    name = "x"
    automated = True

    def __init__(self, account: AccountSpec | None = None, *, prices: dict[str, float] | None = None,
                 max_retries: int = 5, backoff: float = 2.0, timeout: float = 30.0,
                 deadline: float = 120.0, transport: httpx.BaseTransport | None = None) -> None:
        self.account = account
        self.prices = prices
        self.max_retries = max_retries
        self.backoff = backoff
        self.timeout = timeout  # connect, and each read
        self.deadline = deadline  # a whole answer, however slowly it trickles in
        self.transport = transport
        self._reset_at: dict[str, float] = {}  # endpoint -> epoch seconds when its window reopens
        self.warnings: list[str] = []  # what the last collect left aside, one line each
        self._clients: dict[str, tuple[AccountSpec, httpx.Client]] = {}  # the run's clients
        self._me: dict[str, str] = {}  # account name -> the X user id its token acts for
        self._scenarios: dict[int | None, dict] = {}  # scenario id -> spec, for this run

    # -- configuration -------------------------------------------------------------------

    def _accounts(self, ws: Workspace, persona: Persona | None = None) -> list[AccountSpec]:
        if self.account is not None:
            return [self.account]
        accounts = ws.spec().config.accounts
        with_token = [a for a in accounts.values() if a.token_env]
        if persona is not None and persona.account in accounts and accounts[persona.account].token_env:
            return [accounts[persona.account]]
        preferred = [a for a in with_token if a.name == "x"]
        if preferred or with_token:
            return preferred or with_token
        raise QualibenchError("no account with an X token is configured",
                              "add token_env = \"X_TOKEN\" to an [accounts.x] entry of campaign.toml")

    def _prices(self, ws: Workspace | None) -> dict[str, float]:
        if self.prices is not None:
            return {**DEFAULT_PRICES, **self.prices}
        configured: dict[str, float] = {}
        if ws is not None:
            try:
                configured = dict(ws.spec().config.raw.get("x", {}).get("prices", {}))
            except QualibenchError:
                configured = {}
        return {**DEFAULT_PRICES, **{k: float(v) for k, v in configured.items()}}

    def estimate_cost(self, probes: Iterable[Probe], ws: Workspace | None = None) -> CostEstimate:
        """Return the cost of sending `probes` (only those on this channel are counted)."""
        posts = dms = 0
        for p in probes:
            if p.channel != self.name:
                continue
            if x_mode(p) == "dm":
                dms += 1
            else:
                posts += 1
        return CostEstimate(posts=posts, dms=dms, prices=self._prices(ws))

    def estimate_campaign_cost(self, ws: Workspace) -> CostEstimate:
        """Return the cost of the X probes still to send (planned), using each scenario's mode."""
        with ws.session() as s:
            rows = s.exec(select(Probe, Scenario).join(Scenario, Scenario.id == Probe.scenario_id)  # type: ignore[arg-type]
                          .where(Probe.channel == self.name, Probe.state == ProbeState.PLANNED.value))
            posts = dms = 0
            for probe, scenario in rows:
                if x_mode(probe, scenario.spec) == "dm":
                    dms += 1
                else:
                    posts += 1
        return CostEstimate(posts=posts, dms=dms, prices=self._prices(ws))

    def _client(self, account: AccountSpec) -> httpx.Client:
        token = account.token()
        if not token:
            raise QualibenchError(f"account {account.name!r} has no X token reference",
                                  f"set token_env in [accounts.{account.name}] and export that variable")
        # One TLS context for the process and a total deadline and size cap per call: the
        # API's answers are third-party input too.
        # (a margin over the checks of _bounded_request, which say more precisely what broke)
        limits = SiteLimits(connect_seconds=self.timeout, read_seconds=self.timeout,
                            request_seconds=self.deadline + 5, max_page_bytes=2 * MAX_ANSWER_BYTES)
        return httpx.Client(base_url=(account.api_base or DEFAULT_API_BASE).rstrip("/"),
                            headers={"Authorization": f"Bearer {token}",
                                     "Accept-Encoding": "identity"},
                            timeout=self.timeout, trust_env=False,
                            transport=self.transport or BoundedTransport(limits))

    def _send_client(self, account: AccountSpec) -> httpx.Client:
        """Return the account's client for this run (pooled connections), opened once."""
        if account.name not in self._clients:
            park = current_park() if self.transport is None else None
            parked = park.take(self._park_key(account)) if park is not None else None
            self._clients[account.name] = (account, parked[0] if parked is not None
                                           else self._client(account))
        return self._clients[account.name][1]

    @staticmethod
    def _park_key(account: AccountSpec) -> tuple:
        return ("x", account.name, account.api_base or DEFAULT_API_BASE, account.token_env)

    def close(self) -> None:
        """Close the run's connections to the API (or park them for the next run)."""
        park = current_park() if self.transport is None else None
        for account, client in self._clients.values():
            if park is not None:
                park.park(self._park_key(account), client, httpx.Client.close)
            else:
                client.close()
        self._clients.clear()

    # -- HTTP with rate limits and retries -------------------------------------------------

    def _call(self, ws: Workspace, client: httpx.Client, method: str, path: str, endpoint: str,
              **kwargs: Any) -> tuple[int, dict]:
        """Return (status, JSON body) of one API call, waiting out rate limits and retrying 5xx.

        A POST is retried only when X cannot have acted on it (no connection, 429, 503);
        when it may have (the connection lost after the request went out, another 5xx, an
        answer we cannot read) XOutcomeUnknown is raised instead: a second post could be a
        duplicate, so the probe's fate is settled by `reconcile` (the account's own posts).
        """
        problem = ""
        post = method == "POST"

        def unknown(why: str) -> XOutcomeUnknown:
            return XOutcomeUnknown(f"X {method} {endpoint}: {why}; X may have acted on it",
                                   "nothing is sent again: the next `qualibench send` looks "
                                   "for it among the account's posts")

        for attempt in range(self.max_retries + 1):
            reset = self._reset_at.get(endpoint)
            if reset is not None:
                wait = reset - ws.clock.now().timestamp()
                if wait > 0:
                    ws.clock.sleep(wait + 1)
                self._reset_at.pop(endpoint, None)
            try:
                resp, content = self._bounded_request(client, method, path, **kwargs)
            except httpx.TransportError as exc:
                problem = f"network error ({type(exc).__name__})"
                if post and not isinstance(exc, _NOT_SENT):
                    raise unknown(f"the connection failed after the request ({problem})") from None
                ws.clock.sleep(min(self.backoff * 2 ** attempt, 300))
                continue
            except (_Refused, SiteRefused) as exc:
                if post:
                    raise unknown(f"the answer was not read ({exc})") from None
                raise XUnavailable(f"X {method} {endpoint}: {exc}",
                                   "nothing of that answer was kept; the next pass asks again") from None
            remaining = resp.headers.get("x-rate-limit-remaining")
            reset_header = resp.headers.get("x-rate-limit-reset")
            if remaining == "0" and reset_header and reset_header.isdigit():
                self._reset_at[endpoint] = float(reset_header)
            if resp.status_code == 429:
                problem = "rate limited (HTTP 429)"
                if endpoint not in self._reset_at:
                    ws.clock.sleep(min(60 * 2 ** attempt, 900))
                continue
            if resp.status_code >= 500:
                problem = f"HTTP {resp.status_code}"
                if post and resp.status_code != 503:  # 503: overloaded, the request not taken
                    raise unknown(f"X answered {problem}")
                ws.clock.sleep(min(self.backoff * 2 ** attempt, 300))
                continue
            try:
                body = json.loads(content)
            except (ValueError, RecursionError) as exc:
                if post and resp.status_code < 300:
                    raise unknown(f"its answer (HTTP {resp.status_code}) is not readable "
                                  "JSON") from None
                if post:
                    body = {}  # a refusal we cannot read the words of: still a refusal
                elif isinstance(exc, RecursionError):
                    raise XUnavailable(f"X {method} {endpoint}: the JSON answer is nested too "
                                       "deeply to read", "nothing of that answer was kept; the "
                                       "next pass asks again") from None
                else:
                    problem = f"malformed JSON (HTTP {resp.status_code})"
                    ws.clock.sleep(min(self.backoff * 2 ** attempt, 300))
                    continue
            if resp.status_code == 401:
                raise RemoteFailure("X refused the account's token (HTTP 401)",
                                    "create a new user-context OAuth 2.0 token and export it again")
            return resp.status_code, body if isinstance(body, dict) else {"data": body}
        raise XUnavailable(f"X {method} {endpoint} failed {self.max_retries + 1} times: {problem}",
                           "X may be down or rate limiting this account; rerun later, nothing was lost")

    def _bounded_request(self, client: httpx.Client, method: str, path: str,
                         **kwargs: Any) -> tuple[httpx.Response, bytes]:
        """Return the response and its body, read (decompressed) up to MAX_ANSWER_BYTES and
        within `deadline` seconds; raise _Refused past either."""
        ends = time.monotonic() + self.deadline
        with client.stream(method, path, **kwargs) as resp:
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                raise _Refused(f"the answer declares {int(declared):,} bytes, more than the "
                               f"{MAX_ANSWER_BYTES:,} read")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise _Refused(f"the answer is larger than the {MAX_ANSWER_BYTES:,} bytes read")
                if time.monotonic() > ends:
                    raise _Refused(f"the answer took more than {self.deadline:g} s to arrive")
                chunks.append(chunk)
        return resp, b"".join(chunks)

    # -- send ----------------------------------------------------------------------------

    def send(self, ws: Workspace, probe: Probe, brand: Brand, persona: Persona) -> DispatchResult:
        """Post the probe's short text as a mention, or send it as a DM; return the dispatch record."""
        contact = str((brand.contacts or {}).get("x", "")).strip()
        if not contact:
            return DispatchResult(outcome="failed", detail=f"brand {brand.key} has no X account "
                                  "(column x in the brands file)")
        mode, handle, text = self._compose(ws, probe, contact)
        if not text or len(text) > MAX_TEXT:
            return DispatchResult(outcome="failed", detail=f"the X text has {len(text)} characters; "
                                  f"it must have 1 to {MAX_TEXT} (the scenario's short variant)")
        account = self._accounts(ws, persona)[0]
        client = self._send_client(account)
        try:
            if mode == "dm":
                result, request, answer = self._send_dm(ws, client, handle, text)
            else:
                request = {"method": "POST", "path": "/2/tweets", "json": {"text": text}}
                status, answer = self._call(ws, client, "POST", "/2/tweets", "POST /2/tweets",
                                            json={"text": text})
                result = self._mention_result(ws, status, answer)
        except XOutcomeUnknown as exc:
            return DispatchResult(outcome="unknown", detail=exc.message,
                                  evidence={"channel": "x", "mode": mode, "handle": handle,
                                            "text": text})
        except XUnavailable as exc:
            return DispatchResult(outcome="retry", detail=exc.message, retry_after=900.0)
        exchange = {"channel": "x", "mode": mode, "account": account.name, "request": request,
                    "response": answer, "outcome": result.outcome}
        result.evidence_sha256 = keep_evidence(
            ws, json.dumps(exchange, sort_keys=True, ensure_ascii=False).encode(),
            "application/json")
        result.evidence = {"channel": "x", "mode": mode, "handle": handle, "text": text,
                           "evidence": result.evidence_sha256, **result.evidence}
        return result

    def _compose(self, ws: Workspace, probe: Probe, contact: str) -> tuple[str, str, str]:
        """Return (mode, handle, text) of the probe's post or DM, as `send` writes it."""
        if probe.scenario_id not in self._scenarios:  # read once per run: they do not change
            with ws.session() as s:
                scenario = s.get(Scenario, probe.scenario_id)
                self._scenarios[probe.scenario_id] = (dict(scenario.spec) if scenario is not None
                                                      else {})
        spec = self._scenarios[probe.scenario_id]
        mode = x_mode(probe, spec, contact)
        handle = _handle(contact)
        text = (probe.short_text or "").strip()
        if mode == "mention" and not handle.isdigit() and handle.lower() not in text.lower():
            text = f"{handle} {text}"
        return mode, handle, text

    def reconcile(self, ws: Workspace, probe: Probe) -> DispatchResult:
        """Say what became of a probe left in `dispatching` (killed mid-call, or an answer
        that could not be read): "sent" when the account's recent posts (or DMs) hold its
        text, "retry" when they do not (X never took it), "unknown" while X cannot be asked."""
        from .x_reconcile import reconcile_probe

        return reconcile_probe(self, ws, probe)

    def _mention_result(self, ws: Workspace, status: int, answer: dict) -> DispatchResult:
        if status in (200, 201) and answer.get("data", {}).get("id"):
            tweet_id = str(answer["data"]["id"])
            return DispatchResult(outcome="sent", sent_at=ws.clock.now(), external_id=tweet_id,
                                  detail=f"tweet {tweet_id}",
                                  evidence={"tweet_id": tweet_id, "conversation_id": tweet_id})
        return DispatchResult(outcome="failed", detail=f"X refused the post (HTTP {status}): "
                              f"{_api_words(answer)}")

    def _send_dm(self, ws: Workspace, client: httpx.Client, handle: str,
                 text: str) -> tuple[DispatchResult, dict, dict]:
        if handle.isdigit():
            participant = handle
        else:
            path = f"/2/users/by/username/{handle.lstrip('@')}"
            status, found = self._call(ws, client, "GET", path, "GET /2/users/by/username")
            participant = str(found.get("data", {}).get("id", ""))
            if not participant:
                return (DispatchResult(outcome="undeliverable",
                                       detail=f"X has no account {handle}: {_api_words(found)}"),
                        {"method": "GET", "path": path}, found)
        path = f"/2/dm_conversations/with/{participant}/messages"
        request = {"method": "POST", "path": path, "json": {"text": text}}
        status, answer = self._call(ws, client, "POST", path, "POST /2/dm_conversations/with/:id/messages",
                                    json={"text": text})
        data = answer.get("data", {})
        if status in (200, 201) and data.get("dm_conversation_id"):
            conv = str(data["dm_conversation_id"])
            return (DispatchResult(outcome="sent", sent_at=ws.clock.now(), external_id=f"dm:{conv}",
                                   detail=f"DM {data.get('dm_event_id', '')}",
                                   evidence={"dm_conversation_id": conv, "participant_id": participant,
                                             "dm_event_id": str(data.get("dm_event_id", ""))}),
                    request, answer)
        words = _api_words(answer)
        if status == 403 and any(w in words.lower() for w in _DM_REFUSED_WORDS):
            return DispatchResult(outcome="undeliverable", detail=f"the brand does not accept DMs: {words}"), request, answer
        if status == 403:
            raise RemoteFailure(f"X forbade sending a DM (HTTP 403: {words})",
                                "the token needs the dm.write and dm.read scopes; create it again with them")
        return DispatchResult(outcome="failed", detail=f"X refused the DM (HTTP {status}): {words}"), request, answer

    # -- collect -------------------------------------------------------------------------

    def collect(self, ws: Workspace) -> Iterable[CollectedItem]:
        """Yield DMs received, replies in our mentions' conversations and mentions of us."""
        items: list[CollectedItem] = []
        self.warnings = []
        for account in self._accounts(ws):
            with self._client(account) as client:
                items.extend(self._collect_account(ws, client, account.name))
        return items

    def _newest_stored(self, ws: Workspace, source: str) -> int | None:
        """Return the newest X id already stored from `source`: where the next pass resumes.

        Read from the stored items themselves, so a pass that crashed before storing what it
        fetched resumes from what is really kept.
        """
        with ws.session() as s:
            # The campaigns of this database with X probes (as _open_conversations reads them).
            campaigns = select(Probe.campaign_id).where(Probe.channel == self.name).distinct()
            refs = s.exec(select(InboundMessage.source_ref).where(
                col(InboundMessage.campaign_id).in_(campaigns), InboundMessage.source == source))
            ids = [int(tail) for ref in refs if (tail := ref.partition(":")[2]).isdigit()]
        return max(ids) if ids else None

    def _pages(self, ws: Workspace, client: httpx.Client, path: str, endpoint: str,
               params: dict[str, Any], token_param: str,
               stop_at: int | None = None) -> Iterator[dict]:
        """Yield the items of every page; with `stop_at` (an endpoint without since_id, newest
        first), stop after the page that reaches an id already stored."""
        token: str | None = None
        for _ in range(1000):  # a bound, not a target: stops a server that never ends its pages
            query = dict(params)
            if token:
                query[token_param] = token
            _status, body = self._call(ws, client, "GET", path, endpoint, params=query)
            data = body.get("data") or []
            if not isinstance(data, list):
                self.warnings.append(f"X {endpoint}: 'data' is a {type(data).__name__}, not a "
                                     "list; that page was skipped")
                data = []
            if len(data) > PAGE_ITEMS:
                self.warnings.append(f"X {endpoint}: a page of {len(data):,} items (asked for "
                                     f"{PAGE_ITEMS}); only the first {PAGE_ITEMS} were read")
            yield from data[:PAGE_ITEMS]
            if stop_at is not None and any(
                    _scalar(i.get("id")).isdigit() and int(_scalar(i.get("id"))) <= stop_at
                    for i in data[:PAGE_ITEMS] if isinstance(i, dict)):
                return
            token = _dict(body.get("meta")).get("next_token")
            if not token:
                return
            if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
                self.warnings.append(f"X {endpoint}: an unusable next_token; paging stopped there")
                return

    def _collect_account(self, ws: Workspace, client: httpx.Client,
                         account: str = "x") -> list[CollectedItem]:
        _s, me_body = self._call(ws, client, "GET", "/2/users/me", "GET /2/users/me")
        me = _scalar(_dict(me_body.get("data")).get("id"))
        seen: set[str] = set()
        out: list[CollectedItem] = []
        kept_bytes = 0

        def keep(item: Any, source: str, prefix: str, author_key: str) -> None:
            nonlocal kept_bytes
            if not isinstance(item, dict):
                self.warnings.append(f"X {source}: an item that is a {type(item).__name__}, not "
                                     "an object, was skipped")
                return
            ident = f"{prefix}:{_scalar(item.get('id'))}"
            if ident in seen or (me and _scalar(item.get(author_key)) == me) \
                    or not item.get("created_at"):
                return
            seen.add(ident)
            try:
                raw = json.dumps(item, sort_keys=True, ensure_ascii=False).encode()
            except UnicodeEncodeError:  # a lone surrogate ("\ud800") sent by the API: escaped
                raw = json.dumps(item, sort_keys=True).encode()
            if len(raw) > MAX_ITEM_BYTES:
                self.warnings.append(f"X {source}: item {ident} has {len(raw):,} bytes, more than "
                                     f"the {MAX_ITEM_BYTES:,} a post or DM can have; skipped")
                return
            kept_bytes += len(raw)
            # A created_at that is not X's time stays unread here: the item is stored raw and
            # set aside as unparseable when processed, never timed with a made-up date.
            try:
                received_at = parse_x_time(item["created_at"])
            except (TypeError, ValueError, AttributeError):
                received_at = None
            out.append(CollectedItem(raw=raw, media_type="application/json", source=source,
                                     source_ref=ident, received_at=received_at))

        def read(endpoint: str, pages: Iterator[dict], source: str, prefix: str,
                 author_key: str) -> None:
            # One endpoint answering nonsense must not cost the others their items.
            try:
                for item in pages:
                    if kept_bytes > MAX_PASS_BYTES:
                        self.warnings.append(f"X {endpoint}: more than {MAX_PASS_BYTES:,} bytes "
                                             "in one pass; the rest waits for the next pass")
                        return
                    keep(item, source, prefix, author_key)
            except XUnavailable as exc:
                self.warnings.append(exc.message)

        # Each endpoint resumes after the newest item stored from it (since_id; the DM list,
        # which has no since_id, stops paging once it reaches a stored event).
        sources = {name: f"x:{account}/{name}" for name in ("dm_events", "conversation", "mentions")}
        newest = {name: self._newest_stored(ws, source) for name, source in sources.items()}

        def since(name: str) -> dict[str, str]:
            return {"since_id": str(newest[name])} if newest[name] else {}

        read("GET /2/dm_events",
             self._pages(ws, client, "/2/dm_events", "GET /2/dm_events",
                         {"dm_event.fields": DM_FIELDS, "event_types": "MessageCreate",
                          "max_results": PAGE_ITEMS}, "pagination_token",
                         stop_at=newest["dm_events"]),
             sources["dm_events"], "dm", "sender_id")
        for query in conversation_queries(self._open_conversations(ws)):
            read("GET /2/tweets/search/recent",
                 self._pages(ws, client, "/2/tweets/search/recent", "GET /2/tweets/search/recent",
                             {"query": query, "tweet.fields": TWEET_FIELDS,
                              "max_results": PAGE_ITEMS, **since("conversation")}, "next_token"),
                 sources["conversation"], "tweet", "author_id")
        if me.isdigit():
            read("GET /2/users/:id/mentions",
                 self._pages(ws, client, f"/2/users/{me}/mentions", "GET /2/users/:id/mentions",
                             {"tweet.fields": TWEET_FIELDS, "max_results": PAGE_ITEMS,
                              **since("mentions")}, "pagination_token"),
                 sources["mentions"], "tweet", "author_id")
        return out

    def _open_conversations(self, ws: Workspace) -> list[str]:
        """Return the conversation ids of our mentions still waiting for (more) replies."""
        waiting = (ProbeState.SENT.value, ProbeState.ANSWERED.value, ProbeState.UNANSWERED.value)
        with ws.session() as s:
            rows = s.exec(select(Probe.external_id, Probe.window_ends_at).where(
                Probe.channel == self.name, col(Probe.state).in_(waiting),
                col(Probe.external_id).is_not(None)))
            now = ws.clock.now()
            return [str(ext) for ext, ends in rows
                    if ext and not str(ext).startswith("dm:") and (ends is None or ends >= now)]


def conversation_queries(conversations: list[str], limit: int = 512) -> list[str]:
    """Return search queries OR-ing as many conversations as fit in X's query length limit."""
    queries: list[str] = []
    current = ""
    for conv in conversations:
        term = f"conversation_id:{conv}"
        candidate = f"{current} OR {term}" if current else term
        if len(candidate) > limit and current:
            queries.append(current)
            candidate = term
        current = candidate
    if current:
        queries.append(current)
    return queries


def _dict(value: Any) -> dict:
    """Return `value` if the API gave an object there, else an empty one (wrong types are read as absent)."""
    return value if isinstance(value, dict) else {}


def _scalar(value: Any, limit: int = 64) -> str:
    """Return an id-like field as text: a string or an integer, cut to `limit`; anything else is ''."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return str(value)[:limit]


def _api_words(body: dict) -> str:
    """Return X's own explanation from an error body (detail, title or errors[].message), bounded."""
    if body.get("detail"):
        return str(body["detail"])[:500]
    errors = body.get("errors") or []
    if isinstance(errors, list) and errors:
        return "; ".join(str(_dict(e).get("detail") or _dict(e).get("message")
                             or _dict(e).get("title")) for e in errors[:5])[:500]
    return str(body.get("title", "no explanation given"))[:500]
