"""`status` and `awards` read on an 80-column terminal: no line wider, no name or figure cut."""

from __future__ import annotations

import json

from sqlmodel import select

from qualibench.models import Brand
from tests.plugins.console import run_qb

NARROW = {"COLUMNS": "80"}


def _words(text: str) -> set[str]:
    return set(text.split())


def test_status_by_brand_fits_80_columns(tmp_path, db_url):
    assert run_qb("init", "c", cwd=tmp_path).returncode == 0
    camp = tmp_path / "c"
    assert run_qb("--db", db_url, "plan", cwd=camp).returncode == 0
    run = run_qb("--db", db_url, "status", "--brands", cwd=camp, env=NARROW)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    header = next(ln for ln in lines if ln.startswith("brand"))
    assert header.split() == ["brand", "planned", "sent", "answered", "pending", "failed",
                              "undeliv.", "censored", "total"]
    totals = json.loads(run_qb("--db", db_url, "status", "--json", cwd=camp).stdout)["totals"]
    all_row = [ln for ln in lines if ln.startswith("all")][-1].split()
    assert all_row[1:] == [str(totals[c]) for c in ("planned", "sent", "answered", "pending", "failed",
                                                    "undeliverable", "censored", "total")]
    # Every word of every brand name is there, whole (names fold between words, not inside).
    assert {"Maison", "Lumière", "Boutique", "Azur"} <= _words(run.stdout)


def test_awards_fit_80_columns(finished, db_url):
    ws, _ = finished  # a database only: the campaign is chosen by --db, no campaign.toml
    ws.root.mkdir(parents=True, exist_ok=True)
    run = run_qb("--db", db_url, "awards", cwd=ws.root, env=NARROW)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    trophies = json.loads(run_qb("--db", db_url, "awards", "--json", cwd=ws.root).stdout)["trophies"]
    awarded = [t for t in trophies if t["awarded"]]
    missed = [t for t in trophies if not t["awarded"]]
    assert awarded and "Trophies" in lines[0]
    for t in awarded:
        w = t["winners"][0]
        row = next(ln for ln in lines if ln.startswith(t["category"].replace("_", " ")
                                                         + (f": {t['scope']}" if t["scope"] else "")))
        assert f"{w['index']:.1f}" in row and f" {w['tests']} " in row
        assert f"[{w['low']:.1f}–{w['high']:.1f}]" in run.stdout
        assert set(w["brand"].split()) <= _words(run.stdout)
    if missed:
        assert any(ln.strip() == "Not awarded" for ln in lines)
    with ws.session() as s:
        assert s.exec(select(Brand)).first() is not None
