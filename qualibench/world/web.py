"""Bridges from the world's web services (brand site, fake X API) to the simulated brands.

The site and the X API are built in their own modules (world/site.py, world/xapi.py); this
module starts them for a `DemoWorld` and turns what they receive into probes for the brands,
so a web form gets its answer by e-mail like a real one. Either may be missing: the demo then
runs on the channels it has.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .replies import Incoming

if TYPE_CHECKING:
    from .core import DemoWorld

# The form kinds the demo's brands serve, cycled; "captcha" ones become assisted probes.
DEMO_FORM_KINDS = ("standard", "standard", "multistep", "multipart", "standard", "captcha")


def start_web_services(world: DemoWorld) -> tuple[Any, Any]:
    """Return the started (brand site, fake X API); None for a service not installed."""
    site = xapi = None
    try:
        from .site import BrandSite
    except ImportError:
        BrandSite = None  # type: ignore[assignment,misc]  # noqa: N806
    if BrandSite is not None:
        site = BrandSite(on_submission=lambda sub: form_received(world, sub), clock=world.clock)
        for i, brand in enumerate(world.brands):
            site.add_brand(brand.key, kind=DEMO_FORM_KINDS[i % len(DEMO_FORM_KINDS)],
                           name=brand.name)
        site.start()
        site.url = site.base_url
    try:
        from .xapi import FakeXApi
    except ImportError:
        FakeXApi = None  # type: ignore[assignment,misc]  # noqa: N806
    if FakeXApi is not None:
        try:
            xapi = FakeXApi(clock=world.clock)
        except TypeError:
            xapi = FakeXApi()
        xapi.start()
        if not hasattr(xapi, "url"):
            xapi.url = getattr(xapi, "base_url", "")
    return site, xapi


def form_received(world: DemoWorld, sub: Any) -> None:
    """A contact form reached a brand: it answers by e-mail to the address typed in the form."""
    try:
        brand = world.brand(sub.brand)
    except KeyError:
        return
    fields = sub.fields
    first = fields.get("prenom") or fields.get("first_name") or ""
    last = fields.get("nom") or fields.get("last_name") or ""
    subject = fields.get("objet") or fields.get("topic") or fields.get("motif") or ""
    message = sub.message or ""
    # A form has no subject line: the helpdesk titles its answer after the topic chosen.
    subject_line = f"Votre demande de contact ({subject})" if subject else "Votre demande de contact"
    at: datetime = sub.at
    inc = Incoming(
        brand=brand, mail_from=sub.email, reply_to=sub.email, from_name=f"{first} {last}".strip(),
        subject=subject_line, body=message, message_id="", references="", received_at=at,
        channel="webform",
    )
    world.receive_probe(inc)
