"""The optional browser path of the webform channel: a form built by JavaScript, in Chromium.

Playwright drives the system's headless Chromium (Debian package `chromium`); the page is
rendered, its form read with the same rules as the plain-HTTP path (formparse), filled field by
field and submitted by clicking, as a person would. Install with `pip install 'qualibench[browser]'`;
without it, JavaScript-only forms go to the assisted queue.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx

from ..errors import DependencyMissing
from .formpages import page_blocker, read_outcome
from .formparse import ParsedForm, assign_roles, fill_values, parse_forms
from .sitelimits import REDIRECT_CODES, HostPolicy, SiteLimits

CHROMIUM_ENV = "QUALIBENCH_CHROMIUM"


@dataclass
class BrowserOutcome:
    """What the browser saw: verdict ("confirmed", "error", "unknown", "assisted", "failed")."""

    verdict: str
    words: str
    final_url: str = ""
    pages: list[tuple[str, str]] = field(default_factory=list)  # (url, rendered HTML)
    form: ParsedForm | None = None
    pairs: list[tuple[str, str]] = field(default_factory=list)


def chromium_path() -> str | None:
    """Return the Chromium executable to drive ($QUALIBENCH_CHROMIUM, then the PATH), or None."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium(purpose: str, extra: str, does: str) -> str:
    """Return the Chromium executable for `purpose` ("PDF output", "JavaScript forms"), or raise
    DependencyMissing naming what to install: Playwright through the `extra`, or Chromium."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise DependencyMissing(f"{purpose} needs Playwright, which is not installed",
                                f"pip install 'qualibench[{extra}]' (it {does} the system Chromium)") from None
    executable = chromium_path()
    if executable is None:
        raise DependencyMissing(f"{purpose} needs Chromium, which was not found",
                                f"install the chromium package (apt-get install chromium) or set ${CHROMIUM_ENV}")
    return executable


def browser_available() -> bool:
    """Return True when both Playwright and a Chromium executable are installed."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return chromium_path() is not None


def _css_name(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


class _Guard:
    """Every request of the page, redirects included, under the httpx path's rules: only the
    brand's hosts (HostPolicy), each answer within the size cap, the visit within its deadline.

    Requests are fetched by Playwright for the page (`route.fetch`, redirects not followed) so
    that each hop's Location is checked before the browser follows it, and a body over the cap
    is never handed to the page."""

    def __init__(self, policy: HostPolicy | None, limits: SiteLimits) -> None:
        self.policy, self.limits = policy, limits
        self.ends = time.monotonic() + limits.visit_seconds
        self.refused: list[str] = []

    def ms(self, timeout: float) -> float:
        """Return the milliseconds an action may take: its timeout, within the visit's deadline."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise _VisitOver(f"the visit took more than {self.limits.visit_seconds:g} s")
        return 1000 * min(timeout, left)

    def _refuse(self, route: Any, why: str) -> None:
        self.refused.append(why)
        route.abort("blockedbyclient")

    def handle(self, route: Any) -> None:
        url = route.request.url
        if self.policy is not None:
            why = self.policy.refusal(httpx.URL(url))
            if why is not None:
                return self._refuse(route, f"refused to request {url}: {why}")
        try:
            resp = route.fetch(max_redirects=0, timeout=self.ms(self.limits.request_seconds))
        except _VisitOver as over:
            return self._refuse(route, str(over))
        cap = self.limits.max_page_bytes
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            return self._refuse(route, f"{url} declares {int(declared):,} bytes, more than the "
                                f"{cap:,} read")
        if resp.status in REDIRECT_CODES:
            target = urljoin(url, resp.headers.get("location", ""))
            why = self.policy.refusal(httpx.URL(target)) if self.policy is not None else None
            if why is not None:
                return self._refuse(route, f"refused to follow the redirect to {target}: {why}")
            return route.fulfill(response=resp)
        body = resp.body()
        if len(body) > cap:
            return self._refuse(route, f"{url} is larger than the {cap:,} bytes read")
        return route.fulfill(response=resp, body=body)


class _VisitOver(Exception):
    pass


def submit_in_browser(url: str, values: dict[str, str], mapping: dict[str, str], *,
                      wait: Callable[[float], None], typing_seconds: float,
                      user_agent: str, timeout: float = 20.0, policy: HostPolicy | None = None,
                      limits: SiteLimits | None = None) -> BrowserOutcome:
    """Render `url` in headless Chromium, fill its contact form with `values`, submit, read the page.

    `policy` and `limits` are the brand's, as on the plain-HTTP path: nothing is requested
    outside the brand's hosts, no answer over the size cap reaches the page, and the whole
    visit ends by its deadline."""
    guard = _Guard(policy, limits or SiteLimits())
    try:
        return _submit(guard, url, values, mapping, wait=wait, typing_seconds=typing_seconds,
                       user_agent=user_agent, timeout=timeout)
    except _VisitOver as over:
        return BrowserOutcome("failed", str(over))


def _submit(guard: _Guard, url: str, values: dict[str, str], mapping: dict[str, str], *,
            wait: Callable[[float], None], typing_seconds: float,
            user_agent: str, timeout: float) -> BrowserOutcome:
    executable = require_chromium("JavaScript forms", "browser", "drives")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            # No service worker may answer in place of the routed network.
            page = browser.new_page(user_agent=user_agent, locale="fr-FR",
                                    service_workers="block")
            page.set_default_timeout(1000 * timeout)
            page.route("**/*", guard.handle)
            page.goto(url, wait_until="networkidle", timeout=guard.ms(timeout))
            html = page.content()
            if len(html) > guard.limits.max_page_bytes:
                return BrowserOutcome("failed", f"the rendered page is larger than the "
                                      f"{guard.limits.max_page_bytes:,} bytes read ({url})")
            out = BrowserOutcome("unknown", "", final_url=page.url, pages=[(page.url, html)])
            forms = [f for f in parse_forms(html, page.url) if f.is_contact_form()]
            if not forms:
                out.verdict, out.words = "failed", f"no contact form even once rendered in a browser ({url})"
                return out
            blocker = page_blocker(html, forms)
            if blocker:
                out.verdict, out.words = "assisted", f"{blocker} ({page.url})"
                return out
            form = assign_roles(forms[0], mapping)
            pairs, missing = fill_values(form, values)
            out.form, out.pairs = form, pairs
            if missing:
                out.verdict = "assisted"
                out.words = f"the form requires fields we cannot fill: {', '.join(missing)} ({page.url})"
                return out
            paused = time.monotonic()
            wait(typing_seconds)
            guard.ends += time.monotonic() - paused  # typing is the persona's time, not the site's
            chosen = dict(pairs)
            for f in form.fields:
                if f.honeypot or f.kind == "hidden" or f.name not in chosen:
                    continue
                target = page.locator(f'form [name="{_css_name(f.name)}"]')
                value = chosen[f.name]
                if f.kind == "select":
                    target.first.select_option(value)
                elif f.kind == "checkbox":
                    target.first.check()
                elif f.kind == "radio":
                    page.locator(f'form [name="{_css_name(f.name)}"][value="{_css_name(value)}"]').first.check()
                else:
                    target.first.fill(value)
            page.locator("form button[type=submit], form input[type=submit], form button:not([type])").first.click(
                timeout=guard.ms(timeout))
            page.wait_for_load_state("networkidle", timeout=guard.ms(timeout))
            final = page.content()
            if guard.refused:  # the form's data was to go where the brand's policy forbids
                out.verdict, out.words = "failed", guard.refused[0][:500]
                return out
            out.final_url = page.url
            out.pages.append((page.url, final))
            out.verdict, out.words = read_outcome(final)
            return out
        except PlaywrightError as exc:
            if guard.refused:
                return BrowserOutcome("failed", guard.refused[0][:500])
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return BrowserOutcome("failed", f"the browser could not use the form: {first_line}"[:500])
        finally:
            browser.close()
