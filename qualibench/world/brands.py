"""The simulated brands of the demo world: sectors, domains, opening hours and personalities.

A brand's personality decides whether, when and how it answers: fast or slow or silent,
empathetic or cold or off-topic, acknowledgement first, a helpdesk that rewrites subjects,
HTML-only or windows-1252 mail, bounces, out-of-office, a reply from another domain.
Everything is drawn from one seed, so a demo run is reproducible.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ..hours import OpeningHours

SECTORS: dict[str, tuple[str, ...]] = {
    "retail": ("Maison", "Bazar", "Galeries", "Boutique", "Comptoir"),
    "telecom": ("Télécom", "Mobile", "Fibre", "Réseau", "Box"),
    "bank": ("Banque", "Crédit", "Épargne", "Finance", "Caisse"),
    "energy": ("Énergie", "Électricité", "Gaz", "Solaire", "Watt"),
    "travel": ("Voyages", "Évasion", "Rail", "Croisières", "Air"),
    "e-commerce": ("Shop", "Market", "Direct", "Express", "Click"),
    "insurance": ("Assurances", "Mutuelle", "Prévoyance", "Garantie", "Protect"),
}
_STEMS = ("Alba", "Brio", "Cobalt", "Delta", "Éole", "Fleur", "Gala", "Hélio", "Iris", "Jade",
          "Kappa", "Luna", "Mistral", "Nova", "Opale", "Pixel", "Quartz", "Rivage", "Saphir",
          "Terra", "Ulysse", "Vega", "Wapiti", "Xénon", "Yuzu", "Zéphyr", "Azur", "Boréal",
          "Cèdre", "Dune", "Ébène", "Fjord", "Granit", "Horizon", "Indigo", "Lagon")
_HOURS = ("mon-fri 09:00-18:00", "mon-fri 08:30-19:00; sat 09:00-12:00", "mon-sat 09:00-20:00",
          "mon-fri 09:00-12:00,14:00-17:30", "24/7")


@dataclass(frozen=True)
class Personality:
    """How one simulated brand behaves towards a mystery shopper."""

    label: str
    answer_rate: float = 0.9  # chance that a given probe gets a human answer at all
    speed: str = "normal"  # "fast" (minutes), "normal" (hours), "slow" (days)
    tone: str = "neutral"  # "empathetic", "neutral", "cold", "off_topic"
    coverage: float = 0.7  # share of the scenario's key points an answer addresses
    ack_first: bool = False  # an automatic acknowledgement right away, the answer later
    helpdesk: bool = False  # "[Ticket #4821] RE: ..." subjects, References dropped
    html_only: bool = False
    charset: str = "utf-8"  # or "windows-1252"
    bounce: bool = False  # the contact address does not exist (550 + DSN)
    out_of_office: bool = False  # an out-of-office notice before the answer
    other_domain: bool = False  # answers come from a second domain of the same group


# The repertoire: one entry per behaviour the pipeline must handle, cycled over the brands.
PERSONALITIES: tuple[Personality, ...] = (
    Personality("fast and empathetic", 0.95, "fast", "empathetic", 0.9),
    Personality("slow and cold", 0.8, "slow", "cold", 0.5),
    Personality("silent", 0.0, "normal", "neutral", 0.0),
    Personality("acknowledgement first", 0.9, "normal", "neutral", 0.7, ack_first=True),
    Personality("ticketing helpdesk", 0.9, "normal", "neutral", 0.75, ack_first=True,
                helpdesk=True),
    Personality("html-only marketing", 0.85, "normal", "off_topic", 0.3, html_only=True),
    Personality("legacy windows-1252", 0.85, "slow", "empathetic", 0.6, charset="windows-1252"),
    Personality("bouncing address", 0.0, "fast", "neutral", 0.0, bounce=True),
    Personality("out of office", 0.7, "slow", "neutral", 0.6, out_of_office=True),
    Personality("group domain", 0.9, "fast", "neutral", 0.8, other_domain=True),
    Personality("empathetic but vague", 0.9, "normal", "empathetic", 0.35),
    Personality("thorough", 1.0, "normal", "neutral", 1.0),
)


@dataclass(frozen=True)
class SimBrand:
    """A brand of the demo world and where it can be reached."""

    key: str
    name: str
    sector: str
    domain: str
    timezone: str
    opening_hours: str
    personality: Personality
    x_handle: str = ""
    hours: OpeningHours = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "hours", OpeningHours.parse(self.opening_hours))

    @property
    def email(self) -> str:
        return f"service-client@{self.domain}"

    @property
    def reply_domain(self) -> str:
        """Return the domain its answers come from (a sister domain for some brands)."""
        if self.personality.other_domain:
            return "support." + self.domain.split(".", 1)[0] + "-group.example"
        return self.domain

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def stable_rng(*parts: object) -> random.Random:
    """Return a generator seeded by `parts`, the same in every process (unlike hash())."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _slug(text: str) -> str:
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def make_brands(count: int, seed: int = 0) -> list[SimBrand]:
    """Return `count` reproducible brands spread over the sectors, each with a personality."""
    rng = random.Random(seed)
    sectors = list(SECTORS)
    brands: list[SimBrand] = []
    used: set[str] = set()
    handles: set[str] = set()
    for i in range(count):
        sector = sectors[i % len(sectors)]
        while True:
            stem = rng.choice(_STEMS)
            suffix = rng.choice(SECTORS[sector])
            name = f"{stem} {suffix}"
            key = _slug(name)
            if key not in used:
                break
            name = f"{stem} {suffix} {i}"
            key = _slug(name)
            if key not in used:
                break
        used.add(key)
        personality = PERSONALITIES[(i + seed) % len(PERSONALITIES)]
        tz = "Europe/Paris" if i % 6 else "Europe/Brussels"
        handle = re.sub(r"[^A-Za-z0-9_]", "", key.replace("-", "_"))[:15]
        if handle.lower() in handles:  # cut to 15 characters, two names can meet: `check` refuses that
            handle = handle[:15 - len(str(i))] + str(i)
        handles.add(handle.lower())
        brands.append(SimBrand(
            key=key, name=name, sector=sector, domain=f"{key}.example",
            timezone=tz, opening_hours=_HOURS[rng.randrange(len(_HOURS))],
            personality=personality, x_handle=handle,
        ))
    return brands
