"""Two editions in one database: every command stays within its folder's campaign (or --campaign-id).

Through the installed console script, as an analyst of a team runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from qualibench.campaign.init import init_campaign
from qualibench.db import get_engine
from qualibench.models import Campaign, Probe
from qualibench.workspace import Workspace


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("qualibench")
    return [str(exe)] if exe.exists() else [shutil.which("qualibench") or "qualibench"]


def _run(folder: Path, db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIBENCH_")}
    env["COLUMNS"] = "200"
    return subprocess.run([*_cli(), "-C", str(folder), "--db", db_url, *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def two_editions(tmp_path, db_url):
    start = (datetime.now(UTC) - timedelta(days=3)).date()
    folders = {}
    # The same seed in both editions: the same aliases and Message-IDs are drawn, and must
    # still be unique across the database.
    for edition, seed in (("2025", 1), ("2026", 1)):
        folder = tmp_path / edition
        init_campaign(folder, brands=2, channels=("facebook",), scenarios=1, edition=edition,
                      seed=seed, start=start, force=True)
        done = _run(folder, db_url, "plan")
        assert done.returncode == 0, done.stderr
        folders[edition] = folder
    with Workspace.open(folders["2025"], db_url).session() as s:
        ids = {c.edition: c.id for c in s.exec(select(Campaign))}
    return folders, ids


def _probes(db_url: str) -> dict[tuple[int, str], Probe]:
    from sqlmodel import Session

    with Session(get_engine(db_url)) as s:
        return {(p.campaign_id, p.key): p for p in s.exec(select(Probe))}


def test_assist_sent_by_key_changes_only_the_folders_edition(two_editions, db_url):
    folders, ids = two_editions
    key = next(k for (cid, k) in _probes(db_url) if cid == ids["2026"])
    assert (ids["2025"], key) in _probes(db_url)  # the same key exists in both editions
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    done = _run(folders["2026"], db_url, "assist", "sent", key, "--at", at)
    assert done.returncode == 0, done.stderr
    probes = _probes(db_url)
    assert probes[(ids["2026"], key)].state == "sent"
    assert probes[(ids["2025"], key)].state == "planned"

    # An id of the other edition is not found from this folder.
    other = probes[(ids["2025"], key)].id
    done = _run(folders["2026"], db_url, "assist", "sent", str(other), "--at", at)
    assert done.returncode != 0 and f"no probe '{other}'" in done.stdout + done.stderr
    assert _probes(db_url)[(ids["2025"], key)].state == "planned"

    for folder in folders.values():
        done = _run(folder, db_url, "verify")
        assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr


def test_campaign_id_chooses_the_edition_from_a_folder_without_campaign_files(two_editions, db_url,
                                                                              tmp_path):
    folders, ids = two_editions
    bare = tmp_path / "auditor"
    bare.mkdir()
    done = _run(bare, db_url, "assist", "next", "--limit", "50", "--json")
    assert done.returncode != 0 and "--campaign-id" in done.stdout + done.stderr
    done = _run(bare, db_url, "--campaign-id", str(ids["2025"]), "assist", "next", "--limit", "50", "--json")
    assert done.returncode == 0, done.stderr
    missions = json.loads(done.stdout)
    probes = _probes(db_url)
    mine = {p.id for (cid, _), p in probes.items() if cid == ids["2025"]}
    assert missions and {m["probe_id"] for m in missions} == mine
    # The folder of one edition refuses the other's id instead of mixing them.
    done = _run(folders["2026"], db_url, "--campaign-id", str(ids["2025"]), "assist", "next")
    assert done.returncode != 0 and "this folder's campaign.toml" in done.stdout + done.stderr
