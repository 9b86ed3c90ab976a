"""Hostile input at the command line (issue #13): terminal injection from brands' mail, bombs in
campaign files, a credential in a brands.csv URL, a malformed --db URL, a damaged database.

Every case runs the installed console script in a subprocess. Bounds are on that child's own
CPU time and peak memory (os.wait4, see measured_run), generous enough for a loaded machine; a
memory cap (RLIMIT_AS) turns a bound that does not hold into one failed test, not a swapped host.
"""

from __future__ import annotations

import base64
import io
import re
import sqlite3
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from sqlmodel import select

from qualibench.campaign.limits import (
    CAMPAIGN_TOML_BYTES,
    TABLE_BYTES,
    TABLE_LINE_CHARS,
    TOML_DEPTH,
    XLSX_UNZIPPED_BYTES,
    YAML_VALUES,
)
from qualibench.models import Reply
from tests.hostile.conftest import run_qualibench
from tests.plugins.collecting import SHOPPER, reply_bytes

CAP_MB = 1500  # address-space cap of each child: Python + SQLAlchemy + pandas map ~700 MB
PEAK_MB = 400  # resident memory a refused file may cost (a plain `check` takes ~120 MB)
CPU_S = 20  # CPU seconds a refusal may take on a loaded machine (it takes well under 2)

# What a hostile helpdesk (or spammer) puts in a subject or a body.
ESCAPES = "\x1b[2J\x1b[H\x1b[31mRED\x1b]0;owned\x07\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\\u202eevil"
SUBJECTS = ["Close [/] this", "[link=https://evil.example/pay]Pay here[/link]", "[bold red]FAKE[/] " + ESCAPES]
SGR = re.compile(r"\x1b\[[0-9;]*m")  # the colour codes rich itself writes


def _inert(output: str) -> None:
    """No control character but rich's own colours, no hyperlink, no traceback."""
    assert "Traceback" not in output
    assert "\x1b]8;" not in output
    rest = SGR.sub("", output)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", rest), repr(rest)


def _encoded(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def _stray(subject: str, body: str = "Bonjour") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Service <noreply@evil.test>"
    msg["To"] = SHOPPER
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    msg["Message-ID"] = make_msgid(domain="evil.test")
    msg.set_content(body)
    raw = msg.as_bytes()
    # The subject as an encoded word, so the control characters survive any header folding.
    return re.sub(rb"^Subject: .*?\r?\n(?=\S)", f"Subject: {_encoded(subject)}\n".encode(), raw,
                  count=1, flags=re.S | re.M)


@pytest.mark.integration
def test_inbox_list_and_score_explain_print_brand_text_inertly(dovecot_server, sent_campaign):
    ws, probes = sent_campaign(dovecot_server.host, dovecot_server.port, dovecot_server.password)
    for subject in SUBJECTS:
        dovecot_server.deliver(SHOPPER, _stray(subject))
    body = ("Bonjour Madame, [/] nous sommes désolés [link=https://evil.example]cliquez[/link]. "
            f"{ESCAPES} Le remboursement sera fait sous cinq jours. Cordialement, Julie")
    dovecot_server.deliver(SHOPPER, reply_bytes(probes[0], body))
    common = ["-C", str(ws.root), "--db", ws.db_url]
    # FORCE_COLOR: rich writes for a real terminal (colours, and hyperlinks if markup made any).
    env = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    collected = run_qualibench(*common, "collect", "--json", cwd=ws.root, env=env, memory_cap_mb=CAP_MB)
    assert collected.returncode == 0, collected.stderr

    listed = run_qualibench(*common, "inbox", "list", cwd=ws.root, env=env, memory_cap_mb=CAP_MB)
    assert listed.returncode == 0, listed.stderr
    _inert(listed.stdout + listed.stderr)
    plain = SGR.sub("", listed.stdout)
    assert "Close [/] this" in plain and "[link=https://evil.example/pay]Pay" in plain
    assert "\\x1b[2J" in plain  # spelt out, visible to the analyst

    assert run_qualibench(*common, "score", cwd=ws.root, memory_cap_mb=CAP_MB).returncode == 0
    with ws.session() as s:
        reply_id = s.exec(select(Reply).where(Reply.probe_id == probes[0].id)).first().id
    explained = run_qualibench(*common, "score", "explain", str(reply_id), cwd=ws.root, env=env,
                               memory_cap_mb=CAP_MB)
    assert explained.returncode == 0, explained.stderr
    _inert(explained.stdout + explained.stderr)
    text = SGR.sub("", explained.stdout)
    assert "[link=https://evil.example]cliquez[/link]" in text and "\\x1b]0;owned\\x07" in text


# --- bombs in campaign files --------------------------------------------------------------


def _campaign(tmp_path: Path) -> Path:
    from qualibench.campaign.init import init_campaign

    init_campaign(tmp_path / "c")  # what `qualibench init c` writes
    return tmp_path / "c"


def _billion_laughs(path: Path) -> None:
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 9) + "]")
    lines.append("id: laughs\ntitle: *lol9\nbody: *lol9")
    path.write_text("\n".join(lines) + "\n")


def _xlsx_bomb(path: Path) -> None:
    # A real workbook whose sheet is padded with blanks past the limit: a few hundred KB zipped.
    from openpyxl import Workbook

    buf = io.BytesIO()
    wb = Workbook()
    wb.active.append(["name", "sector"])
    wb.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("sheet1.xml"):
                with out.open(item.filename, "w", force_zip64=True) as f:
                    f.write(data[:-len(b"</worksheet>")])
                    for _ in range(XLSX_UNZIPPED_BYTES // (1024 * 1024) + 20):
                        f.write(b" " * (1024 * 1024))
                    f.write(b"</worksheet>")
            else:
                out.writestr(item, data)


def _huge_csv_line(path: Path) -> None:
    # 1 GB with no line break: sparse, so it costs no disk and no time to write.
    with path.open("wb") as f:
        f.write(b"name,sector,email\nAcme,retail,")
        f.truncate(1024 ** 3)


def _long_csv_line(path: Path) -> None:
    # Under the size limit, but one line far longer than a brand row.
    path.write_text("name,sector,email\nAcme,retail," + "a" * (TABLE_LINE_CHARS * 5) + "\n")


def _deep_toml(path: Path) -> None:
    text = path.read_text()
    path.write_text(text + "\n[extra]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")


def _huge_toml(path: Path) -> None:
    with path.open("a") as f:
        f.write("# padding\n" * (CAMPAIGN_TOML_BYTES // 10 + 10))


BOMBS = {
    "billion-laughs-yaml": ("scenarios/laughs.yaml", _billion_laughs, f"expand to more than {YAML_VALUES:,} values"),
    "xlsx-zip-bomb": ("brands.xlsx", _xlsx_bomb, f"over the {XLSX_UNZIPPED_BYTES // 2**20} MB limit"),
    "1gb-csv-line": ("brands.csv", _huge_csv_line, f"over the {TABLE_BYTES // 2**20} MB limit"),
    "long-csv-line": ("brands.csv", _long_csv_line, f"longer than {TABLE_LINE_CHARS:,} characters"),
    "deep-toml": ("campaign.toml", _deep_toml, f"nested more than {TOML_DEPTH} levels deep"),
    "huge-toml": ("campaign.toml", _huge_toml, f"over the {CAMPAIGN_TOML_BYTES // 2**20} MB limit"),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_bombs_in_campaign_files_are_refused_fast_with_one_line(case, tmp_path):
    camp = _campaign(tmp_path)
    name, write, limit = BOMBS[case]
    if name == "brands.xlsx":
        (camp / "brands.csv").unlink()
        toml = camp / "campaign.toml"
        toml.write_text(toml.read_text().replace('brands = "brands.csv"', 'brands = "brands.xlsx"'))
    write(camp / name)
    run = run_qualibench("check", cwd=camp, memory_cap_mb=CAP_MB, timeout=120)
    assert not run.killed and run.returncode == 3, (run.returncode, run.stderr[-2000:])
    named = [ln for ln in run.err_lines if ln.startswith(str(camp / name))]
    assert len(named) == 1 and limit in named[0], run.stderr[-2000:]
    assert run.err_lines[-2:][0].startswith("Error:") and "Traceback" not in run.stderr
    print(f"{case}: refused in {run.cpu_seconds:.2f} s CPU, peak {run.peak_mb:.0f} MB")
    assert run.peak_mb < PEAK_MB and run.cpu_seconds < CPU_S, (run.peak_mb, run.cpu_seconds)


# --- credentials, database URL, damaged database ------------------------------------------


@pytest.mark.parametrize("cell", ["contact_form_url", "facebook_page", "other_channels"])
def test_a_credential_in_a_brands_url_is_refused_and_never_shown(cell, tmp_path):
    camp = _campaign(tmp_path)
    secret = "hunter2-s3cret"
    value = {"contact_form_url": f"https://shop:{secret}@acme.example/contact",
             "facebook_page": f"https://admin:{secret}@facebook.example/acme",
             "other_channels": f"chat=https://acme.example/chat?token={secret}"}[cell]
    (camp / "brands.csv").write_text(f"name,sector,email,{cell}\nAcme,retail,a@acme.example,{value}\n")
    run = run_qualibench("check", cwd=camp)
    assert run.returncode == 3
    line = next(ln for ln in run.err_lines if f"row 2, {cell}:" in ln)
    assert "(refused)" in line and "remove the credentials" in line
    plan = run_qualibench("plan", cwd=camp)
    assert plan.returncode == 3
    assert secret not in run.stdout + run.stderr + plan.stdout + plan.stderr
    db = camp / "qualibench.sqlite"
    assert not db.exists() or secret.encode() not in db.read_bytes()


@pytest.mark.parametrize("url, cause", [
    ("postgresql://qb:pw@127.0.0.1:port/db", "is not valid"),
    ("not a url at all", "is not valid"),
    ("nosuchdb://x/y", "names an unknown kind of database 'nosuchdb'"),
])
def test_a_malformed_db_url_is_one_line(url, cause, tmp_path):
    camp = _campaign(tmp_path)
    run = run_qualibench("--db", url, "status", cwd=camp)
    assert run.returncode == 1
    assert len(run.err_lines) == 2 and cause in run.err_lines[0]
    assert run.err_lines[0].startswith("Error: the database URL (--db or $QUALIBENCH_DB_URL)")
    assert "pw@" not in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("cut", ["mid-page", "whole-pages", "header"])
def test_a_truncated_database_file_is_reported_as_damaged(cut, tmp_path):
    camp = _campaign(tmp_path)
    assert run_qualibench("plan", cwd=camp).returncode == 0
    db = camp / "qualibench.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db.read_bytes()
    keep = {"mid-page": len(data) // 2 + 123, "whole-pages": 4096, "header": 50}[cut]
    db.write_bytes(data[:keep])
    for f in camp.glob("qualibench.sqlite-*"):
        f.unlink()
    run = run_qualibench("status", cwd=camp)
    assert run.returncode == 1, run.stderr
    assert run.err_lines[0].startswith(f"Error: the database file {db} is damaged")
    assert run.err_lines[1].startswith("Hint: restore it from a backup")
    assert len(run.err_lines) == 2
