"""What a campaign folder describes, once loaded and validated (plain, immutable values)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from ..errors import QualibenchError
from ..hours import OpeningHours

KNOWN_CHANNELS = (
    "email", "webform", "x", "facebook", "instagram", "linkedin", "whatsapp", "chat", "phone",
)
ASSISTED_CHANNELS = ("facebook", "instagram", "linkedin", "whatsapp", "chat", "phone")


@dataclass(frozen=True)
class AccountSpec:
    """A mailbox or API account; secrets are only *references* (env var or keyring entry)."""

    name: str
    username: str = ""
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: str = "starttls"  # "tls" (implicit), "starttls" or "plain" (loopback only)
    imap_host: str = ""
    imap_port: int = 0
    imap_security: str = "tls"
    password_env: str = ""
    password_keyring: str = ""  # "service" (user = username) or "service:user"
    token_env: str = ""  # API bearer token (X)
    sent_folder: str = "Sent"
    folders: tuple[str, ...] = ("INBOX", "Junk")
    api_base: str = ""  # e.g. the X API base URL (a local fake in tests)

    def password(self) -> str:
        """Return the account's password from the environment or the keyring."""
        return _resolve_secret(self.name, self.password_env, self.password_keyring, self.username,
                               "password")

    def token(self) -> str:
        """Return the account's API token from the environment."""
        return _resolve_secret(self.name, self.token_env, "", self.username, "token")

    def redacted(self) -> dict:
        """Return the account as shown by `config show`: references, never values."""
        out = {k: v for k, v in self.__dict__.items() if v not in ("", 0, ())}
        out["folders"] = list(self.folders)
        for ref in ("password_env", "token_env"):
            if getattr(self, ref):
                out[ref] = f"{getattr(self, ref)} ({'set' if os.environ.get(getattr(self, ref)) else 'NOT SET'}, value hidden)"
        return out


def require_secrets(config: CampaignConfig, purpose: str, channel: str | None = None) -> None:
    """Raise QualibenchError naming every environment variable `send` or `collect` needs unset.

    Checked before the run starts, so it never stops half-way on the first probe that needs
    the password. E-mail needs the mail accounts' passwords to send (and every mail account's to
    collect, since web-form replies come by e-mail); X needs the API token both ways.
    """
    channels = [channel] if channel else list(config.channels)
    missing: list[str] = []
    for acc in config.accounts.values():
        mail = bool(acc.smtp_host if purpose == "send" else acc.imap_host)
        needs_password = mail and (purpose == "collect" or "email" in channels)
        needs_token = bool(acc.token_env) and "x" in channels
        for needed, var, what in ((needs_password, acc.password_env, "password"),
                                  (needs_token, acc.token_env, "token")):
            if needed and var and not os.environ.get(var):
                missing.append(f"${var} ({what} of [accounts.{acc.name}])")
    if missing:
        names = " ".join(m.split(" ")[0][1:] + "=..." for m in missing)
        raise QualibenchError(f"{purpose} needs {', '.join(missing)}, which "
                              f"{'is' if len(missing) == 1 else 'are'} not set",
                              f"export {names} in the shell that runs qualibench")


def _resolve_secret(account: str, env: str, keyring_ref: str, username: str, what: str) -> str:
    if env:
        value = os.environ.get(env)
        if value:
            return value
        raise QualibenchError(
            f"the {what} of account {account!r} is not set: ${env} is empty",
            f"export {env}=... in the shell that runs qualibench",
        )
    if keyring_ref:
        service, _, user = keyring_ref.partition(":")
        try:
            import keyring

            value = keyring.get_password(service, user or username)
        except Exception as exc:  # keyring backends raise many kinds
            raise QualibenchError(
                f"the system keyring could not give the {what} of account {account!r}: {exc}",
                f"store it with `keyring set {service} {user or username}` or use {what}_env",
            ) from None
        if value:
            return value
        raise QualibenchError(
            f"the keyring has no {what} for {service}/{user or username} (account {account!r})",
            f"store it with `keyring set {service} {user or username}`",
        )
    return ""


@dataclass(frozen=True)
class WaveSpec:
    number: int
    starts_on: date
    label: str = ""
    spread_days: int = 5  # send slots are drawn over this many days from starts_on


@dataclass(frozen=True)
class SendSlots:
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    spans: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(14), time(17)))


@dataclass(frozen=True)
class ReminderPolicy:
    enabled: bool = False
    after_days: int = 7


@dataclass(frozen=True)
class Throttle:
    per_domain_seconds: float = 60.0  # at least this long between two sends to one brand domain
    per_account_per_hour: int = 60


@dataclass(frozen=True)
class AwardRules:
    delay_weight: float = 30.0
    quality_weight: float = 70.0
    channel_weights: dict[str, float] = field(default_factory=dict)  # empty = equal
    min_tests_per_brand: int = 3
    min_brands_per_sector: int = 3
    min_candidates: int = 3
    min_index: float = 0.0  # minimum index to award a title (ESCDA-style)
    tie_break: tuple[str, ...] = ("quality", "answer_rate", "median_delay")
    bootstrap_samples: int = 1000
    confidence: float = 0.95
    # "published": highest index at the published precision wins, ex aequo only on equal
    # published indices (Qualiweb); "significant": co-winners while the bootstrap cannot
    # separate them from the leader (the stricter statistical rule).
    rule: str = "published"
    min_answered: int = 1  # answered tests a brand needs in the category to be a nominee
    precision: int = 1  # decimals of the published index
    caution_probability: float = 0.8  # below this P(truly first) the report shows a caution
    social_channels: tuple[str, ...] = ("x", "facebook", "instagram", "linkedin")


@dataclass(frozen=True)
class CampaignConfig:
    name: str
    slug: str
    edition: str = ""
    seed: int = 0
    language: str = "fr"  # report language by default
    client: str = ""  # who commissioned the report (cover)
    author: str = ""  # who wrote and signs it (cover)
    channels: tuple[str, ...] = ("email",)
    waves: tuple[WaveSpec, ...] = ()
    window_days: int = 14
    reminder: ReminderPolicy = field(default_factory=ReminderPolicy)
    send_slots: SendSlots = field(default_factory=SendSlots)
    throttle: Throttle = field(default_factory=Throttle)
    rubric: str = "default"  # a name in scoring/ or a path
    awards: AwardRules = field(default_factory=AwardRules)
    accounts: dict[str, AccountSpec] = field(default_factory=dict)
    reply_mode: str = "catchall"  # or "plus"
    brands_file: str = "brands.csv"
    personas_file: str = "personas.csv"
    scenario_dirs: tuple[str, ...] = ("scenarios",)
    scenario_ids: tuple[str, ...] = ()  # empty = every scenario found
    use_default_scenarios: bool = True
    raw: dict = field(default_factory=dict)  # the TOML as read (no secret values can be in it)


@dataclass(frozen=True)
class BrandSpec:
    key: str
    name: str
    sector: str
    country: str
    timezone: str
    opening_hours: OpeningHours
    contacts: dict[str, str]  # channel -> contact point
    form_mapping: dict[str, str] = field(default_factory=dict)
    row: int = 0  # line in the brands file, for messages


@dataclass(frozen=True)
class PersonaSpec:
    key: str
    first_name: str
    last_name: str
    email: str
    alias_domain: str = ""
    alias_mode: str = "catchall"
    account: str = "shopper"
    phone: str = ""
    city: str = ""


@dataclass(frozen=True)
class KeyPoint:
    """Something a good answer must cover, with the words that show it is covered."""

    id: str
    label: str
    patterns: tuple[str, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class ScenarioSpec:
    id: str
    title: str
    kind: str  # complaint, commercial_question, technical_problem, delivery, refund, sympathy...
    language: str  # "fr" or "en"
    channels: tuple[str, ...]
    subject: str
    body: str
    short: str  # the <= 280 character variant for X and social posts
    key_points: tuple[KeyPoint, ...]
    fills: dict[str, str]  # placeholder -> generator pattern ("CMD-######", "choice:a|b")
    content_hash: str
    source: Path | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CampaignSpec:
    """A whole campaign folder, loaded: config, brands, personas and scenarios."""

    root: Path
    config: CampaignConfig
    brands: tuple[BrandSpec, ...]
    personas: tuple[PersonaSpec, ...]
    scenarios: tuple[ScenarioSpec, ...]
    warnings: tuple = ()

    def scenario(self, scenario_id: str) -> ScenarioSpec:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        raise KeyError(scenario_id)
