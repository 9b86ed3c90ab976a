"""The crash-safe outbox: interrupted probes are reconciled from the Sent folder, never resent
blindly; a real `qualibench send` killed with -9 at random moments sends each probe once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from qualibench.channels.email import EmailChannel
from qualibench.clock import VirtualClock
from qualibench.mail.smtp import message_bytes
from qualibench.models import Brand, Persona, Probe, ProbeState
from qualibench.planning import plan_campaign
from qualibench.probes import transition
from qualibench.sending import send_due_probes
from tests.plugins.mailservers import PASSWORD_ENV, open_send_slots

MONDAY_MORNING = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def _probes(ws) -> list[Probe]:
    with ws.session() as s:
        return list(s.exec(select(Probe).order_by(Probe.id)))


def _leave_dispatching(ws, probe_id: int, clock) -> Probe:
    """Put a probe where a run killed mid-send leaves it."""
    with ws.session() as s:
        probe = s.get(Probe, probe_id)
        transition(s, probe, ProbeState.DISPATCHING, clock=clock)
        return probe


def _raw_for(ws, probe: Probe) -> bytes:
    with ws.session() as s:
        brand, persona = s.get(Brand, probe.brand_id), s.get(Persona, probe.persona_id)
    return message_bytes(EmailChannel().build(ws, probe, brand, persona))


def test_interrupted_probe_with_a_sent_copy_is_not_sent_again(mail_campaign, smtp_server,
                                                              pymap_server):
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock, brands=2)
    probes = _probes(ws)
    stuck = _leave_dispatching(ws, probes[0].id, clock)
    copy_time = MONDAY_MORNING - timedelta(minutes=3)
    pymap_server.append("Sent", _raw_for(ws, stuck), when=copy_time)

    report = send_due_probes(ws)

    assert report.reconciled_sent == 1
    assert report.sent == len(probes) - 1
    assert stuck.message_id not in smtp_server.message_ids()
    after = {p.id: p for p in _probes(ws)}[stuck.id]
    assert after.state == ProbeState.SENT.value
    assert after.sent_at == copy_time  # the copy's INTERNALDATE, given just before the dot
    assert after.dispatch["reconciled"] is True


def test_interrupted_probe_without_a_copy_is_sent_exactly_once(mail_campaign, smtp_server):
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock, brands=1)
    probes = _probes(ws)
    stuck = _leave_dispatching(ws, probes[0].id, clock)

    report = send_due_probes(ws)

    assert report.reconciled_requeued == 1
    assert Counter(smtp_server.message_ids())[stuck.message_id] == 1
    assert all(p.state == ProbeState.SENT.value for p in _probes(ws))
    assert {p.id: p for p in _probes(ws)}[stuck.id].attempts == 2


def test_a_channel_that_cannot_reconcile_marks_the_probe_failed(mail_campaign, smtp_server,
                                                                monkeypatch):
    class NoReconcile(EmailChannel):
        reconcile = None  # type: ignore[assignment]

    monkeypatch.setattr("qualibench.sending.load_channels", lambda: {"email": NoReconcile})
    clock = VirtualClock(MONDAY_MORNING)
    ws = mail_campaign(clock=clock, brands=1)
    stuck = _leave_dispatching(ws, _probes(ws)[0].id, clock)

    report = send_due_probes(ws)

    assert report.reconciled_failed == 1
    after = {p.id: p for p in _probes(ws)}[stuck.id]
    assert after.state == ProbeState.FAILED.value
    assert "cannot tell" in after.failure_reason
    assert stuck.message_id not in smtp_server.message_ids()


def test_a_second_concurrent_run_is_refused(mail_campaign, smtp_server):
    from qualibench.errors import QualibenchError
    from qualibench.sending import send_lock

    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1)
    with send_lock(ws), pytest.raises(QualibenchError, match="another"):
        send_due_probes(ws)
    assert smtp_server.messages == []


def _cli(folder, db_url, *args: str) -> list[str]:
    return [sys.executable, "-c", "from qualibench.cli import main; main()",
            "-C", str(folder), "--db", db_url, "send", *args]


@pytest.mark.slow
def test_kill_9_at_random_moments_then_rerun_sends_each_probe_once(
        tmp_path, db_url, smtp_server, pymap_server, monkeypatch):
    """200 probes; the real CLI is killed with SIGKILL at random moments, then rerun to the end."""
    from tests.factories import make_campaign
    from tests.plugins.mailservers import mail_account

    monkeypatch.setenv(PASSWORD_ENV, pymap_server.password)
    # A wave that started last week and send slots open around the clock, so the real
    # (system) clock of the CLI finds every probe due now.
    ws = make_campaign(tmp_path, db_url, brands=50, scenarios=4, plan=False,
                       start=datetime.now(UTC).date() - timedelta(days=8),
                       mail=mail_account(smtp_server, pymap_server), per_domain_seconds=0)
    open_send_slots(ws.root)
    toml = ws.root / "campaign.toml"
    toml.write_text(toml.read_text().replace("per_account_per_hour = 60",
                                             "per_account_per_hour = 100000"))
    ws._spec = None
    plan_campaign(ws)
    probes = _probes(ws)
    assert len(probes) == 200
    assert all(p.planned_at <= datetime.now(UTC) for p in probes)

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    env = {**os.environ, PASSWORD_ENV: pymap_server.password}
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen(_cli(ws.root, db_url, "--json"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.8, 4.0))  # imports take ~1 s; then ~20 probes a second
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(30)
    final = subprocess.run(_cli(ws.root, db_url, "--json"), env=env, capture_output=True,
                           text=True, timeout=300)
    assert final.returncode == 0, final.stderr

    ids = Counter(smtp_server.message_ids())
    duplicates = {m: n for m, n in ids.items() if n > 1}
    assert not duplicates, f"seed {seed}: sent more than once: {duplicates}"
    states = Counter(p.state for p in _probes(ws))
    assert states == {ProbeState.SENT.value: 200}, f"seed {seed}: {states}"
    assert set(ids) == {p.message_id for p in probes}, f"seed {seed}: some never arrived"
    print(f"seed {seed}: {kills} kills, {len(ids)} messages received once each")


def test_cli_send_json_and_errors(mail_campaign, tmp_path, db_url, smtp_server):
    from typer.testing import CliRunner

    from qualibench.cli import app

    ws = mail_campaign(brands=1, start=date(2026, 11, 30))
    runner = CliRunner()
    result = runner.invoke(app, ["-C", str(ws.root), "--db", db_url, "send", "--dry-run",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert '"would_send"' in result.output
    assert smtp_server.messages == []
