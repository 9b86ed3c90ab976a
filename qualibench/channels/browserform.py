"""The optional browser path of the webform channel: a form built by JavaScript, in Chromium.

Playwright drives the system's headless Chromium (Debian package `chromium`); the page is
rendered, its form read with the same rules as the plain-HTTP path (formparse), filled field by
field and submitted by clicking, as a person would. Install with `pip install 'qualibench[browser]'`;
without it, JavaScript-only forms go to the assisted queue.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import DependencyMissing
from .formpages import page_blocker, read_outcome
from .formparse import ParsedForm, assign_roles, fill_values, parse_forms

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


def browser_available() -> bool:
    """Return True when both Playwright and a Chromium executable are installed."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return chromium_path() is not None


def _css_name(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def submit_in_browser(url: str, values: dict[str, str], mapping: dict[str, str], *,
                      wait: Callable[[float], None], typing_seconds: float,
                      user_agent: str, timeout: float = 20.0) -> BrowserOutcome:
    """Render `url` in headless Chromium, fill its contact form with `values`, submit, read the page."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise DependencyMissing("JavaScript forms need Playwright, which is not installed",
                                "pip install 'qualibench[browser]' (it drives the system Chromium)") from None
    executable = chromium_path()
    if executable is None:
        raise DependencyMissing("no Chromium executable found for JavaScript forms",
                                f"install the chromium package or set ${CHROMIUM_ENV}")
    ms = timeout * 1000
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(user_agent=user_agent, locale="fr-FR")
            page.goto(url, wait_until="networkidle", timeout=ms)
            html = page.content()
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
            wait(typing_seconds)
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
            page.locator("form button[type=submit], form input[type=submit], form button:not([type])").first.click()
            page.wait_for_load_state("networkidle", timeout=ms)
            final = page.content()
            out.final_url = page.url
            out.pages.append((page.url, final))
            out.verdict, out.words = read_outcome(final)
            return out
        except PlaywrightError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return BrowserOutcome("failed", f"the browser could not use the form: {first_line}"[:500])
        finally:
            browser.close()
