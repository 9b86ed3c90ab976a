"""The demo world: its servers, its brands' behaviours and its virtual time."""

from __future__ import annotations

import smtplib
import socket
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from imapclient import IMAPClient

from qualibench.world import PERSONALITIES, DemoWorld, add_business_time, make_brands
from tests.plugins.demo_world import fetch_all, send_probe


def _parsed(item: dict):
    return message_from_bytes(item["raw"], policy=policy.default)


def test_personalities_are_cycled_over_brands_by_index():
    brands = make_brands(12, seed=0)
    assert [b.personality for b in brands] == list(PERSONALITIES)
    assert len({b.key for b in make_brands(200, seed=3)}) == 200  # unique keys even when many


def test_a_probe_reaches_its_brand_and_the_answer_lands_in_imap_at_virtual_time(demo_world):
    brand = demo_world.brands[0]  # fast and empathetic
    send_probe(demo_world, 0)
    assert [d.rcpt for d in demo_world.deliveries] == [brand.email]
    assert fetch_all(demo_world) == []  # nothing before the clock moves
    due = demo_world.next_due()
    assert due is not None and due > demo_world.clock.now()
    assert demo_world.advance_to(due) == 1
    [item] = fetch_all(demo_world)
    internal = item["internal_date"]
    assert internal.tzinfo is not None
    assert internal.astimezone(UTC) == due.replace(microsecond=0)
    # The brand works within its opening hours: the answer is dated inside them.
    assert brand.hours.is_open(due, brand.tz)
    msg = _parsed(item)
    assert msg["In-Reply-To"] == "<probe-0@shopper.example>"
    assert msg["To"] == "marie.durand.k0x@alias.shopper.example"
    assert msg["Subject"].startswith("RE: Commande CMD-123456")


def test_unknown_domains_are_refused_so_nothing_leaves_the_world(demo_world):
    with smtplib.SMTP("127.0.0.1", demo_world.smtp_port, timeout=10) as smtp:
        smtp.login(demo_world.shopper_user, demo_world.shopper_password)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            smtp.sendmail("marie.durand@shopper.example", ["someone@gmail.com"], b"Subject: x\r\n\r\nx")
    assert exc.value.recipients["someone@gmail.com"][0] == 550
    assert demo_world.deliveries == []


def test_wrong_password_is_refused(demo_world):
    with smtplib.SMTP("127.0.0.1", demo_world.smtp_port, timeout=10) as smtp, \
            pytest.raises(smtplib.SMTPAuthenticationError):
        smtp.login(demo_world.shopper_user, "not-the-password")


def test_helpdesk_acknowledges_with_a_ticket_then_answers_without_references(demo_world):
    send_probe(demo_world, 4, message_id="<helpdesk@shopper.example>")
    demo_world.advance_to(demo_world.clock.now() + timedelta(days=7))
    ack, answer = (_parsed(i) for i in fetch_all(demo_world))
    assert ack["Auto-Submitted"] == "auto-replied"
    ticket = ack["Subject"].split("]")[0].removeprefix("[Ticket #")
    assert ticket.isdigit()
    assert answer["Subject"].startswith(f"[Ticket #{ticket}] RE: ")
    assert answer["References"] is None
    assert answer["In-Reply-To"] == "<helpdesk@shopper.example>"


def test_html_only_and_windows_1252_brands(demo_world):
    send_probe(demo_world, 5, message_id="<html@shopper.example>")
    send_probe(demo_world, 6, message_id="<cp1252@shopper.example>")
    demo_world.advance_to(demo_world.clock.now() + timedelta(days=10))
    by_parent = {_parsed(i)["In-Reply-To"]: _parsed(i) for i in fetch_all(demo_world)}
    html = by_parent["<html@shopper.example>"]
    assert [p.get_content_type() for p in html.walk()] == ["text/html"]
    legacy = by_parent["<cp1252@shopper.example>"]
    assert legacy.get_content_charset() == "windows-1252"
    assert "Bonjour" in legacy.get_content()


def test_bouncing_brands_refuse_at_rcpt_or_send_a_dsn():
    brands = make_brands(8, seed=0)  # brand 7 bounces; index odd: accepted, then a DSN
    bounce_even = make_brands(8, seed=5)  # (i + 5) % 12 == 7 at i == 2: refused at RCPT
    with DemoWorld(brands=brands) as world:
        send_probe(world, 7, message_id="<bounced@shopper.example>")
        world.advance_to(world.clock.now() + timedelta(hours=1))
        [dsn] = [_parsed(i) for i in fetch_all(world)]
        assert dsn.get_content_type() == "multipart/report"
        assert "<bounced@shopper.example>" in dsn.as_string()
        assert dsn["To"] == "marie.durand@shopper.example"
    with DemoWorld(brands=bounce_even, seed=5) as world:
        assert world.brands[2].personality.bounce
        with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
            send_probe(world, 2)
        assert b"5.1.1" in next(iter(exc.value.recipients.values()))[1]


def test_silent_brand_never_answers(demo_world):
    send_probe(demo_world, 2)
    assert demo_world.pending() == 0
    demo_world.advance_to(demo_world.clock.now() + timedelta(days=30))
    assert fetch_all(demo_world) == []
    assert demo_world.log[demo_world.brands[2].key].received == 1


def test_answers_address_the_scenarios_key_points_to_the_brands_degree():
    scenario = {"id": "late", "language": "fr", "subject": "Commande {order_number} pas livrée",
                "body": "Où en est ma commande ?", "key_points": [
                    {"id": f"k{i}", "label": f"Point {i}", "patterns": [f"motclef{i}"]} for i in range(10)]}
    # Brand 11 is thorough (covers all), brand 1 is slow and cold (about half).
    with DemoWorld(brands=12, seed=0) as world:
        world.teach_scenarios([scenario])
        send_probe(world, 11, message_id="<t@shopper.example>")
        send_probe(world, 1, message_id="<c@shopper.example>")
        world.advance_to(world.clock.now() + timedelta(days=10))
        texts = {_parsed(i)["In-Reply-To"]: _parsed(i).get_content() for i in fetch_all(world)}
    covered = {k: sum(f"motclef{i}" in t.split("-----Original")[0] for i in range(10))
               for k, t in texts.items()}
    assert covered["<t@shopper.example>"] >= 8
    assert 2 <= covered["<c@shopper.example>"] <= 8
    assert covered["<t@shopper.example>"] > covered["<c@shopper.example>"]


def test_add_business_time_skips_closed_hours():
    [brand] = [b for b in make_brands(12) if b.opening_hours == "mon-fri 09:00-18:00"][:1] or [None]
    if brand is None:
        pytest.skip("no brand with office hours in this draw")
    friday_evening = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)  # 17:00 Paris, one hour before closing
    due = add_business_time(friday_evening, 2 * 3600, brand)
    local = due.astimezone(brand.tz)
    assert (local.weekday(), local.hour, local.minute) == (0, 10, 0)  # Monday 10:00


def test_imap_restart_drops_clients_and_keeps_mail(demo_world):
    send_probe(demo_world, 0)
    demo_world.advance_to(demo_world.clock.now() + timedelta(days=2))
    client = IMAPClient("127.0.0.1", port=demo_world.imap_port, ssl=False, timeout=5)
    client.login(demo_world.shopper_user, demo_world.shopper_password)
    before = client.select_folder("INBOX")
    port = demo_world.imap_port
    demo_world.mailbox.stop()
    with pytest.raises((OSError, IMAPClient.AbortError, IMAPClient.Error)):
        client.noop()
    demo_world.mailbox.start(port)
    after = fetch_all(demo_world)
    assert len(after) == before[b"EXISTS"] == 1
    with IMAPClient("127.0.0.1", port=port, ssl=False, timeout=5) as again:
        again.login(demo_world.shopper_user, demo_world.shopper_password)
        assert again.select_folder("INBOX")[b"UIDVALIDITY"] == before[b"UIDVALIDITY"]


def test_stop_leaves_no_thread_and_no_listener():
    before = set(threading.enumerate())
    world = DemoWorld(brands=3).start()
    ports = [world.smtp_port, world.imap_port]
    root = world.root
    world.stop()
    assert set(threading.enumerate()) <= before
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not root.exists()


def test_same_seed_same_schedule():
    def schedule(seed: int) -> list[datetime]:
        with DemoWorld(brands=12, seed=seed) as world:
            for i in (0, 1, 3, 9):
                send_probe(world, i)
            return sorted(p.due for p in world._pending)

    assert schedule(4) == schedule(4)
