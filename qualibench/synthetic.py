"""A realistic finished campaign written straight into the database, for tests and benchmarks.

Each brand gets a "personality" (how often, how fast and how well it answers) drawn from the
seed, so rankings, ties, censoring and sector rules all have something to work on.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .models import (
    Brand,
    Campaign,
    InboundMessage,
    InboundStatus,
    MatchMethod,
    Persona,
    Probe,
    ProbeState,
    Reply,
    ReplyKind,
    Scenario,
    Score,
    Wave,
)

SYNTHETIC_RUBRIC = ("default", "synthetic-v1")
CRITERIA = {"relevance": 40, "reformulation": 20, "empathy": 20, "personalisation": 10,
            "politeness": 10}  # the default rubric's weights
SECTORS = ("Banque", "Télécoms", "Énergie", "Distribution", "Transport")
SMALL_SECTOR = "Tourisme"  # only two brands: its sector trophy must be suppressed
TIMEZONES = ("Europe/Paris", "Europe/Paris", "Europe/Paris", "Europe/Brussels",
             "America/Montreal", "Indian/Reunion")
SCENARIOS = (
    ("complaint-double-charge", "Double prélèvement", "complaint", "fr"),
    ("question-product-en", "Product question", "commercial_question", "en"),
    ("technical-box", "Box en panne", "technical_problem", "fr"),
    ("delivery-late", "Livraison en retard", "delivery", "fr"),
)
AGENTS = ("Julie Martin", "Karim Benali", "Sophie Leroy", "Thomas Petit", "Nadia Haddad")
PERSONAS = (("Claire", "Dupont"), ("Marc", "Lefebvre"), ("Amélie", "Rousseau"))


def build_finished_campaign(
    ws, *, brands: int = 30, channels: tuple[str, ...] = ("email", "webform", "x", "facebook"),
    scenarios: int = 3, seed: int = 0, waves: int = 1, window_days: int = 14,
) -> int:
    """Return the id of a new finished campaign (every probe final) written into `ws`'s database."""
    rng = random.Random(seed)
    start = date(2026, 3, 2)  # a Monday
    with ws.session() as s:
        camp = Campaign(
            slug=f"synthetic-{seed}-{rng.getrandbits(32):08x}", name="Trophées Synthétiques",
            edition="2026", seed=seed, created_at=datetime(2026, 2, 1, tzinfo=UTC),
            config=_config(channels, window_days),
        )
        s.add(camp)
        s.flush()
        cid = camp.id
        wave_rows = [Wave(campaign_id=cid, number=n + 1, label=f"Vague {n + 1}",
                          starts_on=start + timedelta(weeks=3 * n), spread_days=5,
                          window_days=window_days) for n in range(waves)]
        persona_rows = [Persona(campaign_id=cid, key=f"p{i}", first_name=f, last_name=l_,
                                email=f"{f.lower()}.{l_.lower()}@shopper.test".replace("é", "e"),
                                alias_domain="mx.shopper.test", phone=f"06 12 34 56 7{i}")
                        for i, (f, l_) in enumerate(PERSONAS)]
        scen_rows = [Scenario(campaign_id=cid, key=k, content_hash=hashlib.sha256(k.encode()).hexdigest(),
                              title=t, kind=kind, language=lang, spec={"id": k, "title": t})
                     for k, t, kind, lang in SCENARIOS[:scenarios]]
        brand_rows = [_brand(cid, i, brands, channels, rng) for i in range(brands)]
        s.add_all(wave_rows + persona_rows + scen_rows + brand_rows)
        s.flush()
        traits = {b.id: _traits(rng) for b in brand_rows}
        probes = []
        for w in wave_rows:
            for b in brand_rows:
                for ch in channels:
                    for sc in scen_rows:
                        probes.append(_probe(cid, w, b, ch, sc, rng.choice(persona_rows), rng))
        s.add_all(probes)
        s.flush()
        personas = {p.id: p for p in persona_rows}
        langs = {sc.id: sc.language for sc in scen_rows}
        inbound: list[InboundMessage] = []
        replies: list[Reply] = []
        for p in probes:
            for kind, at, text, sig in _outcome(p, traits[p.brand_id], personas[p.persona_id], rng):
                raw = f"{p.key}|{kind}|{at.isoformat()}".encode()
                inbound.append(InboundMessage(
                    campaign_id=cid, channel=p.channel, source="synthetic", sha256=hashlib.sha256(raw).hexdigest(),
                    size=len(text), collected_at=at, received_at=at, status=InboundStatus.MATCHED.value,
                    subject=f"Re: {p.subject}"))
                replies.append(Reply(
                    campaign_id=cid, inbound_id=0, probe_id=p.id, kind=kind,
                    match_method=rng.choice((MatchMethod.REPLY_ADDRESS, MatchMethod.MESSAGE_ID)).value,
                    match_confidence=1.0, received_at=at, text=text, signature=sig,
                    language=langs[p.scenario_id],
                    redirect_to="09 69 32 10 10" if kind == ReplyKind.REDIRECT.value else ""))
        s.add_all(inbound)
        s.flush()
        for r, m in zip(replies, inbound, strict=True):
            r.inbound_id = m.id
        s.add_all(replies)
        s.flush()
        by_probe = {p.id: p for p in probes}
        scores = [_score(cid, r, traits[by_probe[r.probe_id].brand_id], rng) for r in replies
                  if r.kind in (ReplyKind.ANSWER.value, ReplyKind.REDIRECT.value)]
        s.add_all(scores)
    return cid


def _config(channels: tuple[str, ...], window_days: int) -> dict:
    # Shaped like campaign.toml, which is what planning stores in Campaign.config.
    return {
        "campaign": {"name": "Trophées Synthétiques", "edition": "2026", "language": "fr"},
        "channels": list(channels),
        "window": {"days": window_days},
        "reminder": {"enabled": True, "after_days": 7},
        "send_slots": {"days": "mon-fri", "hours": ["09:00-12:00", "14:00-17:00"]},
        "scoring": {"rubric": "default"},
        "awards": {"delay_weight": 30, "quality_weight": 70, "min_tests_per_brand": 3,
                   "min_brands_per_sector": 3, "min_candidates": 3,
                   "tie_break": ["quality", "answer_rate", "median_delay"],
                   "bootstrap_samples": 1000},
    }


def _brand(cid: int, i: int, total: int, channels: tuple[str, ...], rng: random.Random) -> Brand:
    sector = SMALL_SECTOR if (total >= 8 and i < 2) else SECTORS[i % len(SECTORS)]
    key = f"brand-{i:04d}"
    return Brand(campaign_id=cid, key=key, name=f"Marque {i:04d}", sector=sector,
                 timezone=TIMEZONES[i % len(TIMEZONES)], country="FR",
                 opening_hours="mon-fri 09:00-18:00; sat 10:00-12:00" if i % 3 else "mon-fri 08:30-19:00",
                 contacts={ch: f"contact@{key}.test" for ch in channels})


def _traits(rng: random.Random) -> dict:
    return {
        "answer": rng.uniform(0.35, 0.98),
        "median_h": 10 ** rng.uniform(-0.5, 2.2),  # from 20 minutes to a week
        "quality": rng.uniform(25, 92),
        "ack": rng.random() < 0.5,
        "bounce": rng.random() < 0.04,
    }


def _probe(cid, w: Wave, b: Brand, ch: str, sc: Scenario, persona: Persona, rng: random.Random) -> Probe:
    day = w.starts_on + timedelta(days=rng.randrange(w.spread_days))
    slot = rng.choice(((9, 12), (14, 17)))
    local = datetime.combine(day, time(rng.randrange(*slot), rng.randrange(60)), tzinfo=ZoneInfo("Europe/Paris"))
    sent = local.astimezone(UTC)
    key = f"w{w.number}:{b.key}:{ch}:{sc.key}"
    order = f"CMD-{rng.randrange(10**6):06d}"
    return Probe(
        campaign_id=cid, key=key, wave_id=w.id, brand_id=b.id, scenario_id=sc.id, persona_id=persona.id,
        channel=ch, state=ProbeState.SENT.value, planned_at=sent, sent_at=sent, dispatching_at=sent,
        window_ends_at=sent + timedelta(days=w.window_days),
        reply_address=f"{key.replace(':', '.')}@mx.shopper.test", message_id=f"<{key}@shopper.test>",
        subject=sc.title, body=f"Bonjour, commande {order}. {persona.first_name} {persona.last_name}",
        fills={"order": order}, attempts=1,
    )


def _outcome(p: Probe, t: dict, persona: Persona, rng: random.Random) -> list[tuple[str, datetime, str, str]]:
    """Return the replies (kind, received_at, text, signature) a brand with traits `t` sends to `p`."""
    if rng.random() < 0.01:  # never left the outbox
        p.state, p.sent_at, p.failure_reason = ProbeState.FAILED.value, None, "smtp 421 too many connections"
        return []
    if t["bounce"] or rng.random() < 0.02:
        p.state, p.failure_reason = ProbeState.UNDELIVERABLE.value, "550 5.1.1 mailbox unavailable"
        return [(ReplyKind.BOUNCE.value, p.sent_at + timedelta(minutes=1), "Delivery failed", "")]
    out = []
    if t["ack"] and p.channel in ("email", "webform"):
        at = p.sent_at + timedelta(minutes=rng.uniform(0.2, 3))
        p.first_ack_at = at
        out.append((ReplyKind.AUTO_ACK.value, at, "Nous avons bien reçu votre demande.", ""))
    if rng.random() > t["answer"]:
        p.state = ProbeState.UNANSWERED.value
        return out
    hours = t["median_h"] * rng.lognormvariate(0, 0.9)
    at = p.sent_at + timedelta(hours=hours)
    agent = rng.choice(AGENTS)
    kind = ReplyKind.REDIRECT.value if rng.random() < 0.05 else ReplyKind.ANSWER.value
    order = p.fills.get("order", "")
    text = (f"Bonjour {persona.first_name} {persona.last_name}, nous sommes désolés pour la gêne "
            f"concernant la commande {order}. Un conseiller vous rappelle au 01 23 45 67 89 "
            f"ou écrivez à {persona.email}.")
    if kind == ReplyKind.REDIRECT.value:
        text = f"Bonjour {persona.first_name}, merci d'appeler notre service client au 09 69 32 10 10."
    sig = f"Cordialement,\n{agent}\nService client"
    if at > p.window_ends_at:
        p.state = ProbeState.UNANSWERED.value  # answered late: censored at the window
    else:
        p.state, p.first_answer_at = ProbeState.ANSWERED.value, at
    out.append((kind, at, f"{text}\n\n{sig}", sig))
    return out


def _score(cid: int, r: Reply, t: dict, rng: random.Random) -> Score:
    level = max(0.0, min(1.0, rng.gauss(t["quality"], 10) / 100))
    if r.kind == ReplyKind.REDIRECT.value:
        level *= 0.3
    criteria = {c: round(w * max(0.0, min(1.0, level + rng.uniform(-0.15, 0.15))), 1) for c, w in CRITERIA.items()}
    return Score(campaign_id=cid, reply_id=r.id, rubric_name=SYNTHETIC_RUBRIC[0],
                 rubric_version=SYNTHETIC_RUBRIC[1], scorer="auto", total=round(sum(criteria.values()), 1),
                 criteria=criteria, created_at=r.received_at)
