"""Assisted channels: missions, a person's reports, bulk import (all or nothing), the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from openpyxl import Workbook
from sqlmodel import select
from typer.testing import CliRunner

from qualibench.assisted import import_assisted, next_missions, record_reply, record_sent
from qualibench.channels.assisted import AssistedChannel
from qualibench.errors import InvalidInput, QualibenchError, StateError
from qualibench.mail.classify import classify_text
from qualibench.models import Event, InboundMessage, Probe, ProbeState, Reply
from qualibench.probes import transition

ANSWER = ("Bonjour Claire, nous sommes désolés pour ce retard de livraison. Votre colis CMD-482913 "
          "a été localisé au dépôt et vous sera livré demain. Bien cordialement, Julie du service client")


@pytest.fixture
def assisted_world(probe_world):
    fb = probe_world.probe("facebook", "https://facebook.com/brandco", brand_key="brandco")
    form = probe_world.probe("webform", "http://site.test/contact", brand_key="formco")
    with probe_world.ws.session() as s:
        # the webform probe met a captcha: the sender put it in the assisted queue
        probe = s.get(Probe, form)
        probe.planned_at = probe.planned_at + timedelta(hours=1)
        transition(s, probe, ProbeState.ASSISTED, clock=probe_world.clock,
                   reason="captcha on the contact form (http://site.test/contact)")
    probe_world.clock.advance(timedelta(hours=2))
    return probe_world, fb, form


def test_assisted_channel_send_puts_the_probe_in_the_queue(assisted_world):
    world, fb, _ = assisted_world
    with world.ws.session() as s:
        probe, brand, persona = world.rows(s, fb)
        result = AssistedChannel().send(world.ws, probe, brand, persona)
    assert result.outcome == "assisted"
    assert result.evidence["where"] == "https://facebook.com/brandco"


def test_next_missions_give_persona_place_text_and_time(assisted_world):
    world, fb, form = assisted_world
    first, second = next_missions(world.ws, limit=5)
    assert (first.probe_id, second.probe_id) == (fb, form)
    assert first.channel == "facebook" and first.where == "https://facebook.com/brandco"
    assert first.persona == "Claire Martin" and first.persona_email == "claire.1x7@replies.test"
    assert first.text.startswith("Bonjour, j'ai passé la commande CMD-482913")
    assert first.when == world.clock.now() - timedelta(hours=2)
    assert first.when_local == "Mon 02 Mar 2026 10:00 Europe/Paris"
    assert second.reason.startswith("captcha")
    assert next_missions(world.ws, limit=1, channel="webform")[0].probe_id == form


def test_sent_then_reply_with_screenshot_is_timed_and_classified(assisted_world, tmp_path):
    world, fb, _ = assisted_world
    sent_at = world.clock.now() - timedelta(minutes=30)
    record_sent(world.ws, fb, sent_at)
    with pytest.raises(StateError):
        record_sent(world.ws, fb)
    shot = tmp_path / "answer.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n-fake-image-bytes")
    at = world.clock.now() - timedelta(minutes=5)
    reply = record_reply(world.ws, fb, at, ANSWER, screenshot=shot)
    assert reply.kind == "answer" and reply.match_method == "assisted"
    with world.ws.session() as s:
        probe = s.get(Probe, fb)
        inbound = s.get(InboundMessage, reply.inbound_id)
    assert probe.state == "answered"
    assert probe.sent_at == sent_at and probe.first_answer_at == at
    entry = json.loads(world.ws.evidence.get(inbound.sha256))
    assert entry["text"] == ANSWER
    assert world.ws.evidence.get(entry["screenshot_sha256"]) == shot.read_bytes()
    assert mimetype_of(world, entry["screenshot_sha256"]) == "image/png"


def mimetype_of(world, digest):
    from qualibench.models import Evidence

    with world.ws.session() as s:
        return s.exec(select(Evidence.media_type).where(Evidence.sha256 == digest)).one()


def test_acknowledgement_does_not_stop_the_clock(assisted_world):
    world, fb, _ = assisted_world
    sent = world.clock.now() - timedelta(hours=1)
    record_sent(world.ws, fb, sent)
    ack = record_reply(world.ws, fb, sent + timedelta(seconds=20),
                       "Merci pour votre message. Ceci est une réponse automatique : nous vous "
                       "répondrons dans les meilleurs délais.")
    assert ack.kind == "auto_ack"
    with world.ws.session() as s:
        probe = s.get(Probe, fb)
    assert probe.state == "sent" and probe.first_ack_at == sent + timedelta(seconds=20)
    assert probe.first_answer_at is None


def test_a_not_monitored_notice_is_recorded_as_its_own_notice(assisted_world):
    world, fb, _ = assisted_world
    sent = world.clock.now() - timedelta(hours=1)
    record_sent(world.ws, fb, sent)
    notice = record_reply(world.ws, fb, sent + timedelta(minutes=3),
                          "Ce compte n'est pas surveillé : pour toute question, utilisez le formulaire de contact.")
    plain = classify_text(ANSWER)
    assert notice.kind == "auto_ack" and notice.notice == "not_monitored"
    assert plain.notice == ""
    with world.ws.session() as s:
        stored = s.get(Reply, notice.id)
        probe = s.get(Probe, fb)
        event = s.exec(select(Event).where(Event.kind == "reply.recorded")
                       .where(Event.subject == f"reply:{notice.id}")).one()
    assert stored.notice == "not_monitored" and event.payload["notice"] == "not_monitored"
    assert probe.first_answer_at is None  # nobody read the request: the clock runs on


def test_reply_needs_a_sent_probe_and_a_later_time(assisted_world):
    world, fb, _ = assisted_world
    with pytest.raises(StateError) as err:
        record_reply(world.ws, fb, world.clock.now(), ANSWER)
    assert "assist sent" in err.value.hint
    record_sent(world.ws, fb, world.clock.now() - timedelta(minutes=10))
    with pytest.raises(QualibenchError) as err2:
        record_reply(world.ws, fb, world.clock.now() - timedelta(hours=1), ANSWER)
    assert "before the sending" in err2.value.message


def _write_csv(path, rows):
    path.write_text("\n".join(";".join(r) for r in rows) + "\n", encoding="utf-8")


def test_import_csv_records_sendings_and_replies(assisted_world, tmp_path):
    world, fb, form = assisted_world
    (tmp_path / "r1.txt").write_text(ANSWER, encoding="utf-8")
    f = tmp_path / "team.csv"
    # local brand times (Europe/Paris, UTC+1 in March) without offset
    _write_csv(f, [["probe", "event", "at", "text", "text_file"],
                   [str(fb), "sent", "2026-03-02 10:05", "", ""],
                   [str(fb), "reply", "2026-03-02 10:40", "", "r1.txt"],
                   ["w1:formco:webform:livraison", "envoyé", "2026-03-02T09:30:00Z", "", ""]])
    report = import_assisted(world.ws, f)
    assert (report.sent, report.replies) == (2, 1)
    with world.ws.session() as s:
        a, b = s.get(Probe, fb), s.get(Probe, form)
    assert a.state == "answered" and a.sent_at.isoformat() == "2026-03-02T09:05:00+00:00"
    assert a.first_answer_at.isoformat() == "2026-03-02T09:40:00+00:00"
    assert b.state == "sent" and b.sent_at.isoformat() == "2026-03-02T09:30:00+00:00"


def test_import_with_a_bad_row_imports_nothing_and_names_row_field_fix(assisted_world, tmp_path):
    world, fb, form = assisted_world
    f = tmp_path / "team.csv"
    _write_csv(f, [["probe", "event", "at", "text"],
                   [str(fb), "sent", "2026-03-02 10:05", ""],
                   [str(form), "sent", "le 2 mars vers 10h", ""],
                   ["999", "reply", "2026-03-02 10:05", "x"]])
    with pytest.raises(InvalidInput) as err:
        import_assisted(world.ws, f)
    lines = [p.line() for p in err.value.problems]
    assert any("row 3" in ln and ", at:" in ln and "fix:" in ln for ln in lines), lines
    assert any("row 4" in ln and ", probe:" in ln for ln in lines), lines
    assert len(lines) == 2
    with world.ws.session() as s:
        assert s.get(Probe, fb).state == "planned"
        assert s.exec(select(Reply)).all() == []


def test_import_xlsx_with_screenshot(assisted_world, tmp_path):
    world, fb, _ = assisted_world
    (tmp_path / "shot.png").write_bytes(b"\x89PNG fake")
    wb = Workbook()
    ws = wb.active
    ws.append(["Sonde", "Action", "Date", "Texte", "Capture"])
    ws.append([fb, "sent", "2026-03-02T10:00:00+01:00", None, None])
    ws.append([fb, "reply", "2026-03-02T10:30:00+01:00", ANSWER, "shot.png"])
    path = tmp_path / "team.xlsx"
    wb.save(path)
    report = import_assisted(world.ws, path)
    assert (report.sent, report.replies) == (1, 1)
    with world.ws.session() as s:
        reply = s.exec(select(Reply)).one()
        entry = json.loads(world.ws.evidence.get(s.get(InboundMessage, reply.inbound_id).sha256))
    assert world.ws.evidence.get(entry["screenshot_sha256"]) == b"\x89PNG fake"


def test_cli_next_sent_reply(assisted_world, tmp_path):
    from qualibench.cli import app

    world, fb, _ = assisted_world
    runner = CliRunner()
    base = ["-C", str(world.ws.root), "--db", world.ws.db_url]
    out = runner.invoke(app, [*base, "assist", "next", "--json", "-n", "2"])
    assert out.exit_code == 0, out.output
    missions = json.loads(out.stdout)
    assert [m["probe_id"] for m in missions][0] == fb
    shown = runner.invoke(app, [*base, "assist", "next"])
    assert "Claire Martin" in shown.stdout and "facebook" in shown.stdout
    sent = runner.invoke(app, [*base, "assist", "sent", str(fb), "--at", "2026-03-02T10:00:00+01:00"])
    assert sent.exit_code == 0, sent.output
    text = tmp_path / "reply.txt"
    text.write_text(ANSWER, encoding="utf-8")
    rep = runner.invoke(app, [*base, "assist", "reply", str(fb), "--at", "2026-03-02T10:45:00+01:00",
                              "--text-file", str(text)])
    assert rep.exit_code == 0, rep.output
    assert "answer" in rep.stdout
    with world.ws.session() as s:
        assert s.get(Probe, fb).first_answer_at.isoformat() == "2026-03-02T09:45:00+00:00"


def test_cli_refuses_a_time_without_offset(assisted_world):
    import subprocess
    import sys

    world, fb, _ = assisted_world
    proc = subprocess.run([sys.executable, "-m", "qualibench", "-C", str(world.ws.root), "--db",
                           world.ws.db_url, "assist", "sent", str(fb), "--at", "2026-03-02 10:00"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Error:" in proc.stderr and "Hint:" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_import_of_a_bad_file_lists_each_problem_and_imports_nothing(assisted_world, tmp_path):
    import subprocess
    import sys

    world, fb, _ = assisted_world
    f = tmp_path / "team.csv"
    _write_csv(f, [["probe", "event", "at"], [str(fb), "sent", "2026-03-02 10:05"],
                   [str(fb), "posted", "2026-03-02 10:06"]])
    proc = subprocess.run([sys.executable, "-m", "qualibench", "-C", str(world.ws.root), "--db",
                           world.ws.db_url, "assist", "import", str(f)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "row 3, event: unknown event 'posted' (fix: write sent or reply)" in proc.stderr
    assert "nothing was imported" in proc.stderr
    with world.ws.session() as s:
        assert s.get(Probe, fb).state == "planned"
