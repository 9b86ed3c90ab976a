"""HTTP to third-party sites under limits: the one pooled client a channel keeps for a run.

Everything a brand's site sends is hostile until read: a page may trickle one byte every few
seconds (slow-loris), weigh 400 MB, be a 2 MB gzip bomb, redirect forever, or redirect the
persona's form data to another host or to a port that is not a web server. So:

- every socket operation of a request is clamped to the request's total deadline, headers and
  body included (httpx alone has only per-read timeouts, which a trickle never trips): the
  network backend under the connection pool reads the deadline of the request in progress;
- a response body is counted as it arrives, after decompression done here in bounded steps
  (zlib `max_length`), so a bomb stops at the cap instead of expanding in memory;
- redirects are followed here, one hop at a time, and each target is checked against the
  brand's `HostPolicy` before a byte is sent to it.

One `BoundedTransport` per channel and run gives connection pooling and a single TLS context
(building one costs milliseconds; it used to be built for every probe).
"""

from __future__ import annotations

import functools
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from ..domains import is_ip, registrable_domain
from ..errors import QualibenchError

REDIRECT_CODES = (301, 302, 303, 307, 308)
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class SiteLimits:
    """Bounds on one visit to a third-party site (seconds of real time, bytes)."""

    connect_seconds: float = 10.0
    read_seconds: float = 20.0  # silence allowed between two reads
    request_seconds: float = 60.0  # one request, first byte sent to last byte received
    visit_seconds: float = 240.0  # every request of one probe's walk through the site
    max_page_bytes: int = 5_000_000  # one response body, after decompression
    max_redirects: int = 5

    KEYS = ("connect_seconds", "read_seconds", "request_seconds", "visit_seconds",
            "max_page_bytes", "max_redirects")

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], table: str = "webform") -> SiteLimits:
        """Return the limits set in campaign.toml's [`table`] (defaults for what is absent)."""
        values: dict[str, Any] = {}
        for key in cls.KEYS:
            if key not in raw:
                continue
            value = raw[key]
            integral = key.startswith("max_")
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
            if integral:
                ok = ok and float(value).is_integer()
            if not ok:
                raise QualibenchError(
                    f"[{table}] {key} = {value!r} is not a positive "
                    f"{'whole number' if integral else 'number'}",
                    f"set e.g. {key} = {getattr(cls, key)!r} in campaign.toml, or remove it")
            values[key] = int(value) if integral else float(value)
        return cls(**values)

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_seconds, read=self.read_seconds,
                             write=self.read_seconds, pool=self.connect_seconds)


class SiteRefused(Exception):
    """A site broke a limit or pointed outside what the brand may use; `detail` says which.

    `transient` marks deadlines (a slow site may be faster tomorrow); the others (too big, a
    bomb, a redirect loop, a host or port not the brand's) are not worth retrying.
    """

    def __init__(self, detail: str, *, transient: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.transient = transient


@functools.cache
def shared_tls_context() -> Any:
    """Return the process's one verifying TLS context (httpx's: certifi or $SSL_CERT_FILE)."""
    return httpx.create_ssl_context()


# -- the deadline under the connection pool ------------------------------------------------


class _Deadline(threading.local):
    """The monotonic time by which the request in progress on this thread must be over."""

    at: float | None = None


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def _left(self, timeout: float | None, exc: type[Exception]) -> float | None:
        at = self._deadline.at
        if at is None:
            return timeout
        left = at - time.monotonic()
        if left <= 0:
            raise exc("the request's total deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname,
                                      self._left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, deadline: _Deadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        at = self._deadline.at
        if at is not None:
            left = at - time.monotonic()
            if left <= 0:
                raise httpcore.ConnectTimeout("the request's total deadline passed")
            timeout = left if timeout is None else min(timeout, left)
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("qualibench does not talk to sites over Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _CappedBody(httpx.SyncByteStream):
    """The raw body, read under the request's deadline and cut off past `max_bytes`."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: _Deadline, at: float,
                 max_bytes: int, url: str) -> None:
        self._inner, self._deadline, self._at = inner, deadline, at
        self._max, self._url = max_bytes, url

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        self._deadline.at = self._at
        try:
            for chunk in self._inner:
                seen += len(chunk)
                if seen > self._max:
                    raise SiteRefused(f"{self._url} sent more than {self._max} bytes; not read")
                yield chunk
        finally:
            self._deadline.at = None

    def close(self) -> None:
        self._inner.close()


class BoundedTransport(httpx.HTTPTransport):
    """A pooled HTTP transport with one TLS context, a total deadline and a raw size cap per
    request. (The cap on what a body expands to is `read_body`'s: the transport sees bytes
    before decompression.)"""

    def __init__(self, limits: SiteLimits | None = None, *, max_raw_bytes: int | None = None,
                 max_connections: int = 20) -> None:
        self.limits = limits or SiteLimits()
        self.max_raw_bytes = max_raw_bytes or self.limits.max_page_bytes
        self._deadline = _Deadline()
        ctx = shared_tls_context()
        super().__init__(verify=ctx)
        # httpx builds its pool without a way to pass a network backend; the pool is rebuilt
        # here with the same settings and the deadline-keeping backend under it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ctx, max_connections=max_connections,
            max_keepalive_connections=max_connections, keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(self._deadline))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        at = time.monotonic() + self.limits.request_seconds
        self._deadline.at = at
        try:
            response = super().handle_request(request)
        finally:
            self._deadline.at = None
        response.stream = _CappedBody(response.stream, self._deadline, at,  # type: ignore[arg-type]
                                      self.max_raw_bytes, str(request.url))
        return response


# -- which hosts a brand's walk may reach ----------------------------------------------------


class HostPolicy:
    """Where one brand's walk may send requests: http(s) only; a host under one of the brand's
    registrable domains on the scheme's default port, or exactly a listed host (an explicit
    port only when a listed URL names it)."""

    def __init__(self, urls: Iterable[str] = (), domains: Iterable[str] = (),
                 hosts: Iterable[str] = ()) -> None:
        self.domains: set[str] = set()
        self.origins: set[tuple[str, int | None]] = set()  # exact host, explicit port or None
        for url in urls:
            u = httpx.URL(url)
            if u.host:
                self.origins.add((u.host.lower(), u.port))
                if not is_ip(u.host):
                    self.domains.add(registrable_domain(u.host))
        for d in domains:
            if d and not is_ip(d):
                self.domains.add(registrable_domain(d))
        for h in hosts:
            h = h.strip().lower()
            if not h:
                continue
            u = httpx.URL(h if "://" in h else f"http://{h}")
            if u.host:
                self.origins.add((u.host.lower(), u.port))

    def refusal(self, url: httpx.URL) -> str | None:
        """Return why `url` may not be requested, or None when it may."""
        if url.scheme not in DEFAULT_PORTS:
            return f"{url} is not http(s)"
        host = (url.host or "").lower()
        port = url.port  # None: the scheme's default
        if (host, port) in self.origins:
            return None
        known = any(h == host for h, _ in self.origins) or (
            not is_ip(host) and registrable_domain(host) in self.domains)
        if not known:
            return f"{host} is not one of the brand's domains or listed hosts"
        if port is not None and port != DEFAULT_PORTS[url.scheme]:
            return f"port {port} of {host} is not named by any URL of the brand"
        return None

    def check(self, url: httpx.URL, why: str) -> None:
        refusal = self.refusal(url)
        if refusal is not None:
            raise SiteRefused(f"refused to follow {why} to {url}: {refusal}")


# -- reading a page ------------------------------------------------------------------------


@dataclass
class Page:
    """One response read whole (within the limits), as the web-form walk uses it."""

    url: httpx.URL
    status_code: int
    headers: httpx.Headers
    content: bytes
    redirects: int = 0

    @functools.cached_property
    def text(self) -> str:
        charset = httpx.Response(200, headers={"content-type": self.headers.get(
            "content-type", "")}).charset_encoding or "utf-8"
        try:
            return self.content.decode(charset, "replace")
        except LookupError:  # a charset Python does not know: UTF-8 is the web's default
            return self.content.decode("utf-8", "replace")


def _decompressor(encoding: str, url: str) -> Any:
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise SiteRefused(f"{url} stacks content encodings ({encoding}); not read")
    if codings[0] in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if codings[0] == "deflate":
        return zlib.decompressobj()
    raise SiteRefused(f"{url} uses content encoding {codings[0]!r}, which was not asked for")


def read_body(response: httpx.Response, max_bytes: int) -> bytes:
    """Return the body of a streamed `response`, decompressed in bounded steps; raise
    SiteRefused as soon as it would exceed `max_bytes`."""
    url = str(response.request.url)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise SiteRefused(f"{url} announces {declared} bytes, more than the {max_bytes} "
                          "allowed ([webform] max_page_bytes); not read")
    if response.is_stream_consumed:  # a response built in memory (a test transport)
        if len(response.content) > max_bytes:
            raise SiteRefused(f"{url} is larger than {max_bytes} bytes; not read")
        return response.content
    encoding = response.headers.get("content-encoding", "")
    dec = _decompressor(encoding, url)
    out = bytearray()

    def over() -> SiteRefused:
        return SiteRefused(f"{url} is larger than {max_bytes} bytes once decompressed "
                           "([webform] max_page_bytes); not read")

    try:
        for chunk in response.iter_raw(65536):
            if dec is None:
                out += chunk
            else:
                data = chunk
                while data and len(out) <= max_bytes:
                    out += dec.decompress(data, max_bytes - len(out) + 1)
                    data = dec.unconsumed_tail
                    if dec.eof and dec.unused_data:
                        # gzip allows several members one after the other: read them all
                        data = dec.unused_data
                        dec = _decompressor(encoding, url)
            if len(out) > max_bytes:
                raise over()
        if dec is not None:
            out += dec.flush(max_bytes - len(out) + 1)
            if len(out) > max_bytes:
                raise over()
    except zlib.error as exc:
        raise SiteRefused(f"{url} sent a body that does not decompress: {exc}") from None
    return bytes(out)


class SiteClient:
    """The web-form channel's client for a run: one pooled transport, cookies per visit,
    redirects followed under a `HostPolicy`, every request within `SiteLimits`."""

    def __init__(self, limits: SiteLimits | None = None, *, headers: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.limits = limits or SiteLimits()
        # The decompressed cap is enforced in read_body; the raw cap only stops endless bodies.
        self.client = httpx.Client(
            transport=transport or BoundedTransport(self.limits,
                                                    max_raw_bytes=self.limits.max_page_bytes),
            headers={**(headers or {}), "Accept-Encoding": "gzip, deflate"},
            timeout=self.limits.timeout(), follow_redirects=False, trust_env=False)
        self.policy = HostPolicy()
        self._visit_ends: float | None = None

    def start_visit(self, policy: HostPolicy) -> None:
        """Begin one probe's walk: no cookie from another persona's visit, a fresh budget."""
        self.client.cookies.clear()
        self.policy = policy
        self._visit_ends = time.monotonic() + self.limits.visit_seconds

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, params: Any = None) -> Page:
        return self.fetch("GET", url, params=params)

    def post(self, url: str, *, data: Any = None, files: Any = None) -> Page:
        return self.fetch("POST", url, data=data, files=files)

    def fetch(self, method: str, url: str, *, params: Any = None, data: Any = None,
              files: Any = None) -> Page:
        """Return the page at `url` after at most `max_redirects` checked redirects."""
        why = "the link"
        for hops in range(self.limits.max_redirects + 1):
            request = self.client.build_request(method, url, params=params, data=data,
                                                files=files)
            self.policy.check(request.url, why)
            page = self._send(request)
            location = page.headers.get("location")
            if page.status_code not in REDIRECT_CODES or not location:
                page.redirects = hops
                return page
            url, params, why = str(request.url.join(location)), None, f"a redirect from {request.url}"
            if page.status_code == 303 or (page.status_code in (301, 302) and method == "POST"):
                method, data, files = "GET", None, None  # what browsers do
        raise SiteRefused(f"more than {self.limits.max_redirects} redirects, the last to {url} "
                          "([webform] max_redirects)")

    def _send(self, request: httpx.Request) -> Page:
        if self._visit_ends is not None and time.monotonic() > self._visit_ends:
            raise SiteRefused(f"the visit took more than {self.limits.visit_seconds:g} s "
                              "([webform] visit_seconds)", transient=True)
        try:
            response = self.client.send(request, stream=True)
            try:
                body = read_body(response, self.limits.max_page_bytes)
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            raise SiteRefused(f"{request.url} did not answer in time ({type(exc).__name__}; "
                              f"[webform] request_seconds = {self.limits.request_seconds:g})",
                              transient=True) from None
        return Page(url=request.url, status_code=response.status_code,
                    headers=response.headers, content=body)
