"""Secrets never reach the database, logs, exports or reports: a whole campaign is grepped."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from qualibench.demo import TOKEN_ENV
from qualibench.world import DemoWorld


def _needles(password: str, token: str, user: str) -> dict[str, bytes]:
    """Return every form a secret could leak in: clear, AUTH PLAIN / LOGIN base64."""
    plain = f"\0{user}\0{password}".encode()
    return {
        "password": password.encode(),
        "token": token.encode(),
        "password (base64)": base64.b64encode(password.encode()),
        "AUTH PLAIN blob": base64.b64encode(plain),
    }


def _db_text(db_url: str) -> bytes:
    engine = create_engine(db_url)
    chunks = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                chunks.append(repr(tuple(row)).encode("utf-8", "replace"))
                # Raw evidence kept in the database (PostgreSQL) is searched as the bytes it is.
                chunks += [bytes(v) for v in row if isinstance(v, bytes | memoryview)]
    engine.dispose()
    return b"\n".join(chunks)


def _blob_count(db_url: str) -> int:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM evidenceblob")).scalar()
    engine.dispose()
    return int(n or 0)


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "qualibench", *args], capture_output=True,
                          timeout=600, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc


@pytest.mark.slow
@pytest.mark.timeout(900)  # a whole demo plus exports: each command has its own 600 s bound
def test_no_secret_in_database_files_logs_exports_or_reports(tmp_path, db_url):
    seed = 7
    # The demo's secrets are drawn from its seed: known here without being passed anywhere.
    world = DemoWorld(brands=1, seed=seed)
    password, user = world.shopper_password, world.shopper_user
    world.stop()
    token = "demo-token-7"
    needles = _needles(password, token, user)
    out = tmp_path / "campaign"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIBENCH_")}
    outputs = [
        _run(["--db", db_url, "demo", "--brands", "4", "--seed", str(seed), "--out", str(out),
              "--json"], env, tmp_path),
    ]
    summary = json.loads(outputs[0].stdout)
    assert summary["sent"] > 0 and summary["replies"] > 0  # a real run, not an empty one
    env_run = {**env, TOKEN_ENV: token, "QB_DEMO_SHOPPER_PASSWORD": password}
    for args in (["export", "--format", "csv", "--out", str(out / "export")],
                 ["export", "--format", "xlsx", "--out", str(out / "export-xlsx")],
                 ["config", "show"], ["status"], ["awards", "--json"], ["verify"]):
        outputs.append(_run(["-C", str(out), "--db", db_url, *args], env_run, tmp_path))

    haystacks: dict[str, bytes] = {"database": _db_text(db_url)}
    for path in out.rglob("*"):
        if path.is_file():
            haystacks[str(path.relative_to(out))] = path.read_bytes()
    for i, proc in enumerate(outputs):
        haystacks[f"output of command {i}"] = proc.stdout + proc.stderr
    assert any(p.endswith(".pdf") for p in haystacks) and any(p.endswith(".csv") for p in haystacks)
    # Raw mail was searched too: files in the folder (SQLite) or rows of the database (PostgreSQL).
    assert len([p for p in haystacks if p.startswith("evidence")]) + _blob_count(db_url) > 10
    leaks = [f"{what} in {where}" for where, hay in haystacks.items()
             for what, needle in needles.items() if needle in hay]
    assert leaks == []
    # The searches looked where secrets would sit: the config with its secret *reference*.
    assert b"QB_DEMO_SHOPPER_PASSWORD" in haystacks["database"]
    assert b"QB_DEMO_SHOPPER_PASSWORD" in haystacks["campaign.toml"]
