"""Planning: turn a campaign folder into probes (brand x channel x scenario x wave).

Everything drawn here (persona, send slot, order numbers, reply alias, Message-ID) comes from
a random generator seeded by the campaign seed and the probe's natural key, so planning is
reproducible and independent of the order in which probes are created; planning again
creates only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session, select

from .campaign.spec import BrandSpec, CampaignSpec, PersonaSpec, ScenarioSpec, SendSlots, WaveSpec
from .campaign.templating import ascii_slug, draw_fill, render, values_for
from .db import lock_key
from .errors import InvalidInput, Problem
from .events import log_event
from .models import Brand, Campaign, Persona, Probe, ProbeState, Scenario, Wave
from .workspace import Workspace


@dataclass
class PlanResult:
    campaign_id: int
    created: int = 0
    existing: int = 0
    by_channel: Counter = field(default_factory=Counter)
    not_testable: list[str] = field(default_factory=list)  # "brand/channel" without contact point


def _rng(seed: int, *parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(str(p) for p in (seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _token(seed: int, key: str, n: int = 4) -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    rng = _rng(seed, "alias", key)
    return "".join(rng.choice(alphabet) for _ in range(n))


def reply_address(persona: PersonaSpec, seed: int, probe_key: str) -> str:
    """Return the probe's own reply address: an alias that looks like a person's address."""
    tok = _token(seed, probe_key)
    if persona.alias_mode == "catchall" and persona.alias_domain:
        local = f"{ascii_slug(persona.first_name, '')}.{ascii_slug(persona.last_name, '')}.{tok}"
        return f"{local}@{persona.alias_domain}"
    local, _, domain = persona.email.partition("@")
    return f"{local}+{tok}@{domain}"


def message_id(persona: PersonaSpec, seed: int, probe_key: str) -> str:
    """Return the Message-ID our request will carry, shaped like a mail client's."""
    rng = _rng(seed, "msgid", probe_key)
    domain = persona.email.partition("@")[2] or "localhost"
    return f"<{rng.getrandbits(64):016x}.{rng.getrandbits(32):08x}@{domain}>"


def draw_send_slot(seed: int, probe_key: str, wave: WaveSpec, slots: SendSlots, tz: ZoneInfo) -> datetime:
    """Return a send time inside the wave's first `spread_days` days, in a brand-local slot."""
    rng = _rng(seed, "slot", probe_key)
    days = [wave.starts_on + timedelta(days=i) for i in range(wave.spread_days)]
    allowed = [d for d in days if d.weekday() in slots.days] or days
    day = rng.choice(allowed)
    start, end = rng.choice(slots.spans)
    a = datetime.combine(day, start, tzinfo=tz)
    b = datetime.combine(day, end, tzinfo=tz)
    minutes = max(1, int((b - a).total_seconds() // 60))
    return (a + timedelta(minutes=rng.randrange(minutes))).astimezone(UTC)


def _sync_rows(session: Session, spec: CampaignSpec, clock_now: datetime) -> tuple[Campaign, dict, dict, dict, dict]:
    cfg = spec.config
    camp = session.exec(select(Campaign).where(Campaign.slug == cfg.slug)).first()
    if camp is None:
        camp = Campaign(slug=cfg.slug, name=cfg.name, edition=cfg.edition, seed=cfg.seed, created_at=clock_now)
    camp.name, camp.edition, camp.seed = cfg.name, cfg.edition, cfg.seed
    # Secret references only: clear secrets are refused by the loader.
    camp.config = json.loads(json.dumps(cfg.raw, default=str))
    session.add(camp)
    session.flush()
    cid = camp.id
    assert cid is not None

    waves = {w.number: w for w in session.exec(select(Wave).where(Wave.campaign_id == cid))}
    for ws in cfg.waves:
        row = waves.get(ws.number) or Wave(campaign_id=cid, number=ws.number, starts_on=ws.starts_on)
        row.label, row.starts_on, row.spread_days, row.window_days = ws.label, ws.starts_on, ws.spread_days, cfg.window_days
        session.add(row)
        waves[ws.number] = row
    brands = {b.key: b for b in session.exec(select(Brand).where(Brand.campaign_id == cid))}
    for b in spec.brands:
        row = brands.get(b.key) or Brand(campaign_id=cid, key=b.key, name=b.name)
        row.name, row.sector, row.country, row.timezone = b.name, b.sector, b.country, b.timezone
        row.opening_hours, row.contacts, row.form_mapping = b.opening_hours.text, dict(b.contacts), dict(b.form_mapping)
        session.add(row)
        brands[b.key] = row
    personas = {p.key: p for p in session.exec(select(Persona).where(Persona.campaign_id == cid))}
    for p in spec.personas:
        row = personas.get(p.key) or Persona(campaign_id=cid, key=p.key, first_name=p.first_name,
                                             last_name=p.last_name, email=p.email)
        for attr in ("first_name", "last_name", "email", "alias_domain", "alias_mode", "account", "phone", "city"):
            setattr(row, attr, getattr(p, attr))
        session.add(row)
        personas[p.key] = row
    scenarios: dict[str, Scenario] = {}
    existing = {(s.key, s.content_hash): s for s in session.exec(select(Scenario).where(Scenario.campaign_id == cid))}
    for s in spec.scenarios:
        row = existing.get((s.id, s.content_hash)) or Scenario(
            campaign_id=cid, key=s.id, content_hash=s.content_hash, title=s.title, kind=s.kind,
            language=s.language, spec=s.raw)
        session.add(row)
        scenarios[s.id] = row
    session.flush()
    return camp, waves, brands, personas, scenarios


def plan_campaign(ws: Workspace, spec: CampaignSpec | None = None) -> PlanResult:
    """Create the campaign's missing probes and return what was created."""
    spec = spec or ws.spec()
    cfg = spec.config
    now = ws.clock.now()
    with ws.session() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Two machines of a team planning at once: one after the other (the second then
            # finds every probe planned), never two inserts of one key.
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("plan", cfg.slug)})
        camp, waves, brands, personas, scenarios = _sync_rows(session, spec, now)
        assert camp.id is not None
        result = PlanResult(campaign_id=camp.id)
        existing = {p.key: p for p in session.exec(select(Probe).where(Probe.campaign_id == camp.id))}
        used: dict[str, set[int]] = defaultdict(set)  # brand key -> persona ids already writing to it
        for p in existing.values():
            used[str(p.brand_id)].add(p.persona_id)
        persona_specs = {p.key: p for p in spec.personas}
        addresses = {p.reply_address for p in existing.values()}
        # Another edition in the same database may have drawn the same aliases and Message-IDs
        # (same seed, same keys): they must stay unique across the database.
        addresses |= set(session.exec(select(Probe.reply_address).where(Probe.campaign_id != camp.id)))
        message_ids = set(session.exec(select(Probe.message_id).where(Probe.campaign_id != camp.id)))
        problems: list[Problem] = []
        new: list[Probe] = []
        for wave in cfg.waves:
            for brand in spec.brands:
                brow = brands[brand.key]
                tz = ZoneInfo(brand.timezone)
                wanted = _wanted(cfg.channels, brand, spec.scenarios, wave, result)
                order = sorted(spec.personas, key=lambda p: _rng(cfg.seed, "persona", brand.key, p.key).random())
                for channel, scen in wanted:
                    key = f"w{wave.number}:{brand.key}:{channel}:{scen.id}"
                    if key in existing:
                        result.existing += 1
                        continue
                    free = [p for p in order if personas[p.key].id not in used[str(brow.id)]]
                    if not free:
                        problems.append(Problem(cfg.personas_file, f"no persona left to write to {brand.name!r} "
                                                f"for {key}: no persona may write twice to one brand",
                                                "add personas to the personas file"))
                        continue
                    pspec = free[0]
                    prow = personas[pspec.key]
                    used[str(brow.id)].add(prow.id)  # type: ignore[arg-type]
                    new.append(_make_probe(cfg.seed, key, camp.id, waves[wave.number], brow, brand, prow,
                                           persona_specs[pspec.key], scenarios[scen.id], scen, wave, cfg, tz))
                    probe = new[-1]
                    salt = 0
                    while probe.reply_address in addresses:  # a 4-letter alias may collide
                        salt += 1
                        probe.reply_address = reply_address(persona_specs[pspec.key], cfg.seed, f"{key}#{salt}")
                    addresses.add(probe.reply_address)
                    while probe.message_id in message_ids:
                        salt += 1
                        probe.message_id = message_id(persona_specs[pspec.key], cfg.seed, f"{key}#{salt}")
                    result.by_channel[channel] += 1
        if problems:
            raise InvalidInput(problems, f"cannot plan: {len(problems)} probe(s) have no free persona")
        session.add_all(new)
        session.flush()
        result.created = len(new)
        log_event(session, camp.id, "plan.created", f"campaign:{camp.id}",
                  {"created": result.created, "existing": result.existing,
                   "by_channel": dict(result.by_channel)}, ws.clock)
    return result


def _wanted(channels: tuple[str, ...], brand: BrandSpec, scenarios: tuple[ScenarioSpec, ...], wave: WaveSpec,
            result: PlanResult) -> list[tuple[str, ScenarioSpec]]:
    out = []
    for channel in channels:
        if channel not in brand.contacts:
            if wave.number == 1:
                result.not_testable.append(f"{brand.key}/{channel}")
            continue
        out.extend((channel, s) for s in scenarios if channel in s.channels)
    return out


def _make_probe(seed: int, key: str, campaign_id: int, wave_row: Wave, brow: Brand, brand: BrandSpec,
                prow: Persona, persona: PersonaSpec, srow: Scenario, scen: ScenarioSpec, wave: WaveSpec,
                cfg, tz: ZoneInfo) -> Probe:  # type: ignore[no-untyped-def]
    rng = _rng(seed, "fills", key)
    fills = {name: draw_fill(pattern, rng) for name, pattern in sorted(scen.fills.items())}
    values = values_for(persona, brand, fills)
    planned = draw_send_slot(seed, key, wave, cfg.send_slots, tz)
    return Probe(
        campaign_id=campaign_id, key=key, wave_id=wave_row.id, brand_id=brow.id, scenario_id=srow.id,  # type: ignore[arg-type]
        persona_id=prow.id, channel=key.split(":")[2], state=ProbeState.PLANNED.value,  # type: ignore[arg-type]
        planned_at=planned, window_ends_at=planned + timedelta(days=cfg.window_days),
        reply_address=reply_address(persona, seed, key), message_id=message_id(persona, seed, key),
        subject=_sentence_case(render(scen.subject, values)), body=render(scen.body, values),
        short_text=render(scen.short, values), fills=fills,
    )


def _sentence_case(text: str) -> str:
    # A placeholder at the start ("{product} en panne") must not leave a lowercase subject.
    return text[:1].upper() + text[1:]
