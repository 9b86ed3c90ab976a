"""`qualibench collect` and `qualibench inbox` end to end through the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from qualibench.cli import app
from tests.plugins.collecting import HUMAN, SHOPPER, reply_bytes

pytestmark = pytest.mark.integration


def _run(ws, *args):
    result = CliRunner().invoke(app, ["-C", str(ws.root), "--db", ws.db_url, *args],
                                catch_exceptions=False)
    return result


def test_collect_json_then_inbox_assign_and_dismiss(dovecot_server, sent_campaign):
    ws, probes = sent_campaign(dovecot_server.host, dovecot_server.port, dovecot_server.password)
    later = (probes[1].sent_at + timedelta(days=1)).timestamp()
    dovecot_server.deliver(SHOPPER, reply_bytes(probes[0], HUMAN), mtime=later)
    dovecot_server.deliver(SHOPPER, reply_bytes(None, "Promo", sender="a@promo.test", subject="Promo"),
                           mtime=later)
    dovecot_server.deliver(SHOPPER, reply_bytes(None, HUMAN, sender="b@else.test", subject="Re: ?"),
                           mtime=later)

    result = _run(ws, "collect", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["new"] == 3 and report["matched"] == 1 and report["unmatched"] == 2

    listed = json.loads(_run(ws, "inbox", "list", "--json").stdout)
    assert len(listed) == 2 and {i["status"] for i in listed} == {"unmatched"}
    promo = next(i for i in listed if i["from_address"] == "a@promo.test")
    other = next(i for i in listed if i["from_address"] == "b@else.test")

    out = _run(ws, "inbox", "dismiss", str(promo["id"]), "--analyst", "alice", "--why", "promo")
    assert out.exit_code == 0 and "dismissed" in out.stdout
    out = _run(ws, "inbox", "assign", str(other["id"]), probes[1].key, "--analyst", "alice")
    assert out.exit_code == 0 and "answer" in out.stdout
    assert json.loads(_run(ws, "inbox", "list", "--json").stdout) == []
    text = _run(ws, "collect").stdout
    assert "0 new message(s)" in text


def test_inbox_assign_to_unknown_probe_is_a_one_line_error(dovecot_server, sent_campaign):
    import subprocess
    import sys

    ws, _ = sent_campaign(dovecot_server.host, dovecot_server.port, dovecot_server.password)
    dovecot_server.deliver(SHOPPER, reply_bytes(None, "x", sender="a@promo.test", subject="Promo"))
    assert _run(ws, "collect", "--json").exit_code == 0
    proc = subprocess.run(
        [sys.executable, "-m", "qualibench", "-C", str(ws.root), "--db", ws.db_url,
         "inbox", "assign", "1", "no-such-probe", "--analyst", "alice"],
        capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Error:" in proc.stderr and "Hint:" in proc.stderr and "Traceback" not in proc.stderr
