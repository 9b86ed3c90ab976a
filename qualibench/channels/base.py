"""The channel contract every channel plugin implements (built-ins register the same way)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..models import Brand, Persona, Probe
    from ..workspace import Workspace

ENTRY_POINT_GROUP = "qualibench.channels"


@dataclass
class DispatchResult:
    """What happened when a probe was sent: the evidence of the dispatch."""

    outcome: str  # "sent", "undeliverable", "failed", "assisted", "retry"
    sent_at: datetime | None = None
    detail: str = ""  # server words, confirmation text, reason
    evidence: dict[str, Any] = field(default_factory=dict)  # status, final URL, server reply...
    evidence_sha256: str | None = None  # raw exchange stored in the evidence store
    external_id: str | None = None  # tweet / DM event id
    retry_after: float | None = None  # seconds, for outcome "retry"


@dataclass
class CollectedItem:
    """One raw inbound item from an API collector, stored before it is parsed."""

    raw: bytes
    media_type: str
    source: str
    source_ref: str
    received_at: datetime


@runtime_checkable
class Channel(Protocol):
    """A way to send a probe (and optionally to collect replies)."""

    name: str
    automated: bool  # False: a person sends (assisted channels)

    def send(self, ws: Workspace, probe: Probe, brand: Brand, persona: Persona) -> DispatchResult:
        """Send one probe and return the dispatch record."""
        ...

    def collect(self, ws: Workspace) -> Iterable[CollectedItem]:
        """Yield new inbound items (channels whose replies come by e-mail yield none)."""
        ...


def load_channels() -> dict[str, type]:
    """Return the channel classes registered under the entry-point group, by name.

    A broken plugin is one warning naming the fix (once per process); the others still load.
    Read once per process: scanning the installed distributions' entry points costs ~0.1 s,
    and a demo or a scheduled loop starts hundreds of send and collect runs.
    """
    return dict(_registered_channels())


@functools.cache
def _registered_channels() -> dict[str, type]:
    found: dict[str, type] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a third-party plugin may fail in any way
            warnings.warn(
                f"channel plugin {ep.name!r} ({ep.value}) failed to load: {exc}. "
                f"Fix: reinstall the package that provides it, or uninstall it.",
                stacklevel=2,
            )
    return found
