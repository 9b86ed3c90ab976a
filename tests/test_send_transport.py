"""SMTP transport security: implicit TLS, STARTTLS with AUTH, and no clear text off loopback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from qualibench.clock import VirtualClock
from qualibench.errors import QualibenchError, RemoteFailure
from qualibench.mail.smtp import check_transport, is_loopback
from qualibench.models import Probe, ProbeState
from qualibench.sending import send_due_probes

MONDAY_MORNING = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)


def _states(ws) -> set[str]:
    with ws.session() as s:
        return {p.state for p in s.exec(select(Probe))}


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_tls_and_auth_on_a_real_server(mode, mail_campaign, smtp_server_factory, tls_files,
                                       monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))  # trust the test's own CA
    server = smtp_server_factory(auth=True, starttls=mode == "starttls",
                                 implicit_tls=mode == "tls")
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1,
                       mail={"smtp_port": server.port, "smtp_security": mode})
    report = send_due_probes(ws)
    assert report.sent > 0 and len(server.messages) == report.sent
    assert all(m.auth_login for m in server.messages)
    assert server.auth_attempts and set(server.auth_attempts) == {server.user}
    assert _states(ws) == {ProbeState.SENT.value}


def test_wrong_password_is_a_remote_failure_without_the_password(
        mail_campaign, smtp_server_factory, tls_files, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))
    server = smtp_server_factory(auth=True, starttls=True)
    server.password = "the-real-one"
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1,
                       mail={"smtp_port": server.port, "smtp_security": "starttls"})
    with pytest.raises(RemoteFailure) as caught:
        send_due_probes(ws)
    assert "refused the login" in caught.value.message
    assert "s3cret" not in caught.value.message and "s3cret" not in (caught.value.hint or "")
    assert server.messages == []
    assert _states(ws) == {ProbeState.PLANNED.value}  # nothing went out: requeued


def test_untrusted_certificate_is_refused(mail_campaign, smtp_server_factory):
    server = smtp_server_factory(implicit_tls=True)
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1,
                       mail={"smtp_port": server.port, "smtp_security": "tls"})
    with pytest.raises(RemoteFailure, match="TLS"):
        send_due_probes(ws)
    assert server.messages == []


def test_starttls_missing_is_not_silently_downgraded(mail_campaign, smtp_server):
    ws = mail_campaign(clock=VirtualClock(MONDAY_MORNING), brands=1,
                       mail={"smtp_security": "starttls"})
    with pytest.raises(RemoteFailure, match="does not offer STARTTLS"):
        send_due_probes(ws)
    assert smtp_server.messages == []


def test_plain_text_only_on_loopback_unless_insecure():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("192.0.2.10")
    check_transport("smtp", "shopper", "127.0.0.1", "plain", has_credentials=True,
                    insecure=False)
    with pytest.raises(QualibenchError, match="clear text") as caught:
        check_transport("smtp", "shopper", "192.0.2.10", "plain", has_credentials=True,
                        insecure=False)
    assert "--insecure" in caught.value.hint
    check_transport("smtp", "shopper", "192.0.2.10", "plain", has_credentials=True,
                    insecure=True)
    with pytest.raises(QualibenchError, match="not one of"):
        check_transport("smtp", "shopper", "127.0.0.1", "ssl3", has_credentials=False,
                        insecure=False)


def test_cli_refuses_clear_text_to_a_remote_host(mail_campaign, db_url, smtp_server):
    """The CLI run end to end: one Error line, one Hint line, no traceback, nothing sent."""
    import os
    import subprocess
    import sys

    ws = mail_campaign(brands=1, mail={"smtp_host": "192.0.2.10"})
    toml = ws.root / "campaign.toml"
    toml.write_text(toml.read_text().replace('days = "mon-fri"\nhours = ["09:00-12:00", "14:00-17:00"]',
                                             'days = "mon-sun"\nhours = ["00:00-24:00"]'))
    # The wave of this campaign is in the future for the real clock: pull it into the past.
    with ws.session() as s:
        for p in s.exec(select(Probe)):
            p.planned_at = datetime(2020, 1, 6, 9, tzinfo=UTC)
            s.add(p)
    result = subprocess.run(
        [sys.executable, "-c", "from qualibench.cli import main; main()", "-C", str(ws.root),
         "--db", db_url, "send"], capture_output=True, text=True, env=os.environ, timeout=120)
    assert result.returncode != 0
    assert "Error:" in result.stderr and "Hint:" in result.stderr
    assert "--insecure" in result.stderr
    assert "Traceback" not in result.stderr
    assert _states(ws) == {ProbeState.PLANNED.value}
