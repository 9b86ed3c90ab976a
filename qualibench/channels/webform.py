"""The `webform` channel: fill and submit a brand's web contact form as a customer would.

Replies come back by e-mail to the probe's own reply address, so `collect` yields nothing; the
e-mail collector matches them. What blocks a robot (captcha, login wall, JavaScript-only form,
a mandatory customer number we do not have) sends the probe to the assisted queue with the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import object_session

from ..errors import QualibenchError
from ..evidence import record_evidence
from ..evidence_group import GroupedEvidence, keep_evidence
from ..send_batch import mark_started, never_started
from .base import CollectedItem, DispatchResult
from .formpages import contact_links, page_blocker, read_outcome
from .formparse import KIND_TOPIC_WORDS, ParsedForm, assign_roles, fill_values, parse_forms
from .reuse import current_park
from .sitelimits import HostPolicy, Page, SiteClient, SiteLimits, SiteRefused

if TYPE_CHECKING:
    from ..models import Brand, Persona, Probe
    from ..workspace import Workspace

USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0 Safari/537.36")
MAX_ATTEMPTS = 3
BROWSER_ENV = "QUALIBENCH_WEBFORM_BROWSER"  # "1": JavaScript-only forms go through Chromium


def _bare(url: str) -> str:
    """Return `url` without fragment, query or trailing slash, for comparing pages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


MEMO_KEY = ("webform", "memo")


class FormBlocked(Exception):
    """The contact form cannot be used by a robot; the reason goes to the assisted queue."""


def probe_values(probe: Probe, persona: Persona, scenario_kind: str = "") -> dict[str, str]:
    """Return what we type in each field role, from the persona and the probe's fills."""
    fills = {str(k).lower(): str(v) for k, v in (probe.fills or {}).items()}

    def fill(*keys: str) -> str:
        for k in keys:
            for name, value in fills.items():
                if k in name:
                    return value
        return ""

    return {
        "civility": fill("civility", "civilite"),
        "first_name": persona.first_name,
        "last_name": persona.last_name,
        "full_name": f"{persona.first_name} {persona.last_name}".strip(),
        "email": probe.reply_address or persona.email,
        "phone": persona.phone,
        "subject": probe.subject,
        "topic": fill("topic", "motif") or " ".join(
            (KIND_TOPIC_WORDS.get(scenario_kind, ""), probe.subject, probe.body[:300])),
        "order_number": fill("order", "commande"),
        "customer_number": fill("customer", "client"),
        "message": probe.body,
    }


def _redacted_fields(form: ParsedForm, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    # Hidden values are session tokens: the evidence says they were sent, not what they were.
    hidden = {f.name for f in form.fields if f.kind == "hidden" and f.name not in ("step",)}
    out: dict[str, Any] = {}
    for name, value in pairs:
        shown = f"<hidden value, {len(value)} chars>" if name in hidden and value else value
        if name in out:
            prev = out[name]
            out[name] = [*prev, shown] if isinstance(prev, list) else [prev, shown]
        else:
            out[name] = shown
    return out


class WebFormChannel:
    """Discover, fill and submit the contact form at `brand.contacts["webform"]`."""

    name = "webform"
    automated = True
    pauses = True  # its send waits (typing, steps): a send run writes its outcomes first

    def __init__(self, *, max_clicks: int = 3, max_steps: int = 4, timeout: float = 20.0,
                 chars_per_second: float = 7.0, transport: httpx.BaseTransport | None = None,
                 browser: bool | None = None, limits: SiteLimits | None = None) -> None:
        # None: $QUALIBENCH_WEBFORM_BROWSER=1 or [webform] browser = true in campaign.toml
        self.browser = browser
        self.max_clicks = max_clicks
        self.max_steps = max_steps
        self.timeout = timeout
        self.chars_per_second = chars_per_second
        self.transport = transport
        self.limits = limits  # None: [webform] of campaign.toml, else SiteLimits' defaults
        self._site: SiteClient | None = None  # one pooled client for the whole run
        # (form page, clicks from start) -> (the home-page measure, the probe that walked it),
        # each brand's host policy and each scenario's kind ((database, scenario id) -> kind:
        # scenarios do not change): for the run, or for the runs of a keep_connections()
        # scope (the demo's fortnight), which parks them with the connections.
        park = current_park() if transport is None else None
        memo = park.take(MEMO_KEY) if park is not None else None
        self._home_walks: dict[tuple[str, Any], tuple[dict[str, Any], str]]
        self._policies: dict[tuple, HostPolicy]
        self._kinds: dict[tuple[str, int], str]
        self._home_walks, self._policies, self._kinds = (memo[0] if memo is not None
                                                         else ({}, {}, {}))

    def _client(self, ws: Workspace) -> SiteClient:
        if self._site is None:
            limits = self.limits
            if limits is None:
                limits = SiteLimits.from_config(self._config(ws))
            park = current_park() if self.transport is None else None
            parked = park.take(("webform", limits)) if park is not None else None
            self._site = parked[0] if parked is not None else SiteClient(
                limits, transport=self.transport, headers={
                    "User-Agent": USER_AGENT, "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"})
        return self._site

    def close(self) -> None:
        """Close the run's HTTP connections (or park them for the next run, see reuse.py)."""
        park = current_park() if self.transport is None else None
        if park is not None:
            park.park(MEMO_KEY, (self._home_walks, self._policies, self._kinds),
                      lambda memo: None)
        if self._site is not None:
            if park is not None:
                park.park(("webform", self._site.limits), self._site, SiteClient.close)
            else:
                self._site.close()
            self._site = None

    @staticmethod
    def _config(ws: Workspace) -> dict[str, Any]:
        try:
            table = ws.spec().config.raw.get("webform", {})
        except QualibenchError:
            return {}  # no campaign.toml (a bare workspace): the defaults
        return table if isinstance(table, dict) else {}

    def policy(self, ws: Workspace, brand: Brand, url: str) -> HostPolicy:
        """Return where the walk for `brand` may go: its own domains (those of its web form,
        its other URLs and its e-mail address) and the hosts listed for it under
        [webform.hosts] in campaign.toml."""
        contacts = brand.contacts or {}
        key = (brand.key, url, tuple(sorted((str(k), str(v)) for k, v in contacts.items())))
        if key not in self._policies:  # the same for every probe of the brand in this run
            self._policies[key] = self._policy(ws, brand, url, contacts)
        return self._policies[key]

    def _policy(self, ws: Workspace, brand: Brand, url: str, contacts: dict) -> HostPolicy:
        urls = [url] + [str(v) for v in contacts.values()
                        if str(v).startswith(("http://", "https://"))]
        email = str(contacts.get("email", ""))
        listed = self._config(ws).get("hosts", {})
        hosts = listed.get(brand.key, []) if isinstance(listed, dict) else []
        if isinstance(hosts, str):
            hosts = [hosts]
        return HostPolicy(urls, domains=[email.rpartition("@")[2]] if "@" in email else [],
                          hosts=[str(h) for h in hosts])

    def typing_delay(self, probe: Probe, ws: Workspace | None = None) -> float:
        """Return the seconds a person would take to fill the form (reading + typing);
        [webform] reading_seconds and chars_per_second in campaign.toml change the pace."""
        reading, speed = 20.0, self.chars_per_second
        if ws is not None:
            reading = self._pace(ws, "reading_seconds", reading)
            speed = self._pace(ws, "chars_per_second", speed) or speed
        return reading + min(len(probe.body) / speed, 240.0)

    def _pace(self, ws: Workspace, key: str, default: float) -> float:
        value = self._config(ws).get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise QualibenchError(f"[webform] {key} = {value!r} is not a number of 0 or more",
                                  f"set e.g. {key} = {default:g} in campaign.toml, or remove it")
        return float(value)

    def collect(self, ws: Workspace) -> Iterable[CollectedItem]:
        """Yield nothing: form replies arrive by e-mail."""
        return ()

    def send(self, ws: Workspace, probe: Probe, brand: Brand, persona: Persona) -> DispatchResult:
        """Submit the probe through the brand's contact form and return the dispatch record."""
        url = (brand.contacts or {}).get("webform", "")
        if not url:
            return DispatchResult(outcome="failed", detail=f"brand {brand.key} has no web form URL "
                                  "(column webform in the brands file)")
        record: dict[str, Any] = {"channel": "webform", "probe": probe.key, "start_url": url,
                                  "pages": [], "steps": [],
                                  "accessibility": {"clicks_from_start": None, "captcha": False,
                                                    "customer_number_required": False,
                                                    "login_required": False, "steps": 0}}
        raw_pages: list[tuple[bytes, str]] = []
        client = self._client(ws)
        client.start_visit(self.policy(ws, brand, url))
        transient = False
        try:
            result = self._run(ws, client, probe, brand, persona, url, record, raw_pages)
        except SiteRefused as exc:
            # The brand's site broke a limit: this brand fails (or waits), the run goes on.
            detail, transient = exc.detail, exc.transient
        except httpx.TransportError as exc:
            detail, transient = f"cannot reach {url}: {type(exc).__name__}", True
        except Exception as exc:  # hostile markup or a protocol oddity must not stop the run
            detail = f"the site at {url} could not be read: {type(exc).__name__}: {exc}"[:500]
        else:
            return self._finish(ws, probe, record, raw_pages, result)
        record["error"] = detail
        if transient and probe.attempts < MAX_ATTEMPTS:
            result = DispatchResult(outcome="retry", detail=detail, retry_after=600.0)
        else:
            result = DispatchResult(outcome="failed", detail=detail)
        return self._finish(ws, probe, record, raw_pages, result)

    # -- the walk --------------------------------------------------------------------------

    def _get(self, client: SiteClient, url: str, record: dict, raw: list) -> Page:
        resp = client.get(url)
        record["pages"].append({"url": str(resp.url), "status": resp.status_code})
        raw.append((resp.content, "text/html"))
        return resp

    def _discover(self, client: SiteClient, url: str, record: dict, raw: list) -> tuple[ParsedForm, str]:
        """Return the contact form and the page URL it is on, following contact links."""
        frontier = [url]
        seen: set[str] = set()
        for clicks in range(self.max_clicks + 1):
            next_frontier: list[str] = []
            for page_url in frontier:
                if page_url in seen:
                    continue
                seen.add(page_url)
                resp = self._get(client, page_url, record, raw)
                if resp.status_code >= 400:
                    continue
                forms = parse_forms(resp.text, str(resp.url))
                blocker = page_blocker(resp.text, forms)
                contact = [f for f in forms if f.is_contact_form()]
                if blocker:
                    record["form_page"] = str(resp.url)
                    record["accessibility"]["clicks_from_start"] = clicks
                    record["accessibility"]["captcha"] = blocker.startswith("captcha")
                    record["accessibility"]["login_required"] = blocker.startswith("login")
                    raise FormBlocked(f"{blocker} ({resp.url})")
                if contact:
                    record["form_page"] = str(resp.url)
                    record["accessibility"]["clicks_from_start"] = clicks
                    return contact[0], str(resp.url)
                next_frontier.extend(contact_links(resp.text, str(resp.url))[:3])
            frontier = next_frontier
        raise LookupError(f"no contact form found within {self.max_clicks} clicks of {url}")

    def _measure_from_home(self, client: SiteClient, record: dict, raw: list) -> None:
        """Set accessibility.clicks_from_home: links a customer follows from the home page.

        Measured once per form page and run (or keep_connections scope): later probes reuse the
        figure (and say which probe's evidence holds the pages walked) instead of walking its
        site again for each scenario."""
        access = record["accessibility"]
        key = (_bare(record.get("form_page", "")), access["clicks_from_start"])
        if key in self._home_walks:
            measured, by = self._home_walks[key]
            access.update(measured)
            access["clicks_from_home_measured_by"] = by
            return
        try:
            self._walk_from_home(client, record, raw)
        except (httpx.HTTPError, SiteRefused):
            return  # the home page is not needed to send: measuring stops there (not cached)
        self._home_walks[key] = ({k: access[k] for k in ("clicks_from_home", "home_page")
                                  if k in access}, record.get("probe", ""))

    def _walk_from_home(self, client: SiteClient, record: dict, raw: list) -> None:
        access = record["accessibility"]
        target = _bare(record.get("form_page", ""))
        if access["clicks_from_start"]:
            # the brands file gave a page that is not the form: count from there
            access["clicks_from_home"] = access["clicks_from_start"]
            return
        access["clicks_from_home"] = None
        parts = urlsplit(target)
        segments = [seg for seg in parts.path.split("/") if seg]
        homes = [f"{parts.scheme}://{parts.netloc}/" + "/".join(segments[:n]) + ("/" if n else "")
                 for n in range(len(segments) - 1, -1, -1)]
        for home in homes:
            resp = self._get(client, home, record, raw)
            if resp.status_code >= 400 or not contact_links(resp.text, str(resp.url)):
                continue
            frontier, seen = [str(resp.url)], {_bare(str(resp.url))}
            pages = {str(resp.url): resp.text}
            for clicks in range(1, self.max_clicks + 1):
                nxt: list[str] = []
                for page in frontier:
                    for link in contact_links(pages[page], page)[:3]:
                        if _bare(link) == target:
                            access["clicks_from_home"] = clicks
                            access["home_page"] = home
                            return
                        if _bare(link) not in seen:
                            seen.add(_bare(link))
                            got = self._get(client, link, record, raw)
                            pages[link] = got.text if got.status_code < 400 else ""
                            nxt.append(link)
                frontier = nxt
            return

    def _run(self, ws: Workspace, client: SiteClient, probe: Probe, brand: Brand,
             persona: Persona, url: str, record: dict, raw: list) -> DispatchResult:
        try:
            form, page_url = self._discover(client, url, record, raw)
        except FormBlocked as blocked:
            self._measure_from_home(client, record, raw)
            if "JavaScript" in str(blocked) and self._browser_on(ws):
                return self._run_in_browser(ws, probe, brand, persona, record, raw)
            return DispatchResult(outcome="assisted", detail=str(blocked))
        except LookupError as missing:
            return DispatchResult(outcome="failed", detail=str(missing))
        self._measure_from_home(client, record, raw)
        values = probe_values(probe, persona, self._scenario_kind(ws, probe))
        submitted: set[str] = set()
        email_given = False
        for step in range(1, self.max_steps + 1):
            assign_roles(form, brand.form_mapping)
            roles = form.by_role()
            if "customer_number" in roles and roles["customer_number"].required:
                record["accessibility"]["customer_number_required"] = True
            email_given = email_given or "email" in roles
            if not email_given and "message" in roles:
                # without our reply address the brand's answer could never be matched
                return DispatchResult(outcome="failed", detail=f"the form at {page_url} has no "
                                      "e-mail field we can recognise (add its name to form_mapping)")
            pairs, missing = fill_values(form, values)
            if missing:
                return DispatchResult(outcome="assisted", detail="the form requires fields we cannot "
                                      f"fill: {', '.join(missing)} ({page_url})")
            ws.clock.sleep(self.typing_delay(probe, ws) if step == 1
                           else self._pace(ws, "step_seconds", 8.0))
            if step == 1:
                mark_started(ws, probe)  # from here a kill leaves its fate unknown
            resp = self._submit(client, form, pairs)
            raw.append((resp.content, "text/html"))
            record["steps"].append({"request": {"method": form.method, "url": form.action,
                                                "enctype": form.enctype,
                                                "fields": _redacted_fields(form, pairs)},
                                    "status": resp.status_code, "final_url": str(resp.url),
                                    "response_sha256": None})
            record["accessibility"]["steps"] = step
            submitted |= {name for name, _ in pairs}
            if resp.status_code >= 500:
                detail = f"the form answered HTTP {resp.status_code} ({resp.url})"
                if probe.attempts >= MAX_ATTEMPTS:
                    return DispatchResult(outcome="failed", detail=detail)
                return DispatchResult(outcome="retry", detail=detail, retry_after=1800.0)
            verdict, words = read_outcome(resp.text)
            if resp.status_code >= 400:
                return DispatchResult(outcome="failed", detail=f"HTTP {resp.status_code}: {words}".strip())
            if verdict == "error":
                return DispatchResult(outcome="failed", detail=words)
            nxt = [f for f in parse_forms(resp.text, str(resp.url)) if f.is_contact_form()]
            fresh = [f for f in nxt if {fl.name for fl in f.fields if fl.kind != "hidden"} - submitted]
            if fresh and verdict != "confirmed":
                blocker = page_blocker(resp.text, nxt)
                if blocker:
                    return DispatchResult(outcome="assisted", detail=f"{blocker} (step {step + 1})")
                form, page_url = fresh[0], str(resp.url)
                continue
            if verdict == "confirmed":
                record["confirmation"] = words
                return DispatchResult(outcome="sent", sent_at=ws.clock.now(), detail=words)
            return DispatchResult(outcome="failed", detail="no confirmation on the page after "
                                  f"submitting ({resp.url})")
        return DispatchResult(outcome="failed", detail=f"the form still asked for more after {self.max_steps} steps")

    def _browser_on(self, ws: Workspace) -> bool:
        if self.browser is not None:
            return self.browser
        if os.environ.get(BROWSER_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
        try:
            return bool(ws.spec().config.raw.get("webform", {}).get("browser", False))
        except QualibenchError:
            return False

    def _run_in_browser(self, ws: Workspace, probe: Probe, brand: Brand, persona: Persona,
                        record: dict, raw: list) -> DispatchResult:
        from .browserform import submit_in_browser

        page_url = record.get("form_page") or record["start_url"]
        mark_started(ws, probe)
        seen = submit_in_browser(page_url, probe_values(probe, persona, self._scenario_kind(ws, probe)),
                                 brand.form_mapping or {}, wait=ws.clock.sleep,
                                 typing_seconds=self.typing_delay(probe, ws), user_agent=USER_AGENT,
                                 timeout=self.timeout,
                                 policy=self.policy(ws, brand, record["start_url"]),
                                 limits=self._client(ws).limits)
        record["browser"] = True
        for url, html in seen.pages:
            record["pages"].append({"url": url, "status": None, "rendered": True})
            raw.append((html.encode(), "text/html"))
        if seen.form is not None and seen.verdict not in ("assisted", "failed"):
            record["steps"].append({"request": {"method": "browser", "url": seen.form.action,
                                                "enctype": seen.form.enctype,
                                                "fields": _redacted_fields(seen.form, seen.pairs)},
                                    "status": None, "final_url": seen.final_url, "response_sha256": None})
            record["accessibility"]["steps"] = 1
        record["accessibility"]["javascript_only"] = True
        if seen.verdict == "confirmed":
            record["confirmation"] = seen.words
            return DispatchResult(outcome="sent", sent_at=ws.clock.now(), detail=seen.words)
        if seen.verdict == "assisted":
            return DispatchResult(outcome="assisted", detail=seen.words)
        if seen.verdict == "error":
            return DispatchResult(outcome="failed", detail=seen.words)
        return DispatchResult(outcome="failed", detail=seen.words or "no confirmation on the page "
                              f"after submitting in the browser ({seen.final_url})")

    def _scenario_kind(self, ws: Workspace, probe: Probe) -> str:
        from ..models import Scenario

        key = (ws.engine.url.render_as_string(hide_password=True), probe.scenario_id)
        if key not in self._kinds:
            with ws.session() as s:
                scenario = s.get(Scenario, probe.scenario_id)
                self._kinds[key] = scenario.kind if scenario is not None else ""
        return self._kinds[key]

    def reconcile(self, ws: Workspace, probe: Probe) -> DispatchResult | None:
        """Say what became of a probe left in `dispatching`: "retry" when its claim's
        submission never began (claimed in a batch, killed before its turn); None (cannot
        tell: an analyst looks) once the first POST may have gone out."""
        if never_started(probe):
            return DispatchResult(outcome="retry", detail="claimed with a batch but never "
                                  "submitted before the interruption",
                                  evidence={"reconciled": True})
        return None

    def _submit(self, client: SiteClient, form: ParsedForm, pairs: list[tuple[str, str]]) -> Page:
        if form.method == "GET":
            return client.get(form.action, params=pairs)
        if form.enctype.startswith("multipart"):
            return client.post(form.action, files=[(n, (None, v)) for n, v in pairs])
        data: dict[str, Any] = {}
        for name, value in pairs:
            if name in data:
                prev = data[name]
                data[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
            else:
                data[name] = value
        return client.post(form.action, data=data)

    # -- evidence --------------------------------------------------------------------------

    def _finish(self, ws: Workspace, probe: Probe, record: dict, raw: list,
                result: DispatchResult) -> DispatchResult:
        session = object_session(probe)
        own = None
        if session is None and not isinstance(ws.evidence, GroupedEvidence):
            own = ws.session()
            session = own.__enter__()

        def keep(data: bytes, media: str) -> str:
            # In a send run the index rows ride in the loop's next transaction (one sync for
            # the batch's files); called directly, in the caller's session or one of its own.
            if session is None:
                return keep_evidence(ws, data, media)
            return record_evidence(session, ws.evidence, data, media, ws.clock)

        try:
            digests = [keep(data, media) for data, media in raw]
            # the last pages fetched are the responses to the submitted steps
            for step, digest in zip(reversed(record["steps"]), reversed(digests), strict=False):
                step["response_sha256"] = digest
            record["raw_sha256"] = digests
            record["outcome"] = result.outcome
            record["detail"] = result.detail
            blob = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str).encode()
            result.evidence_sha256 = keep(blob, "application/json")
        finally:
            if own is not None:
                own.__exit__(None, None, None)
        last = record["steps"][-1] if record["steps"] else {}
        summary = {"channel": "webform", "outcome": result.outcome, "detail": result.detail,
                   "start_url": record["start_url"], "final_url": last.get("final_url", ""),
                   "status": last.get("status"), "confirmation": record.get("confirmation", ""),
                   "accessibility": record["accessibility"], "evidence": result.evidence_sha256}
        result.evidence = {**result.evidence, **summary}
        probe.dispatch = {**(probe.dispatch or {}), **summary}
        return result
