"""`qualibench demo`: the real pipeline end to end on the demo world."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from qualibench.demo import MARKER, run_demo
from qualibench.errors import QualibenchError
from qualibench.models import Event, Probe, Reply
from qualibench.workspace import Workspace


@pytest.mark.slow
def test_run_demo_runs_the_pipeline_and_gives_sane_figures(tmp_path, db_url):
    out = tmp_path / "demo"
    thresholds = gc.get_threshold()
    result = run_demo(out, brands=4, seed=1, db_url=db_url, formats=("html",))
    assert gc.get_threshold() == thresholds  # the demo's collector setting is restored
    assert not _world_children()  # the world's process stopped with the demo
    assert result.missing == []
    assert result.probes >= 4 * 3
    assert 0 < result.sent <= result.probes
    assert 0 < result.answered < result.sent  # some brands answer, the silent one never does
    assert 0 < result.answer_rate < 1
    # the Kaplan-Meier median over all sent tests may be "not reached" (None) on 4 brands; the
    # median among answered tests always exists here, under its own name, and is never larger
    assert result.answered_median_hours is not None and 0 < result.answered_median_hours < 14 * 24
    if result.median_delay_hours is not None:
        assert result.answered_median_hours <= result.median_delay_hours < 14 * 24
    assert result.virtual_days >= 14  # the whole observation window went by
    assert result.html is not None and result.html.exists()
    assert result.html.read_text(encoding="utf-8").count("<html") == 1
    # The figures are the database's: every answered probe has its reply and its delay.
    ws = Workspace.open(out, db_url)
    with ws.session() as s:
        probes = list(s.exec(select(Probe)))
        replies = list(s.exec(select(Reply)))
        assert s.exec(select(Event)).first() is not None
    assert len(replies) >= result.answered
    assert sum(p.first_answer_at is not None for p in probes) >= result.answered
    assert all(p.first_answer_at > p.sent_at for p in probes if p.first_answer_at and p.sent_at)
    # Virtual time is honoured: nothing goes out before its drawn slot, nor days after it.
    sent = [p for p in probes if p.sent_at and p.planned_at]
    assert sent and all(p.planned_at <= p.sent_at <= p.planned_at + timedelta(days=3) for p in sent)


def _world_children() -> list[str]:
    pids = []
    for children in Path("/proc/self/task").glob("*/children"):
        pids += children.read_text().split()
    cmdlines = []
    for pid in pids:
        try:
            cmdlines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue  # exited meanwhile
    return [c for c in cmdlines if "qualibench.world.process" in c]


def test_demo_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(QualibenchError, match="not empty"):
        run_demo(tmp_path, brands=2)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not (tmp_path / MARKER).exists()


def test_demo_rejects_an_unknown_language(tmp_path):
    with pytest.raises(QualibenchError, match="language"):
        run_demo(tmp_path / "d", brands=2, lang="de")


@pytest.mark.slow
def test_qualibench_demo_command_end_to_end(tmp_path):
    """What the README tells a newcomer to run, in a subprocess, as they would."""
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIBENCH_")}
    proc = subprocess.run(
        [sys.executable, "-m", "qualibench", "demo", "--brands", "6", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert summary["brands"] == 6
    assert summary["missing"] == []
    assert summary["sent"] > 0 and 0 < summary["answer_rate"] < 1
    assert summary["answered_median_hours"] > 0
    assert summary["median_delay_hours"] is None or summary["median_delay_hours"] >= summary["answered_median_hours"]
    assert any("not awarded" not in t for t in summary["trophies"])  # at least one trophy given
    for key in ("html", "pdf"):
        path = Path(summary[key])
        assert path.exists() and path.stat().st_size > 1000, key
    assert Path(summary["pdf"]).read_bytes().startswith(b"%PDF")
    # The password was only in the process environment: never written to the campaign folder.
    toml = (out / "campaign.toml").read_text(encoding="utf-8")
    assert "password_env" in toml
