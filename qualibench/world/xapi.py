"""A local fake of the X API v2 speaking real HTTP on loopback, for the tests and the demo world.

It covers what the `x` channel uses: posting a tweet, sending a DM, listing DM events, searching a
conversation and the mentions timeline, with x-rate-limit-* headers, pagination tokens, 429 with a
reset time, 503s and malformed JSON on demand. Simulated brands answer through `reply_to_tweet`
and `send_dm`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DM_CLOSED_DETAIL = "You cannot send messages to this user."


def x_time(at: datetime) -> str:
    """Return `at` in X's created_at format (UTC, milliseconds, Z)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class _Limit:
    limit: int = 50
    window: int = 900
    used: int = 0
    reset: int = 0


@dataclass
class FakeXApi:
    """The fake X API; start it with `with FakeXApi() as api:` and point api_base at `base_url`."""

    host: str = "127.0.0.1"
    port: int = 0
    clock: Any = None
    page_size: int = 20
    me: str = ""  # the user id the token acts for
    tokens: set[str] = field(default_factory=set)  # empty: any bearer token is accepted
    users: dict[str, str] = field(default_factory=dict)  # id -> username
    closed_dms: set[str] = field(default_factory=set)  # users that do not accept DMs
    tweets: list[dict] = field(default_factory=list)
    dm_events: list[dict] = field(default_factory=list)
    limits: dict[str, _Limit] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    # endpoint ("GET /2/dm_events") -> bytes served with 200 instead of its route: the hostile
    # answers (huge, deeply nested, wrong types) the `x` channel must survive
    raw_answers: dict[str, bytes] = field(default_factory=dict)
    _faults: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1_890_000_000_000_000_000)
        self._lock = threading.RLock()
        api = self

        class Handler(_XHandler):
            pass

        Handler.api = api
        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True

    # -- control -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeXApi:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-x", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeXApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    def add_user(self, user_id: str, username: str, *, accepts_dms: bool = True) -> None:
        self.users[user_id] = username
        if not accepts_dms:
            self.closed_dms.add(user_id)

    def set_limit(self, endpoint: str, limit: int, window: int = 900) -> None:
        """Allow `limit` calls per `window` seconds on `endpoint` ("POST /2/tweets", "GET /2/dm_events"...)."""
        self.limits[endpoint] = _Limit(limit=limit, window=window)

    def fail_next(self, *faults: str) -> None:
        """Queue faults for the next requests: "503", "429", "malformed" (bad JSON with 200,
        nothing done), "garbled" (the request is carried out, then its answer is cut short:
        a post made whose answer the client cannot read), "pass" (no fault for that request)."""
        with self._lock:
            self._faults.extend(faults)

    def next_id(self) -> str:
        return str(next(self._ids))

    def reply_to_tweet(self, tweet_id: str, author_id: str, text: str, at: datetime | None = None) -> dict:
        """Post a reply by `author_id` under `tweet_id` (a simulated brand answering)."""
        parent = next(t for t in self.tweets if t["id"] == tweet_id)
        return self._add_tweet(author_id, text, at, parent)

    def send_dm(self, sender_id: str, to_id: str, text: str, at: datetime | None = None) -> dict:
        """Add a DM from `sender_id` to `to_id` (a simulated brand answering)."""
        return self._add_dm(sender_id, to_id, text, at)

    # -- state ---------------------------------------------------------------------------

    def _add_tweet(self, author_id: str, text: str, at: datetime | None, parent: dict | None) -> dict:
        tid = self.next_id()
        tweet = {"id": tid, "text": text, "author_id": author_id,
                 "created_at": x_time(at or self.now()),
                 "conversation_id": parent["conversation_id"] if parent else tid}
        if parent:
            tweet["in_reply_to_user_id"] = parent["author_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": parent["id"]}]
        with self._lock:
            self.tweets.append(tweet)
        return tweet

    def _add_dm(self, sender_id: str, to_id: str, text: str, at: datetime | None) -> dict:
        a, b = sorted([sender_id, to_id], key=int)
        event = {"id": self.next_id(), "event_type": "MessageCreate", "text": text,
                 "sender_id": sender_id, "dm_conversation_id": f"{a}-{b}",
                 "created_at": x_time(at or self.now()), "participant_ids": [a, b]}
        with self._lock:
            self.dm_events.append(event)
        return event

    def mentions_of(self, user_id: str) -> list[dict]:
        name = self.users.get(user_id, "")
        return [t for t in self.tweets if name and re.search(rf"@{re.escape(name)}\b", t["text"], re.I)
                and t["author_id"] != user_id]


class _XHandler(BaseHTTPRequestHandler):
    api: FakeXApi
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answer at once (see world/site.py's handler)

    def log_message(self, format: str, *args: object) -> None:
        return

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None,
               raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _limit_headers(self, key: str) -> tuple[dict[str, str], bool]:
        api = self.api
        lim = api.limits.setdefault(key, _Limit())
        now = int(api.now().timestamp())
        if now >= lim.reset:
            lim.used, lim.reset = 0, now + lim.window
        over = lim.used >= lim.limit
        if not over:
            lim.used += 1
        headers = {"x-rate-limit-limit": str(lim.limit),
                   "x-rate-limit-remaining": str(max(0, lim.limit - lim.used)),
                   "x-rate-limit-reset": str(lim.reset)}
        return headers, over

    def _handle(self, method: str) -> None:
        api = self.api
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        key = f"{method} " + re.sub(r"(?<=/)\d{3,}(?=/|$)", ":id", path)
        auth = self.headers.get("Authorization", "")
        with api._lock:
            api.calls.append((method, self.path))
            api.auth_headers.append(auth)
            fault = api._faults.pop(0) if api._faults else None
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else b""
        if not auth.startswith("Bearer ") or (api.tokens and auth[7:] not in api.tokens):
            self._reply(401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                              "detail": "Unauthorized"})
            return
        headers, over = self._limit_headers(key)
        if fault == "503":
            self._reply(503, {"title": "Service Unavailable", "detail": "Service Unavailable"}, headers)
            return
        if fault == "429" or over:
            if fault == "429":
                headers["x-rate-limit-remaining"] = "0"
            self._reply(429, {"title": "Too Many Requests", "detail": "Too Many Requests",
                              "type": "about:blank", "status": 429}, headers)
            return
        if fault == "malformed":
            self._reply(200, None, headers, raw=b'{"data": [{"id": "12", "text": ')
            return
        if key in api.raw_answers:
            try:
                self._reply(200, None, headers, raw=api.raw_answers[key])
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped reading: what it should do
            return
        try:
            status, payload = self._route(method, path, query, json.loads(body) if body else {})
        except (KeyError, ValueError, StopIteration) as exc:
            status, payload = 400, {"title": "Invalid Request", "detail": f"bad request: {exc}"}
        if fault == "garbled":
            self._reply(status, None, headers, raw=json.dumps(payload).encode()[:12])
            return
        self._reply(status, payload, headers)

    def _page(self, items: list[dict], query: dict[str, str], token_param: str) -> dict:
        size = min(int(query.get("max_results", self.api.page_size)), self.api.page_size)
        start = int(query.get(token_param, "0") or 0)
        chunk = items[start:start + size]
        meta: dict[str, Any] = {"result_count": len(chunk)}
        if start + size < len(items):
            meta["next_token"] = str(start + size)
        if chunk:
            meta["newest_id"], meta["oldest_id"] = chunk[0]["id"], chunk[-1]["id"]
        return {"data": chunk, "meta": meta} if chunk else {"meta": meta}

    def _route(self, method: str, path: str, query: dict[str, str], body: dict) -> tuple[int, dict]:
        api = self.api
        newest_first = lambda rows: sorted(rows, key=lambda r: int(r["id"]), reverse=True)  # noqa: E731
        if method == "POST" and path == "/2/tweets":
            text = body["text"]
            if len(text) > 280:
                return 400, {"title": "Invalid Request", "detail": "Tweet text is too long."}
            parent = None
            if body.get("reply"):
                parent = next(t for t in api.tweets if t["id"] == body["reply"]["in_reply_to_tweet_id"])
            tweet = api._add_tweet(api.me, text, None, parent)
            return 201, {"data": {"id": tweet["id"], "text": text,
                                  "edit_history_tweet_ids": [tweet["id"]]}}
        m = re.fullmatch(r"/2/dm_conversations/with/(\d+)/messages", path)
        if method == "POST" and m:
            to = m.group(1)
            if to not in api.users:
                return 400, {"title": "Invalid Request", "detail": f"user {to} not found"}
            if to in api.closed_dms:
                return 403, {"title": "Forbidden", "type": "about:blank", "status": 403,
                             "detail": DM_CLOSED_DETAIL}
            ev = api._add_dm(api.me, to, body["text"], None)
            return 201, {"data": {"dm_conversation_id": ev["dm_conversation_id"],
                                  "dm_event_id": ev["id"]}}
        if method == "GET" and path == "/2/users/me":
            return 200, {"data": {"id": api.me, "username": api.users.get(api.me, "")}}
        m = re.fullmatch(r"/2/users/by/username/(\w+)", path)
        if method == "GET" and m:
            for uid, name in api.users.items():
                if name.lower() == m.group(1).lower():
                    return 200, {"data": {"id": uid, "username": name}}
            return 200, {"errors": [{"title": "Not Found Error", "detail": f"Could not find user {m.group(1)}"}]}
        if method == "GET" and path == "/2/dm_events":
            rows = [e for e in api.dm_events if api.me in e["participant_ids"]]
            rows = [{k: v for k, v in e.items() if k != "participant_ids"} for e in newest_first(rows)]
            return 200, self._page(rows, query, "pagination_token")
        if method == "GET" and path == "/2/tweets/search/recent":
            wanted = set(re.findall(r"conversation_id:(\d+)", query.get("query", "")))
            if not wanted:
                return 400, {"title": "Invalid Request", "detail": "only conversation_id: queries"}
            if len(query.get("query", "")) > 512:
                return 400, {"title": "Invalid Request", "detail": "query is longer than 512 characters"}
            rows = [t for t in api.tweets if t["conversation_id"] in wanted]
            since = int(query.get("since_id", "0") or 0)
            rows = [t for t in newest_first(rows) if int(t["id"]) > since]
            return 200, self._page(rows, query, "next_token")
        m = re.fullmatch(r"/2/users/(\d+)/tweets", path)
        if method == "GET" and m:  # the user's own posts, newest first (X: the last 3,200)
            start = _when(query["start_time"]) if query.get("start_time") else None
            rows = [t for t in newest_first(api.tweets) if t["author_id"] == m.group(1)
                    and (start is None or _when(t["created_at"]) >= start)]
            return 200, self._page(rows, query, "pagination_token")
        m = re.fullmatch(r"/2/users/(\d+)/mentions", path)
        if method == "GET" and m:
            since = int(query.get("since_id", "0") or 0)
            rows = [t for t in newest_first(api.mentions_of(m.group(1))) if int(t["id"]) > since]
            return 200, self._page(rows, query, "pagination_token")
        return 404, {"title": "Not Found", "detail": f"no route {method} {path}"}

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")
