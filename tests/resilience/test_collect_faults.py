"""Faults while collecting: the database locked by another program, the disk full.

Each must give a clear error (no traceback), keep the raw evidence already fetched, and let a
rerun complete with every reply stored once.
"""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import select

from qualibench.models import InboundMessage
from qualibench.workspace import Workspace
from tests.plugins.demo_world import make_answered_campaign


def _expected(world) -> set[str]:
    out = set()
    for sub in ("new", "cur"):
        for f in (world.mailbox.maildir / sub).iterdir():
            out.add("".join(message_from_bytes(f.read_bytes())["Message-ID"].split()))
    return out


def _collect(c, db_url: str, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qualibench", "-C", str(c.folder), "--db", db_url, "collect"],
        env=c.env(), capture_output=True, text=True, timeout=300, preexec_fn=preexec,
    )


def _evidence_files(folder: Path) -> set[str]:
    return {p.name for p in (folder / "evidence").rglob("*") if p.is_file() and not p.name.startswith(".")}


def _assert_error_without_traceback(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode != 0
    assert "Error:" in proc.stderr and "Hint:" in proc.stderr, proc.stderr[-1500:]
    assert "Traceback (most recent call last)" not in proc.stderr, proc.stderr[-1500:]


def _require_clear_cause(proc: subprocess.CompletedProcess) -> None:
    """The error must name the cause, not be the catch-all for unforeseen exceptions."""
    assert "unexpected" not in proc.stderr, proc.stderr[-1500:]


def _assert_rerun_completes(c, db_url: str, expected: set[str]) -> None:
    proc = _collect(c, db_url)
    assert proc.returncode == 0, proc.stderr[-1500:]
    ws = Workspace.open(c.folder, db_url)
    with ws.session() as s:
        stored = list(s.exec(select(InboundMessage)))
    assert sorted(m.message_id for m in stored) == sorted(expected)


@pytest.mark.slow
def test_database_locked_while_collecting(tmp_path, db_url, on_postgres):
    if on_postgres:
        pytest.skip("an SQLite file lock; PostgreSQL has row locks and waits instead")
    with make_answered_campaign(tmp_path, db_url, brands=6, seed=3) as c:
        expected = _expected(c.world)
        evidence_before = _evidence_files(c.folder)
        locker = sqlite3.connect(make_url(db_url).database, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
        try:
            proc = _collect(c, db_url)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        _assert_error_without_traceback(proc)
        assert "locked" in proc.stderr.lower()
        after_fault = _evidence_files(c.folder)
        assert evidence_before <= after_fault  # nothing stored earlier was lost
        _assert_rerun_completes(c, db_url, expected)
        # Whatever raw evidence the failed run wrote is kept and used, not rewritten or orphaned.
        assert after_fault <= _evidence_files(c.folder)
        _require_clear_cause(proc)


@pytest.mark.slow
def test_disk_full_while_collecting(tmp_path, db_url, on_postgres):
    if on_postgres:
        pytest.skip("the file-size limit only bites the SQLite file; PostgreSQL writes elsewhere")
    with make_answered_campaign(tmp_path, db_url, brands=6, seed=3) as c:
        expected = _expected(c.world)
        db_file = Path(make_url(db_url).database)
        # No file may grow past its current size (as on a full disk): writes fail with EFBIG.
        limit = max(db_file.stat().st_size, 4096)

        def no_room() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        evidence_before = _evidence_files(c.folder)
        proc = _collect(c, db_url, preexec=no_room)
        _assert_error_without_traceback(proc)
        after_fault = _evidence_files(c.folder)
        assert evidence_before <= after_fault
        _assert_rerun_completes(c, db_url, expected)
        assert after_fault <= _evidence_files(c.folder)
        _require_clear_cause(proc)
