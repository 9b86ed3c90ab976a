"""The assisted channels (Facebook, Instagram, LinkedIn, WhatsApp, chat, phone): a person sends.

No official API lets a consumer write first to a brand on these channels (Meta's APIs do not let
a consumer open a Messenger conversation with a Page), so `send` only hands the probe to the
assisted queue; `qualibench assist next` then gives a person the mission sheet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .base import CollectedItem, DispatchResult

if TYPE_CHECKING:
    from ..models import Brand, Persona, Probe
    from ..workspace import Workspace

ASSISTED_CHANNEL_NAMES = ("facebook", "instagram", "linkedin", "whatsapp", "chat", "phone")


class AssistedChannel:
    """A channel whose probes a person sends and records (`qualibench assist`)."""

    name = "assisted"
    automated = False

    def send(self, ws: Workspace, probe: Probe, brand: Brand, persona: Persona) -> DispatchResult:
        """Return outcome "assisted": the probe waits in the queue for a person."""
        where = (brand.contacts or {}).get(probe.channel, "")
        detail = f"{probe.channel}: sent by a person (no API lets a customer write first)"
        return DispatchResult(outcome="assisted", detail=detail,
                              evidence={"channel": probe.channel, "where": where, "assisted": True})

    def reconcile(self, ws: Workspace, probe: Probe) -> DispatchResult:
        """Say what became of a probe left in `dispatching`: nothing went out (handing it to
        the queue sends nothing), so it goes back to the queue and is handed over again."""
        return DispatchResult(outcome="retry", detail="handing over to a person never sends "
                              "anything: queued again")

    def collect(self, ws: Workspace) -> Iterable[CollectedItem]:
        """Yield nothing: replies are recorded by a person with `qualibench assist reply`."""
        return ()
