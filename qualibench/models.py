"""The domain model, stored with SQLModel (SQLite by default, PostgreSQL via a URL).

Every timestamp is timezone-aware UTC: the `UTCDateTime` column type refuses naive values on
the way in and gives back aware ones on the way out, also on SQLite which stores no offset.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, LargeBinary, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from .kinds import ReplyKind as ReplyKind  # kept importable from here


class UTCDateTime(TypeDecorator):
    """A DateTime column that only accepts aware datetimes and always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value!r} refused: store timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_field(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_type=JSON)


class ProbeState(enum.StrEnum):
    PLANNED = "planned"
    DISPATCHING = "dispatching"
    SENT = "sent"
    ANSWERED = "answered"
    UNANSWERED = "unanswered"  # censored at the end of its observation window
    FAILED = "failed"
    UNDELIVERABLE = "undeliverable"
    ASSISTED = "assisted"  # waiting for a person to send it (assisted channels, blocked forms)


# Allowed transitions of the probe state machine.
PROBE_TRANSITIONS: dict[ProbeState, frozenset[ProbeState]] = {
    ProbeState.PLANNED: frozenset(
        {ProbeState.DISPATCHING, ProbeState.ASSISTED, ProbeState.FAILED, ProbeState.SENT}
    ),
    ProbeState.ASSISTED: frozenset(
        {ProbeState.DISPATCHING, ProbeState.SENT, ProbeState.FAILED, ProbeState.PLANNED}
    ),
    ProbeState.DISPATCHING: frozenset(
        {ProbeState.SENT, ProbeState.PLANNED, ProbeState.FAILED, ProbeState.UNDELIVERABLE,
         ProbeState.ASSISTED}
    ),
    ProbeState.SENT: frozenset(
        {ProbeState.ANSWERED, ProbeState.UNANSWERED, ProbeState.UNDELIVERABLE}
    ),
    # A late answer can still arrive after censoring in the data; the analysis censors by time,
    # so the state may move on to answered (the delay is then beyond the window).
    ProbeState.UNANSWERED: frozenset({ProbeState.ANSWERED, ProbeState.UNDELIVERABLE}),
    ProbeState.ANSWERED: frozenset(),
    ProbeState.FAILED: frozenset({ProbeState.PLANNED}),  # an analyst may requeue a failed probe
    ProbeState.UNDELIVERABLE: frozenset(),
}


class DelayReview(enum.StrEnum):
    """Whether a reply's arrival time may enter the timing (negative or impossible delays may not)."""

    NONE = ""  # an ordinary delay: it counts
    PENDING = "pending"  # dated before its request, or in the future: out of timing until decided
    KEPT = "kept"  # an analyst checked the dates and let the reply count
    EXCLUDED = "excluded"  # an analyst decided the date is wrong: never timed


class MatchMethod(enum.StrEnum):
    REPLY_ADDRESS = "reply_address"
    MESSAGE_ID = "message_id"
    TICKET_REF = "ticket_ref"
    SUBJECT_WINDOW = "subject_window"
    API_THREAD = "api_thread"  # X conversation / DM thread
    ASSISTED = "assisted"  # recorded by a person
    MANUAL = "manual"  # assigned by an analyst from the inbox


class InboundStatus(enum.StrEnum):
    PENDING = "pending"  # raw stored, not parsed yet
    MATCHED = "matched"
    UNMATCHED = "unmatched"  # waits in `qualibench inbox`
    DISMISSED = "dismissed"
    UNPARSEABLE = "unparseable"  # raw bytes kept, parser could not read it


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True)
    name: str
    edition: str = ""
    seed: int = 0
    # The resolved campaign.toml, with secret *references* only (never secret values).
    config: dict = json_field()
    created_at: datetime | None = utc_field()


class Wave(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("campaign_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    number: int
    label: str = ""
    starts_on: date
    spread_days: int = 5
    window_days: int = 14


class Brand(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    key: str  # slug of the name, stable across files
    name: str
    sector: str = ""
    country: str = "FR"
    timezone: str = "Europe/Paris"
    opening_hours: str = "mon-fri 09:00-18:00"
    # channel -> contact point: {"email": "...", "webform": "https://...", "x": "@handle", ...}
    contacts: dict = json_field()
    # optional per-brand web form field mapping {our_field: their_field_name}
    form_mapping: dict = json_field()


class Persona(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    key: str
    first_name: str
    last_name: str
    email: str  # the mailbox the persona writes from
    alias_domain: str = ""  # catch-all domain for per-probe reply addresses
    alias_mode: str = "catchall"  # "catchall" or "plus"
    account: str = "shopper"  # name of the [accounts.*] entry holding SMTP/IMAP settings
    phone: str = ""
    city: str = ""


class Scenario(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("campaign_id", "key", "content_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    key: str  # the scenario's id in its YAML
    content_hash: str  # sha256 of the YAML's canonical JSON form
    title: str
    kind: str
    language: str
    spec: dict = json_field()  # the whole scenario as loaded


class Probe(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("campaign_id", "key"),
        Index("ix_probe_state", "campaign_id", "state"),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    # Natural key: "w{wave}:{brand}:{channel}:{scenario}" -- planning twice creates no duplicate.
    key: str
    wave_id: int = Field(foreign_key="wave.id")
    brand_id: int = Field(foreign_key="brand.id", index=True)
    scenario_id: int = Field(foreign_key="scenario.id")
    persona_id: int = Field(foreign_key="persona.id")
    channel: str = Field(index=True)
    state: str = Field(default=ProbeState.PLANNED.value)
    planned_at: datetime | None = utc_field()  # the drawn send slot
    window_ends_at: datetime | None = utc_field()
    dispatching_at: datetime | None = utc_field()
    sent_at: datetime | None = utc_field()  # SMTP 250 after DATA / API response
    first_ack_at: datetime | None = utc_field()
    first_answer_at: datetime | None = utc_field()
    reminder_sent_at: datetime | None = utc_field()
    attempts: int = 0
    # Correlation keys (invisible to the brand).
    reply_address: str | None = Field(default=None, index=True, unique=True)
    message_id: str | None = Field(default=None, index=True, unique=True)
    ticket_ref: str | None = Field(default=None, index=True)
    external_id: str | None = Field(default=None, index=True)  # tweet / DM event id
    subject: str = ""
    body: str = ""
    short_text: str = ""  # the <= 280 character variant for X
    fills: dict = json_field()  # the placeholder values drawn for this probe (order number...)
    failure_reason: str | None = Field(default=None, sa_type=Text)
    dispatch: dict = json_field()  # evidence of the dispatch (server reply, status, final URL...)
    # Who holds the `dispatching` claim ("host:pid:token") and since when: a claim whose
    # owner is gone is reconciled through the Sent copy by whichever machine runs next.
    claimed_by: str | None = Field(default=None)
    claimed_at: datetime | None = utc_field()


class InboundMessage(SQLModel, table=True):
    """One raw item collected: its bytes are in the evidence store under `sha256`."""

    __table_args__ = (UniqueConstraint("campaign_id", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    channel: str = "email"
    source: str = ""  # "imap:shopper/INBOX", "x:dm_events", "assisted"
    source_ref: str = ""  # "uidvalidity:uid", DM event id...
    # No index of its own: lookups name the campaign, the unique constraint's index serves them.
    sha256: str
    size: int = 0
    collected_at: datetime | None = utc_field()
    received_at: datetime | None = utc_field()  # INTERNALDATE / created_at
    date_header: datetime | None = utc_field()
    date_disagreement: bool = False  # Date header far from INTERNALDATE
    status: str = Field(default=InboundStatus.PENDING.value, index=True)
    parse_error: str | None = Field(default=None, sa_type=Text)
    from_address: str = ""
    to_addresses: str = ""
    subject: str = ""
    message_id: str = ""
    note: str = ""  # analyst's note when dismissing / assigning


class Reply(SQLModel, table=True):
    """An inbound message matched to a probe."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    inbound_id: int = Field(foreign_key="inboundmessage.id", unique=True)
    probe_id: int = Field(foreign_key="probe.id", index=True)
    kind: str  # ReplyKind
    match_method: str  # MatchMethod
    match_confidence: float = 1.0
    needs_review: bool = False
    received_at: datetime | None = utc_field()
    language: str = ""
    text: str = Field(default="", sa_type=Text)  # cleaned: no quoted history, no signature
    signature: str = Field(default="", sa_type=Text)
    redirect_to: str = ""  # phone number / channel named by a redirect
    ticket_ref: str = ""
    delay_review: str = ""  # DelayReview: "pending" keeps a negative/impossible delay out of timing
    notice: str = ""  # "not_monitored": an unmonitored-mailbox / no-reply notice (kind auto_ack)


class Score(SQLModel, table=True):
    """Append-only: a rescoring adds rows, never rewrites."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    reply_id: int = Field(foreign_key="reply.id", index=True)
    rubric_name: str = "default"
    rubric_version: str  # content hash of the rubric
    scorer: str = "auto"  # "auto" or "auditor:NAME"
    total: float
    criteria: dict = json_field()  # {criterion: points}
    evidence: dict = json_field()  # {criterion: [{"start":..,"end":..,"text":..,"points":..,"why":..}]}
    justification: str = Field(default="", sa_type=Text)
    created_at: datetime | None = utc_field()


class SyncState(SQLModel, table=True):
    """Where the IMAP collector stopped in each folder."""

    __table_args__ = (UniqueConstraint("campaign_id", "account", "folder"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    account: str
    folder: str
    uidvalidity: int = 0
    last_uid: int = 0
    updated_at: datetime | None = utc_field()


class Event(SQLModel, table=True):
    """Append-only event log; each row's hash covers the previous row's hash."""

    __table_args__ = (UniqueConstraint("campaign_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    seq: int
    at: datetime | None = utc_field()
    kind: str
    subject: str = ""  # "probe:12", "reply:4"
    payload: dict = json_field()
    prev_hash: str
    hash: str


class EventHead(SQLModel, table=True):
    """The chain's head, moved in the same transaction as every append: deleting the last
    events (or all of them) leaves a head that the remaining chain no longer reaches."""

    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    seq: int = 0
    hash: str
    updated_at: datetime | None = utc_field()


class EvidenceBlob(SQLModel, table=True):
    """Raw evidence bytes kept in the database (PostgreSQL teams): every machine reads them."""

    sha256: str = Field(primary_key=True)
    data: bytes = Field(sa_type=LargeBinary)


class Evidence(SQLModel, table=True):
    """Index of the content-addressed raw store (bytes on disk under evidence/)."""

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(index=True, unique=True)
    size: int
    media_type: str = "application/octet-stream"
    stored_at: datetime | None = utc_field()


class Reviewer(SQLModel, table=True):
    """A person of the review workspace (`qualibench review`): analyst, auditor or adjudicator.

    Shared by the database's campaigns. Only hashes are stored: argon2 for a password, SHA-256
    for a one-time login token (the token itself is printed once and never kept).
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    role: str
    password_hash: str | None = Field(default=None, sa_type=Text)
    disabled: bool = False
    created_at: datetime | None = utc_field()


class ReviewLogin(SQLModel, table=True):
    """A one-time login link: usable once, before `expires_at`."""

    id: int | None = Field(default=None, primary_key=True)
    reviewer_id: int = Field(foreign_key="reviewer.id", index=True)
    token_sha256: str = Field(index=True, unique=True)
    created_at: datetime | None = utc_field()
    expires_at: datetime | None = utc_field()
    used_at: datetime | None = utc_field()


class ReviewAttempt(SQLModel, table=True):
    """A failed password sign-in to the review workspace: the name typed and the client address,
    never the password. The login rate limit counts these rows, so it holds for every process
    and machine of a team sharing the database."""

    __table_args__ = (
        Index("ix_reviewattempt_name_at", "name", "at"),
        Index("ix_reviewattempt_client_at", "client", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    name: str  # as typed, folded (an unknown name counts like a known one)
    client: str
    at: datetime | None = utc_field()


class CodingAssignment(SQLModel, table=True):
    """One reply given to one auditor to code under one rubric version (double coding: two rows)."""

    __table_args__ = (
        UniqueConstraint("reply_id", "reviewer", "rubric_version"),
        Index("ix_codingassignment_queue", "campaign_id", "reviewer", "rubric_version", "coded_at", "reply_id"),
        # j / k: the auditor's previous and next reply, coded or not
        Index("ix_codingassignment_order", "campaign_id", "reviewer", "rubric_version", "reply_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    reply_id: int = Field(foreign_key="reply.id", index=True)
    reviewer: str  # the Reviewer's name (scores are recorded as auditor:NAME)
    rubric_version: str
    assigned_at: datetime | None = utc_field()
    coded_at: datetime | None = utc_field()
