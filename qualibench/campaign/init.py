"""`qualibench init`: a campaign folder with working, commented examples."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ..errors import QualibenchError
from ..resources import data_dir
from .scenarios import parse_scenario
from .templating import ascii_slug

# Fictional brands: (name, sector, opening hours). Domains are under .example (RFC 2606).
EXAMPLE_BRANDS = [
    ("Maison Lumière", "retail", "mon-sat 09:00-19:00"),
    ("Boutique Azur", "retail", "mon-fri 09:00-18:00; sat 10:00-17:00"),
    ("Galeries Verdier", "retail", "mon-sat 10:00-20:00"),
    ("TéléNova", "telecom", "mon-sat 08:00-20:00"),
    ("Onde Mobile", "telecom", "mon-fri 09:00-19:00"),
    ("Fibra Connect", "telecom", "24/7"),
    ("Banque Horizon", "bank", "mon-fri 09:00-17:30"),
    ("Crédit du Val", "bank", "mon-fri 08:30-18:00; sat 09:00-12:00"),
    ("Néobanque Kappa", "bank", "mon-fri 09:00-20:00"),
    ("Énergie Claire", "energy", "mon-fri 08:00-20:00; sat 09:00-13:00"),
    ("Volt & Gaz", "energy", "mon-fri 09:00-18:00"),
    ("Solaris Énergies", "energy", "mon-fri 08:30-17:30"),
    ("Voyages Alizé", "travel", "mon-sat 09:00-19:00"),
    ("Air Lagune", "travel", "24/7"),
    ("Rail Express", "travel", "mon-sun 07:00-22:00"),
    ("ClicMarché", "e-commerce", "mon-fri 09:00-18:00"),
    ("Panier Frais", "e-commerce", "mon-sat 08:00-20:00"),
    ("ModeExpress", "e-commerce", "mon-fri 10:00-18:00"),
    ("Assur'Plus", "insurance", "mon-fri 09:00-18:00"),
    ("Mutuelle Sereine", "insurance", "mon-fri 08:30-17:00"),
    ("Prévoyance Atlas", "insurance", "mon-fri 09:00-17:00"),
    ("AutoLoc", "automotive", "mon-sat 08:00-19:00"),
    ("Garage Central", "automotive", "mon-fri 08:00-18:00; sat 08:00-12:00"),
    ("Moteurs Dumas", "automotive", "mon-fri 09:00-18:00"),
    ("Hôtel Belvédère", "hospitality", "24/7"),
    ("Gîtes & Co", "hospitality", "mon-sun 09:00-21:00"),
    ("Résidences Ocre", "hospitality", "mon-fri 09:00-18:00"),
    ("Eau Pure", "utilities", "mon-fri 08:00-18:00"),
    ("Collecte Verte", "utilities", "mon-fri 08:30-17:00"),
    ("Réseau Ouest", "utilities", "mon-fri 09:00-17:00"),
]
FIRST_NAMES = ["Marie", "Julien", "Camille", "Thomas", "Léa", "Nicolas", "Sophie", "Antoine", "Chloé",
               "Mathieu", "Emma", "Hugo", "Claire", "Lucas", "Manon", "Pierre", "Sarah", "Louis", "Inès", "Paul"]
LAST_NAMES = ["Durand", "Martin", "Bernard", "Petit", "Robert", "Richard", "Moreau", "Laurent", "Simon",
              "Michel", "Lefèvre", "Garcia", "Roux", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert",
              "Fontaine", "Chevalier"]
PREFERRED_KINDS = [("complaint", "fr"), ("commercial_question", "fr"), ("commercial_question", "en"),
                   ("technical_problem", "fr"), ("delivery", "fr"), ("refund", "fr")]

TOML_TEMPLATE = '''# qualibench campaign. Every setting is optional unless marked required.
# Secrets never go in this file: write password_env / token_env (an environment variable name)
# or password_keyring (a keyring entry); a password written here is refused by `qualibench check`.

[campaign]
name = "{name}"            # required
edition = "{edition}"
seed = {seed}                   # makes planning reproducible (personas, send slots, order numbers)
language = "{language}"           # language of the report
# client = "..."            # optional, on the report's cover: who commissioned it
# author = "..."            # optional, on the report's cover: who wrote and signs it
channels = [{channels}]

[[waves]]
label = "Wave 1"
start = {start}        # first day of sending
spread_days = 5             # send slots are drawn over this many days

[window]
days = 14                   # observation window: no answer by then = unanswered (censored)

[reminder]
enabled = false
after_days = 7

[send_slots]                # brand-local time
days = "mon-fri"
hours = ["09:00-12:00", "14:00-17:00"]

[throttle]
per_domain_seconds = {per_domain}     # at least this long between two sends to one brand domain
per_account_per_hour = 60

[mail]
reply_mode = "catchall"     # "catchall": alias@alias-domain per probe; "plus": user+tag@domain

# [webform]                 # bounds on a brand's web site (the defaults are shown)
# request_seconds = 60      # one request, first byte sent to last received (a trickle is cut)
# visit_seconds = 240       # every request of one probe's walk through the site
# max_page_bytes = 5000000  # one page, counted after decompression
# max_redirects = 5
# hosts = {{ "brand-key" = ["brand.zendesk.com"] }}  # hosts a form may use beyond the brand's domains

[scenarios]
folders = ["scenarios"]     # the campaign's own scenarios; the default library is added
select = [{select}]

[scoring]
rubric = "default"

[awards]
delay_weight = 30
quality_weight = 70
min_tests_per_brand = 3
min_brands_per_sector = 3
tie_break = ["quality", "answer_rate", "median_delay"]
rule = "published"          # or "significant": co-winners while the bootstrap cannot separate them

[files]
brands = "brands.csv"
personas = "personas.csv"

[accounts.shopper]
username = "{username}"
smtp_host = "{smtp_host}"
smtp_port = {smtp_port}
smtp_security = "{smtp_security}"
imap_host = "{imap_host}"
imap_port = {imap_port}
imap_security = "{imap_security}"
password_env = "{password_env}"
sent_folder = "Sent"
folders = ["INBOX", "Junk"]
{x_account}'''

X_ACCOUNT = '''
[accounts.x]
token_env = "{token_env}"
api_base = "{api_base}"
'''

CUSTOM_SCENARIO = '''# A campaign-specific scenario: copy and adapt. Placeholders: {first_name} {last_name}
# {full_name} {brand} ... and any name declared under fills.
id: custom-loyalty-points-fr
title: Points de fidélité non crédités
kind: complaint
language: fr
channels: [email, webform]
subject: "Points de fidélité manquants sur mon compte"
body: |
  Bonjour,

  J'ai passé la commande {order_number} le mois dernier, mais les points de fidélité
  correspondants n'apparaissent toujours pas sur mon compte client. Pourriez-vous vérifier
  et me dire quand ils seront crédités ?

  Merci d'avance,
  {full_name}
fills:
  order_number: "FID-######"
key_points:
  - id: check-account
    label: Vérifie le compte ou la commande
    patterns: ["vérifié", "vérification", "consulté votre compte", "votre commande"]
  - id: credit-date
    label: Dit quand les points seront crédités
    patterns: ["crédités", "créditer", "ajoutés", "sous 48 heures", "délai"]
'''


def _next_monday(today: date) -> date:
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def _pick_scenarios(channels: tuple[str, ...], count: int) -> list[str]:
    library = []
    import yaml

    from qualibench.campaign.limits import SAFE_LOADER

    for path in sorted(data_dir("scenarios").glob("*.y*ml")):
        spec = parse_scenario(yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER),  # noqa: S506 (a safe loader)
                              str(path), [])
        if spec is not None:
            library.append(spec)
    chosen: list[str] = []
    for kind, lang in PREFERRED_KINDS:
        for s in library:
            if s.kind == kind and s.language == lang and s.id not in chosen and set(channels) & set(s.channels):
                chosen.append(s.id)
                break
        if len(chosen) >= count:
            break
    for s in library:  # top up when the library lacks a preferred kind
        if len(chosen) >= count:
            break
        if s.id not in chosen and set(channels) & set(s.channels):
            chosen.append(s.id)
    return chosen


def init_campaign(
    folder: Path | str,
    *,
    brands: int = 6,
    seed: int = 0,
    channels: tuple[str, ...] = ("email", "webform", "x", "facebook"),
    scenarios: int = 3,
    scenario_ids: list[str] | None = None,
    start: date | None = None,
    language: str = "fr",
    name: str = "Baromètre du service client",
    edition: str | None = None,
    mail: dict | None = None,
    x_api: dict | None = None,
    brand_domain: str = "example",
    site_url: str | None = None,
    per_domain_seconds: float = 60,
    force: bool = False,
) -> Path:
    """Write a working example campaign into `folder` and return its campaign.toml path.

    `mail` overrides the shopper account (smtp_host, smtp_port, smtp_security, imap_*,
    username, password_env); `site_url` points brands' contact forms at a web site; `x_api`
    gives the X account (token_env, api_base).
    """
    root = Path(folder)
    if (root / "campaign.toml").exists() and not force:
        raise QualibenchError(f"{root} already holds a campaign.toml",
                              "choose another folder, or pass --force to overwrite the examples")
    if not 1 <= brands <= 5000:
        raise QualibenchError(f"--brands {brands} is out of range", "use 1 to 5000 brands")
    root.mkdir(parents=True, exist_ok=True)
    (root / "scenarios").mkdir(exist_ok=True)
    today = datetime.now(UTC).date()
    start = start or _next_monday(today)
    select = scenario_ids if scenario_ids is not None else _pick_scenarios(channels, scenarios)
    m = {"username": "marie.durand@shopper.example", "smtp_host": "smtp.shopper.example", "smtp_port": 587,
         "smtp_security": "starttls", "imap_host": "imap.shopper.example", "imap_port": 993,
         "imap_security": "tls", "password_env": "QB_SHOPPER_PASSWORD"}
    m.update(mail or {})
    x_block = ""
    if "x" in channels:
        xa = {"token_env": "QB_X_TOKEN", "api_base": "https://api.x.com"}
        xa.update(x_api or {})
        x_block = X_ACCOUNT.format(**xa)
    toml = TOML_TEMPLATE.format(
        name=name, edition=edition or str(start.year), seed=seed, language=language,
        channels=", ".join(f'"{c}"' for c in channels), start=start.isoformat(),
        select=", ".join(f'"{s}"' for s in select), per_domain=per_domain_seconds,
        x_account=x_block, **m)
    (root / "campaign.toml").write_text(toml, encoding="utf-8")
    (root / "brands.csv").write_text(example_brands_csv(brands, brand_domain, site_url), encoding="utf-8")
    n_personas = max(8, len(channels) * max(1, len(select)) + 2)
    alias_domain = "alias." + m["username"].partition("@")[2]
    (root / "personas.csv").write_text(example_personas_csv(n_personas, m["username"], alias_domain),
                                       encoding="utf-8")
    (root / "scenarios" / "custom-loyalty-points-fr.yaml").write_text(CUSTOM_SCENARIO, encoding="utf-8")
    return root / "campaign.toml"


def example_brands_csv(n: int, brand_domain: str = "example", site_url: str | None = None) -> str:
    """Return a brands table of `n` fictional brands with every contact column filled."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["name", "sector", "country", "timezone", "opening_hours", "email", "contact_form_url",
                "x_handle", "facebook_page"])
    for i in range(n):
        base_name, sector, hours = EXAMPLE_BRANDS[i % len(EXAMPLE_BRANDS)]
        name = base_name if i < len(EXAMPLE_BRANDS) else f"{base_name} {i // len(EXAMPLE_BRANDS) + 1}"
        slug = ascii_slug(name)
        domain = f"{slug}.{brand_domain}"
        form = f"{site_url.rstrip('/')}/{slug}/contact" if site_url else f"https://www.{domain}/contact"
        # X handles are at most 15 characters: the copy number goes at the end, kept when cut.
        copy = "" if i < len(EXAMPLE_BRANDS) else str(i // len(EXAMPLE_BRANDS) + 1)
        handle = "@" + ascii_slug(base_name).replace("-", "_")[:15 - len(copy)] + copy
        w.writerow([name, sector, "FR", "Europe/Paris", hours, f"service-client@{domain}", form, handle,
                    f"https://facebook.example/{slug}"])
    return out.getvalue()


def example_personas_csv(n: int, mailbox: str, alias_domain: str) -> str:
    """Return a personas table of `n` shopper identities sharing one mailbox via aliases."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["key", "first_name", "last_name", "email", "alias_domain", "alias_mode", "account", "phone", "city"])
    cities = ["Lyon", "Nantes", "Lille", "Bordeaux", "Rennes", "Toulouse", "Strasbourg", "Dijon"]
    for i in range(n):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last = LAST_NAMES[(i * 7) % len(LAST_NAMES)]
        key = ascii_slug(f"{first} {last}") + (f"-{i}" if i >= len(FIRST_NAMES) else "")
        domain = mailbox.partition("@")[2] or "shopper.example"
        email = f"{ascii_slug(first, '')}.{ascii_slug(last, '')}{i if i >= len(FIRST_NAMES) else ''}@{domain}"
        w.writerow([key, first, last, email, alias_domain, "catchall", "shopper",
                    f"06 {10 + i % 80:02d} {(i * 37) % 100:02d} {(i * 53) % 100:02d} {(i * 11) % 100:02d}",
                    cities[i % len(cities)]])
    return out.getvalue()
