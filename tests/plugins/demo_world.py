"""Fixtures for the demo world: a started DemoWorld and helpers to talk to its servers."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient

from qualibench.world import DemoWorld

SHOPPER = "marie.durand@shopper.example"


@pytest.fixture
def demo_world():
    """A started DemoWorld of 12 brands (seed 0: brand i has PERSONALITIES[i]); stopped after."""
    with DemoWorld(brands=12, seed=0) as world:
        yield world


def send_probe(world: DemoWorld, brand_index: int, *, subject: str = "Commande CMD-123456 toujours pas livrée",
               body: str = "Bonjour, où en est ma commande CMD-123456 ?", reply_to: str = "",
               message_id: str = "") -> EmailMessage:
    """Send one probe to brand `brand_index` through the world's SMTP server; return it."""
    brand = world.brands[brand_index]
    msg = EmailMessage()
    msg["From"] = f"Marie Durand <{SHOPPER}>"
    msg["Reply-To"] = reply_to or f"marie.durand.k{brand_index}x@alias.shopper.example"
    msg["To"] = brand.email
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<probe-{brand_index}@shopper.example>"
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", world.smtp_port, timeout=10) as smtp:
        smtp.login(world.shopper_user, world.shopper_password)
        smtp.send_message(msg)
    return msg


def fetch_all(world: DemoWorld) -> list[dict]:
    """Return the shopper's INBOX messages, oldest first: uid, INTERNALDATE (aware), raw bytes."""
    with IMAPClient("127.0.0.1", port=world.imap_port, ssl=False, timeout=10) as client:
        client.normalise_times = False
        client.login(world.shopper_user, world.shopper_password)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        if not uids:
            return []
        data = client.fetch(uids, ["INTERNALDATE", "BODY.PEEK[]"])
        items = [{"uid": uid, "internal_date": data[uid][b"INTERNALDATE"], "raw": data[uid][b"BODY[]"]}
                 for uid in data]
        # pymap numbers files found together in directory order: sort by arrival time instead.
        return sorted(items, key=lambda i: (i["internal_date"], i["uid"]))


class AnsweredCampaign:
    """An e-mail campaign planned against a DemoWorld, sent, and answered into the mailbox."""

    def __init__(self, world: DemoWorld, ws, folder) -> None:  # type: ignore[no-untyped-def]
        self.world = world
        self.ws = ws
        self.folder = folder

    def env(self) -> dict[str, str]:
        """Return an environment for a `qualibench` subprocess working on this campaign."""
        import os

        from qualibench.demo import PASSWORD_ENV

        env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIBENCH_")}
        env[PASSWORD_ENV] = self.world.shopper_password
        return env


def make_answered_campaign(tmp_path, db_url: str, *, brands: int = 8, seed: int = 0):  # type: ignore[no-untyped-def]
    """Context manager: an AnsweredCampaign whose world is stopped on exit (not collected yet)."""
    from contextlib import contextmanager

    from qualibench.demo import demo_env, prepare_campaign, run_campaign_time

    @contextmanager
    def cm():  # type: ignore[no-untyped-def]
        with DemoWorld(brands=brands, seed=seed) as world, demo_env(world, seed):
            folder = tmp_path / "campaign"
            ws = prepare_campaign(world, folder, brands=brands, seed=seed, db_url=db_url,
                                  channels=("email",))
            run_campaign_time(ws, world, collect_every=None)
            yield AnsweredCampaign(world, ws, folder)

    return cm()
