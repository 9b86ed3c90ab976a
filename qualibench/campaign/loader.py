"""Load and validate a campaign folder, reporting every problem in one pass."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InvalidInput, Problem
from ..hours import (
    COUNTRY_TZ,
    DEFAULT_OPENING_HOURS,
    HoursSyntaxError,
    OpeningHours,
    parse_days,
    parse_time_span,
)
from .limits import CAMPAIGN_TOML_BYTES, TOML_DEPTH, toml_too_deep, too_big
from .scenarios import load_scenarios
from .spec import (
    ASSISTED_CHANNELS,
    KNOWN_CHANNELS,
    AccountSpec,
    AwardRules,
    BrandSpec,
    CampaignConfig,
    CampaignSpec,
    PersonaSpec,
    ReminderPolicy,
    SendSlots,
    Throttle,
    WaveSpec,
)
from .tabular import read_table
from .templating import ascii_slug

CAMPAIGN_FILE = "campaign.toml"
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
URL_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d+)?(/\S*)?$")
HANDLE_RE = re.compile(r"^@?[A-Za-z0-9_]{1,15}$")
DOMAIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
SECRET_KEY_RE = re.compile(r"(^|_)(password|passwd|pwd|secret|token|api_?key|bearer)$", re.I)

TOP_KEYS = {"campaign", "waves", "channels", "window", "reminder", "send_slots", "throttle",
            "scoring", "awards", "accounts", "files", "scenarios", "mail", "webform", "x"}
BRAND_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("brand", "marque", "nom"),
    "sector": ("secteur", "industry"),
    "country": ("pays",),
    "timezone": ("tz", "time_zone", "fuseau", "fuseau_horaire"),
    "opening_hours": ("hours", "horaires", "opening"),
    "email": ("e_mail", "mail", "email_address", "courriel", "contact_email"),
    "contact_form_url": ("form_url", "contact_form", "formulaire", "webform", "contact_url"),
    "x_handle": ("x", "twitter", "twitter_handle", "x_account"),
    "facebook_page": ("facebook", "fb", "facebook_url"),
    "other_channels": ("other", "autres_canaux", "channels_other"),
    "channels": ("tested_channels", "canaux"),
    "form_mapping": ("form_fields", "mapping"),
}
PERSONA_COLUMNS: dict[str, tuple[str, ...]] = {
    "key": ("id", "persona"),
    "first_name": ("firstname", "prenom", "given_name"),
    "last_name": ("lastname", "nom", "surname", "family_name"),
    "email": ("e_mail", "mail", "mailbox"),
    "alias_domain": ("catchall_domain", "domain"),
    "alias_mode": ("reply_mode",),
    "account": ("mail_account",),
    "phone": ("telephone", "tel"),
    "city": ("ville",),
}


def load_campaign(root: Path | str) -> CampaignSpec:
    """Return the campaign in folder `root`, or raise InvalidInput listing every problem."""
    spec, problems = check_campaign(root)
    errors = [p for p in problems if p.severity == "error"]
    if errors or spec is None:
        raise InvalidInput(problems)
    return spec


def check_campaign(root: Path | str) -> tuple[CampaignSpec | None, list[Problem]]:
    """Return the loaded campaign (None if unusable) and all problems and warnings found."""
    root = Path(root).resolve()
    problems: list[Problem] = []
    config = _load_config(root, problems)
    if config is None:
        return None, problems
    brands = _load_brands(root / config.brands_file, config, problems)
    personas = _load_personas(root / config.personas_file, config, problems)
    scenarios = load_scenarios(root, config, problems)
    if not any(p.severity == "error" for p in problems):
        _check_coverage(config, brands, personas, scenarios, problems)
    spec = CampaignSpec(root=root, config=config, brands=tuple(brands), personas=tuple(personas),
                        scenarios=tuple(scenarios),
                        warnings=tuple(p for p in problems if p.severity != "error"))
    return spec, problems


# --- campaign.toml -----------------------------------------------------------------------


def _toml_location(exc: tomllib.TOMLDecodeError) -> str:
    m = re.search(r"line (\d+), column (\d+)", str(exc))
    return f"line {m.group(1)}, column {m.group(2)}" if m else ""


def _find_clear_secrets(node: Any, path: str, problems: list[Problem], fname: str) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{path}.{k}" if path else k
            if SECRET_KEY_RE.search(str(k)) and isinstance(v, str) and v:
                problems.append(Problem(
                    fname, "a secret is written in clear in the file (refused)",
                    f'remove it and write {k}_env = "{secret_env_name(here)}", then export that variable',
                    location=f"[{path}]" if path else "top level", field=str(k)))
            else:
                _find_clear_secrets(v, here, problems, fname)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _find_clear_secrets(v, f"{path}[{i}]", problems, fname)


def secret_env_name(dotted: str) -> str:
    """Return the environment variable suggested for the secret at `dotted` (TOML key path):
    accounts.shopper.password -> QB_SHOPPER_PASSWORD, the name `qualibench init` writes."""
    parts = dotted.split(".")
    if len(parts) == 3 and parts[0] == "accounts":
        parts = parts[1:]
    return "QB_" + ascii_slug("_".join(parts), "_").upper()


def _num(table: dict, key: str, default: Any, problems: list[Problem], fname: str, where: str,
         kind: type = int, minimum: float | None = None) -> Any:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and isinstance(value, float)):
        problems.append(Problem(fname, f"{value!r} is not a {'whole number' if kind is int else 'number'}",
                                f"write a number, e.g. {key} = {default}", location=where, field=key))
        return default
    if minimum is not None and value < minimum:
        problems.append(Problem(fname, f"{value} is below {minimum}", f"use a value >= {minimum}",
                                location=where, field=key))
        return default
    return kind(value)


def _load_config(root: Path, problems: list[Problem]) -> CampaignConfig | None:
    path = root / CAMPAIGN_FILE
    fname = str(path)
    if not path.exists():
        problems.append(Problem(fname, "no campaign.toml in this folder",
                                "run `qualibench init DIR` to create a campaign, or pass --campaign DIR"))
        return None
    if too_big(path, CAMPAIGN_TOML_BYTES, "campaign.toml", problems):
        return None
    text = path.read_bytes().decode("utf-8", errors="replace")
    if toml_too_deep(text, path, problems):
        return None
    try:
        data = tomllib.loads(text)
    except RecursionError:  # the bracket count above should make this unreachable
        problems.append(Problem(fname, f"nested more than {TOML_DEPTH} levels deep",
                                "remove the nesting"))
        return None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc).split(" (at ")[0]
        problems.append(Problem(fname, f"TOML syntax error: {msg}",
                                "fix the syntax at that place (strings in quotes, one key per line)",
                                location=_toml_location(exc)))
        return None
    _find_clear_secrets(data, "", problems, fname)
    for key in data:
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(key, TOP_KEYS, n=1)
            problems.append(Problem(fname, f"unknown section or key {key!r}",
                                    f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(TOP_KEYS))}",
                                    field=key))
    camp = data.get("campaign", {})
    if not isinstance(camp, dict) or not camp.get("name"):
        problems.append(Problem(fname, "the campaign has no name", 'add name = "..." under [campaign]',
                                location="[campaign]", field="name"))
        camp = camp if isinstance(camp, dict) else {}
    name = str(camp.get("name", "campaign"))
    edition = str(camp.get("edition", ""))
    slug = str(camp.get("slug") or ascii_slug(f"{name} {edition}".strip()))
    seed = _num(camp, "seed", 0, problems, fname, "[campaign]")
    language = str(camp.get("language", "fr"))
    if language not in ("fr", "en"):
        problems.append(Problem(fname, f"language {language!r} is not supported", 'use "fr" or "en"',
                                location="[campaign]", field="language"))

    channels = camp.get("channels", data.get("channels", ["email"]))
    if not isinstance(channels, list) or not channels:
        problems.append(Problem(fname, "channels must be a non-empty list", 'e.g. channels = ["email", "webform"]',
                                field="channels"))
        channels = ["email"]
    for ch in channels:
        if ch not in KNOWN_CHANNELS:
            close = difflib.get_close_matches(str(ch), KNOWN_CHANNELS, n=1)
            problems.append(Problem(fname, f"unknown channel {ch!r}",
                                    f"did you mean {close[0]!r}?" if close else f"known: {', '.join(KNOWN_CHANNELS)}",
                                    field="channels"))

    waves = []
    raw_waves = data.get("waves", [])
    if not isinstance(raw_waves, list) or not raw_waves:
        problems.append(Problem(fname, "no wave is defined",
                                'add [[waves]] with start = 2026-12-01', field="waves"))
        raw_waves = []
    for i, w in enumerate(raw_waves, start=1):
        where = f"[[waves]] #{i}"
        start = w.get("start") if isinstance(w, dict) else None
        if isinstance(start, str):
            try:
                start = date.fromisoformat(start)
            except ValueError:
                start = None
        if not isinstance(start, date):
            problems.append(Problem(fname, "the wave has no valid start date",
                                    "write start = 2026-12-01 (a TOML date, no quotes)", location=where, field="start"))
            continue
        spread = _num(w, "spread_days", 5, problems, fname, where, minimum=1)
        waves.append(WaveSpec(number=i, starts_on=start, label=str(w.get("label", f"Wave {i}")), spread_days=spread))

    window = data.get("window", {})
    window_days = _num(window if isinstance(window, dict) else {}, "days", 14, problems, fname, "[window]", minimum=1)
    rem = data.get("reminder", {}) if isinstance(data.get("reminder", {}), dict) else {}
    reminder = ReminderPolicy(enabled=bool(rem.get("enabled", False)),
                              after_days=_num(rem, "after_days", 7, problems, fname, "[reminder]", minimum=1))
    send_slots = _load_slots(data.get("send_slots", {}), problems, fname)
    thr = data.get("throttle", {}) if isinstance(data.get("throttle", {}), dict) else {}
    throttle = Throttle(
        per_domain_seconds=_num(thr, "per_domain_seconds", 60.0, problems, fname, "[throttle]", float, 0),
        per_account_per_hour=_num(thr, "per_account_per_hour", 60, problems, fname, "[throttle]", int, 1))
    scoring = data.get("scoring", {}) if isinstance(data.get("scoring", {}), dict) else {}
    awards = _load_awards(data.get("awards", {}), problems, fname)
    accounts = _load_accounts(data.get("accounts", {}), problems, fname)
    files = data.get("files", {}) if isinstance(data.get("files", {}), dict) else {}
    scen = data.get("scenarios", {}) if isinstance(data.get("scenarios", {}), dict) else {}
    mail = data.get("mail", {}) if isinstance(data.get("mail", {}), dict) else {}
    reply_mode = str(mail.get("reply_mode", "catchall"))
    if reply_mode not in ("catchall", "plus"):
        problems.append(Problem(fname, f"reply_mode {reply_mode!r} is not known",
                                'use "catchall" (alias domain) or "plus" (user+tag@)', location="[mail]",
                                field="reply_mode"))
    if "email" in channels and not any(a.smtp_host for a in accounts.values()):
        problems.append(Problem(fname, "the email channel needs a mail account",
                                "add [accounts.shopper] with smtp_host, imap_host and username",
                                location="[accounts]"))
    return CampaignConfig(
        name=name, slug=slug, edition=edition, seed=seed, language=language,
        client=str(camp.get("client", "")), author=str(camp.get("author", "")),
        channels=tuple(str(c) for c in channels), waves=tuple(waves), window_days=window_days,
        reminder=reminder, send_slots=send_slots, throttle=throttle,
        rubric=str(scoring.get("rubric", "default")), awards=awards, accounts=accounts,
        reply_mode=reply_mode,
        brands_file=str(files.get("brands", "brands.csv")),
        personas_file=str(files.get("personas", "personas.csv")),
        scenario_dirs=tuple(scen.get("folders", ["scenarios"])),
        scenario_ids=tuple(scen.get("select", [])),
        use_default_scenarios=bool(scen.get("use_defaults", True)),
        raw=data,
    )


def _load_slots(raw: Any, problems: list[Problem], fname: str) -> SendSlots:
    if not isinstance(raw, dict):
        return SendSlots()
    days: tuple[int, ...] = SendSlots().days
    spans = SendSlots().spans
    try:
        if "days" in raw:
            days = tuple(parse_days(raw["days"] if isinstance(raw["days"], str) else ",".join(raw["days"])))
        if "hours" in raw:
            hours = raw["hours"] if isinstance(raw["hours"], list) else [raw["hours"]]
            spans = tuple(parse_time_span(str(h)) for h in hours)
    except HoursSyntaxError as exc:
        problems.append(Problem(fname, f"send slots: {exc}",
                                'write days = "mon-fri" and hours = ["09:00-12:00", "14:00-17:00"]',
                                location="[send_slots]"))
    return SendSlots(days=days, spans=spans)


def _load_awards(raw: Any, problems: list[Problem], fname: str) -> AwardRules:
    if not isinstance(raw, dict):
        return AwardRules()
    d = AwardRules()
    where = "[awards]"
    rules = AwardRules(
        delay_weight=_num(raw, "delay_weight", d.delay_weight, problems, fname, where, float, 0),
        quality_weight=_num(raw, "quality_weight", d.quality_weight, problems, fname, where, float, 0),
        channel_weights={str(k): float(v) for k, v in raw.get("channel_weights", {}).items()},
        min_tests_per_brand=_num(raw, "min_tests_per_brand", d.min_tests_per_brand, problems, fname, where, int, 0),
        min_brands_per_sector=_num(raw, "min_brands_per_sector", d.min_brands_per_sector, problems, fname, where, int, 1),
        min_candidates=_num(raw, "min_candidates", d.min_candidates, problems, fname, where, int, 1),
        min_index=_num(raw, "min_index", d.min_index, problems, fname, where, float, 0),
        tie_break=tuple(raw.get("tie_break", d.tie_break)),
        bootstrap_samples=_num(raw, "bootstrap_samples", d.bootstrap_samples, problems, fname, where, int, 50),
        confidence=_num(raw, "confidence", d.confidence, problems, fname, where, float, 0.5),
        rule=str(raw.get("rule", d.rule)),
        min_answered=_num(raw, "min_answered", d.min_answered, problems, fname, where, int, 0),
        precision=_num(raw, "precision", d.precision, problems, fname, where, int, 0),
        caution_probability=_num(raw, "caution_probability", d.caution_probability, problems, fname, where,
                                 float, 0),
        social_channels=tuple(str(c) for c in raw.get("social_channels", d.social_channels)),
    )
    if rules.rule not in ("published", "significant"):
        problems.append(Problem(fname, f"award rule {rules.rule!r} is not known",
                                'use rule = "published" (highest published index wins) or "significant" '
                                "(co-winners while the bootstrap cannot separate them)", location=where,
                                field="rule"))
    if abs(rules.delay_weight + rules.quality_weight - 100) > 1e-6:
        problems.append(Problem(fname, f"delay_weight + quality_weight = {rules.delay_weight + rules.quality_weight:g}, not 100",
                                "make the two weights sum to 100 (default 30 + 70)", location=where))
    return rules


def _load_accounts(raw: Any, problems: list[Problem], fname: str) -> dict[str, AccountSpec]:
    out: dict[str, AccountSpec] = {}
    if not isinstance(raw, dict):
        return out
    for name, a in raw.items():
        where = f"[accounts.{name}]"
        if not isinstance(a, dict):
            continue
        smtp_sec = str(a.get("smtp_security", "starttls"))
        imap_sec = str(a.get("imap_security", "tls"))
        for key, val, allowed in (("smtp_security", smtp_sec, ("tls", "starttls", "plain")),
                                  ("imap_security", imap_sec, ("tls", "starttls", "plain"))):
            if val not in allowed:
                problems.append(Problem(fname, f"{val!r} is not a security mode", f"use one of {', '.join(allowed)}",
                                        location=where, field=key))
        default_smtp = {"tls": 465, "starttls": 587, "plain": 25}.get(smtp_sec, 587)
        default_imap = {"tls": 993}.get(imap_sec, 143)
        folders = a.get("folders", ["INBOX", "Junk"])
        out[name] = AccountSpec(
            name=name, username=str(a.get("username", "")),
            smtp_host=str(a.get("smtp_host", "")), smtp_port=int(a.get("smtp_port", default_smtp)),
            smtp_security=smtp_sec,
            imap_host=str(a.get("imap_host", "")), imap_port=int(a.get("imap_port", default_imap)),
            imap_security=imap_sec,
            password_env=str(a.get("password_env", "")), password_keyring=str(a.get("password_keyring", "")),
            token_env=str(a.get("token_env", "")), sent_folder=str(a.get("sent_folder", "Sent")),
            folders=tuple(str(f) for f in folders), api_base=str(a.get("api_base", "")),
        )
        clear = any(SECRET_KEY_RE.search(str(k)) and v for k, v in a.items())
        if (a.get("smtp_host") or a.get("imap_host")) and not (a.get("password_env") or a.get("password_keyring")) \
                and not clear:  # a password in clear is already an error naming the variable
            problems.append(Problem(fname, "the account has a server but no password reference",
                                    f'add password_env = "{secret_env_name(f"accounts.{name}.password")}" '
                                    "(or password_keyring)", location=where, field="password_env",
                                    severity="warning"))
        for ref in ("password_env", "token_env"):
            var = str(a.get(ref, ""))
            if var and not os.environ.get(var):
                problems.append(Problem(
                    fname, f"the environment variable {var} is not set: send and collect will refuse to start",
                    f"export {var}=... in the shell that runs qualibench", location=where, field=ref,
                    severity="warning"))
    return out


# --- brands and personas -------------------------------------------------------------------


URL_IN_TEXT_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s;,]+")


def url_credential(text: str) -> str | None:
    """Return what credential a URL in `text` carries ("a password", "a user name", "a token
    parameter 'key'"), or None. The credential itself is never returned, so never printed."""
    for url in URL_IN_TEXT_RE.findall(text):
        try:
            parts = urlsplit(url)
            password, user = parts.password, parts.username
        except ValueError:
            continue
        if password:
            return "a password"
        if user:
            return "a user name"
        for key, _ in parse_qsl(parts.query, keep_blank_values=True):
            if SECRET_KEY_RE.search(key) or key.lower() in {"key", "auth", "access_token", "sig"}:
                return f"a secret parameter {key!r}"
    return None


def _parse_pairs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in re.split(r"[;\n]", text):
        if part.strip():
            if "=" not in part:
                raise ValueError(f"{part.strip()!r} is not name=value")
            k, v = part.split("=", 1)
            out[k.strip().lower()] = v.strip()
    return out


def _load_brands(path: Path, config: CampaignConfig, problems: list[Problem]) -> list[BrandSpec]:
    table = read_table(path, BRAND_COLUMNS, ("name", "sector"), problems, "brands")
    if table is None:
        return []
    fname = str(path)
    brands: list[BrandSpec] = []
    seen: dict[str, int] = {}
    shared: dict[tuple[str, str], tuple[str, int]] = {}  # (channel, contact point) -> first brand
    for line, row in table.rows:
        loc = f"row {line}"
        n_before = len([p for p in problems if p.severity == "error"])

        def bad(field: str, message: str, hint: str, _loc: str = loc) -> None:
            problems.append(Problem(fname, message, hint, location=_loc, field=field))

        for column in sorted(row):
            secret = url_credential(row[column])
            if secret:
                # Like a password in campaign.toml: refused, and the row's value never echoed.
                bad(column, f"a web address in this cell carries {secret} (refused)",
                    "remove the credentials from the URL: qualibench contacts brands as an "
                    "anonymous customer")
                row[column] = ""
        name = row.get("name", "")
        if not name:
            bad("name", "the brand has no name", "fill the name column or delete the row")
            continue
        key = ascii_slug(name)
        if key in seen:  # reported, and the row's other problems too
            bad("name", f"duplicate brand {name!r} (already on row {seen[key]})", "keep one row per brand")
        else:
            seen[key] = line
        if not row.get("sector"):
            bad("sector", f"brand {name!r} has no sector", "fill the sector (e.g. retail, bank, telecom)")
        country = (row.get("country") or "FR").upper()
        tz_name = row.get("timezone") or COUNTRY_TZ.get(country, "")
        if not tz_name:
            bad("timezone", f"no timezone for country {country!r}", "fill the timezone, e.g. Europe/Paris")
        else:
            try:
                ZoneInfo(tz_name)
            except (ZoneInfoNotFoundError, ValueError):
                close = difflib.get_close_matches(tz_name, ["Europe/Paris", "Europe/London", "Europe/Brussels",
                                                            "Europe/Zurich", "America/New_York", "America/Toronto"], n=1)
                bad("timezone", f"unknown timezone {tz_name!r}",
                    f"use an IANA name such as {close[0] if close else 'Europe/Paris'}")
        hours_text = row.get("opening_hours") or DEFAULT_OPENING_HOURS
        try:
            hours = OpeningHours.parse(hours_text)
        except HoursSyntaxError as exc:
            bad("opening_hours", f"opening hours do not parse: {exc}",
                'write e.g. "mon-fri 09:00-18:00; sat 10:00-12:00"')
            hours = OpeningHours.parse(DEFAULT_OPENING_HOURS)
        contacts: dict[str, str] = {}
        email = row.get("email", "")
        if email:
            if EMAIL_RE.match(email):
                contacts["email"] = email.lower()
            else:
                bad("email", f"{email!r} is not an e-mail address", "write it as name@domain.tld")
        url = row.get("contact_form_url", "")
        if url:
            if URL_RE.match(url):
                contacts["webform"] = url
            else:
                bad("contact_form_url", f"{url!r} is not a web address", "write the full URL with https://")
        handle = row.get("x_handle", "")
        if handle:
            if HANDLE_RE.match(handle):
                contacts["x"] = "@" + handle.lstrip("@")
            else:
                bad("x_handle", f"{handle!r} is not an X handle", "write @name (letters, digits, _; at most 15)")
        fb = row.get("facebook_page", "")
        if fb:
            contacts["facebook"] = fb
        if row.get("other_channels"):
            try:
                for ch, value in _parse_pairs(row["other_channels"]).items():
                    if ch not in KNOWN_CHANNELS:
                        bad("other_channels", f"unknown channel {ch!r}", f"use one of {', '.join(ASSISTED_CHANNELS)}")
                    else:
                        contacts[ch] = value
            except ValueError as exc:
                bad("other_channels", str(exc), 'write e.g. "whatsapp=+33612345678; chat=https://..."')
        mapping: dict[str, str] = {}
        if row.get("form_mapping"):
            try:
                mapping = _parse_pairs(row["form_mapping"])
            except ValueError as exc:
                bad("form_mapping", str(exc), 'write e.g. "message=msg_body; email=mail"')
        listed = [c.strip().lower() for c in re.split(r"[,;| ]+", row.get("channels", "")) if c.strip()]
        for ch in listed:
            if ch not in KNOWN_CHANNELS:
                bad("channels", f"unknown channel {ch!r}", f"use one of {', '.join(KNOWN_CHANNELS)}")
            elif ch not in contacts:
                bad("channels", f"brand {name!r} is to be tested on {ch} but has no contact point for it",
                    f"fill its {ch} contact column or remove {ch} from its channels")
        if listed:
            contacts = {k: v for k, v in contacts.items() if k in listed}
        for ch in ("email", "webform", "x"):
            point = contacts.get(ch, "").lower().rstrip("/")
            if not point:
                continue
            if (ch, point) in shared:
                other_name, other_line = shared[(ch, point)]
                column = {"email": "email", "webform": "contact_form_url", "x": "x_handle"}[ch]
                bad(column, f"{contacts[ch]!r} is also the {ch} contact of {other_name!r} (row {other_line})",
                    "give each brand its own contact point: a helpdesk writing to two tests "
                    "from one address cannot tell them apart, nor can we")
            else:
                shared[(ch, point)] = (name, line)
        if len([p for p in problems if p.severity == "error"]) > n_before:
            continue
        brands.append(BrandSpec(key=key, name=name, sector=row.get("sector", ""), country=country,
                                timezone=tz_name, opening_hours=hours, contacts=contacts,
                                form_mapping=mapping, row=line))
    if not brands and table.rows == []:
        problems.append(Problem(fname, "the brands table has a header but no brand",
                                "add one row per brand"))
    return brands


def _load_personas(path: Path, config: CampaignConfig, problems: list[Problem]) -> list[PersonaSpec]:
    table = read_table(path, PERSONA_COLUMNS, ("first_name", "last_name", "email"), problems, "personas")
    if table is None:
        return []
    fname = str(path)
    out: list[PersonaSpec] = []
    seen: set[str] = set()
    for line, row in table.rows:
        loc = f"row {line}"
        errs = []
        email = row.get("email", "")
        if not EMAIL_RE.match(email):
            errs.append(Problem(fname, f"{email!r} is not an e-mail address", "write it as name@domain.tld",
                                location=loc, field="email"))
        for col in ("first_name", "last_name"):
            if not row.get(col):
                errs.append(Problem(fname, f"{col} is empty", f"fill {col}", location=loc, field=col))
        alias_domain = row.get("alias_domain", "")
        if alias_domain and not DOMAIN_RE.match(alias_domain):
            errs.append(Problem(fname, f"{alias_domain!r} is not a domain name", "write e.g. mail.example.org",
                                location=loc, field="alias_domain"))
        mode = row.get("alias_mode") or ("catchall" if alias_domain else "plus")
        if config.reply_mode == "plus" and not row.get("alias_mode"):
            mode = "plus"
        if mode not in ("catchall", "plus"):
            errs.append(Problem(fname, f"alias mode {mode!r} is not known", 'use "catchall" or "plus"',
                                location=loc, field="alias_mode"))
        if mode == "catchall" and not alias_domain:
            errs.append(Problem(fname, "catch-all mode needs an alias domain",
                                "fill alias_domain or set alias_mode to plus", location=loc, field="alias_domain"))
        account = row.get("account") or "shopper"
        if config.accounts and account not in config.accounts:
            errs.append(Problem(fname, f"account {account!r} is not defined in campaign.toml",
                                f"add [accounts.{account}] or use one of {', '.join(config.accounts)}",
                                location=loc, field="account"))
        key = row.get("key") or ascii_slug(f"{row.get('first_name', '')} {row.get('last_name', '')}")
        if key in seen:
            errs.append(Problem(fname, f"duplicate persona {key!r}", "give each persona its own key",
                                location=loc, field="key"))
        seen.add(key)
        problems.extend(errs)
        if not errs:
            out.append(PersonaSpec(key=key, first_name=row["first_name"], last_name=row["last_name"],
                                   email=email.lower(), alias_domain=alias_domain.lower(), alias_mode=mode,
                                   account=account, phone=row.get("phone", ""), city=row.get("city", "")))
    if not out and not table.rows:
        problems.append(Problem(fname, "no persona is defined", "add one row per shopper identity"))
    return out


def _check_coverage(config: CampaignConfig, brands: list[BrandSpec], personas: list[PersonaSpec],
                    scenarios: list, problems: list[Problem]) -> None:
    """Warn about brands not testable on a campaign channel; check personas suffice."""
    fname = str(Path(config.brands_file))
    for ch in config.channels:
        missing = [b.name for b in brands if ch not in b.contacts]
        if missing:
            problems.append(Problem(fname, f"{len(missing)} brand(s) have no {ch} contact point and will not be "
                                    f"tested on {ch}: {', '.join(missing[:5])}{'…' if len(missing) > 5 else ''}",
                                    f"fill their {ch} contact or ignore this warning", severity="warning"))
        if not any(ch in s.channels for s in scenarios):
            problems.append(Problem("scenarios", f"no selected scenario allows channel {ch}",
                                    f"add {ch} to a scenario's channels", severity="warning"))
    for b in brands:
        need = len(config.waves) * sum(1 for ch in config.channels if ch in b.contacts
                                       for s in scenarios if ch in s.channels)
        if need > len(personas):
            problems.append(Problem(
                str(Path(config.personas_file)),
                f"brand {b.name!r} gets {need} test requests but there are only {len(personas)} personas, "
                "and no persona may write twice to one brand",
                f"add {need - len(personas)} persona(s) or select fewer scenarios"))
            break
