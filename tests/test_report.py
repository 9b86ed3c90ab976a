"""The HTML/PDF report: self-contained, escaped, translated, pseudonymised, rendered."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from bs4 import BeautifulSoup

from qualibench import analytics
from qualibench.errors import DependencyMissing, NotFound, QualibenchError
from qualibench.report import html_to_pdf, write_report
from qualibench.report.chart_worker import ChartWorker
from qualibench.report.pseudonym import pseudonymise, signature_names

LABELS = {"email": "[e-mail]", "phone": "[phone]", "order": "[ref]", "agent": "[agent]", "customer": "[customer]"}


def _html(ws, tmp_path, **kw):
    (path,) = write_report(ws, formats=("html",), out=tmp_path / "out", **kw)
    return path.read_text(encoding="utf-8")


def _fork_as_a_large_report(monkeypatch):
    # the forked chart, bootstrap and brand-sheet processes of a 500-brand report (kept in line
    # where forking is unsafe, as in a PostgreSQL test run's threads)
    monkeypatch.setattr(ChartWorker, "FORK_FROM_TESTS", 0)
    monkeypatch.setattr(analytics, "BACKGROUND_FROM_REPLICATES", 0)


def test_html_is_self_contained_with_every_section_and_the_same_when_forked(finished, tmp_path, monkeypatch):
    ws, _ = finished
    html = _html(ws, tmp_path, lang="en")
    _fork_as_a_large_report(monkeypatch)
    # a large report's processes, the chart process forked first as `qualibench report` does: same bytes
    assert _html(ws, tmp_path / "forked", lang="en", charts=ChartWorker.early()) == html
    soup = BeautifulSoup(html, "lxml")
    assert soup.find("script") is None
    assert not soup.find_all("link")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and not re.search(r"url\((?!#)", html)  # only in-document references
    ids = {s.get("id") for s in soup.find_all(["section", "nav"])}
    assert {"cover", "toc", "key", "trophies", "rankings", "delays", "quality", "sectors", "brands",
            "methodology", "glossary"} <= ids
    assert len(soup.select("#delays svg")) == 3 and soup.select("#quality svg")
    assert len(soup.select("article.brand")) == 12
    method = soup.select_one("#methodology").get_text(" ")
    assert "quality of answers › answer rate › median delay" in method
    assert "synthetic-v1" in method and "14 days" in method


def test_reply_html_and_script_show_as_text(hostile, tmp_path):
    ws, _ = hostile
    html = _html(ws, tmp_path, lang="fr")
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;document.title=" in html
    soup = BeautifulSoup(html, "lxml")
    quotes = " ".join(q.get_text() for q in soup.select("blockquote.excerpt"))
    assert "<script>document.title='PWNED'" in quotes


def test_french_and_english_labels_and_number_formats(finished, tmp_path):
    ws, _ = finished
    fr = BeautifulSoup(_html(ws, tmp_path, lang="fr"), "lxml")
    en = BeautifulSoup(_html(ws, tmp_path / "en", lang="en"), "lxml")
    assert fr.select_one("#trophies h2").get_text() == "Trophées"
    assert en.select_one("#trophies h2").get_text() == "Trophies"
    fr_kpi = fr.select_one(".kpi b").get_text()
    en_kpi = en.select_one(".kpi b").get_text()
    assert "\xa0%" in fr_kpi or "\u202f%" in fr_kpi  # French puts a (narrow) space before %
    assert re.fullmatch(r"\d+%", en_kpi)
    assert "," in fr.select_one(".kpi:nth-of-type(3) b").get_text()  # "67,5 h"
    assert "." in en.select_one(".kpi:nth-of-type(3) b").get_text()


def test_pseudonymise_replaces_customer_and_agent_data(finished, tmp_path, monkeypatch):
    ws, _ = finished
    plain = _html(ws, tmp_path, lang="en")
    _fork_as_a_large_report(monkeypatch)  # brand sheets rendered in their own process are masked too
    pseudo = _html(ws, tmp_path / "p", lang="en", pseudonymise=True)
    excerpts = " ".join(q.get_text() for q in BeautifulSoup(pseudo, "lxml").select("blockquote.excerpt"))
    raw = " ".join(q.get_text() for q in BeautifulSoup(plain, "lxml").select("blockquote.excerpt"))
    assert "Dupont" in raw or "Lefebvre" in raw or "Rousseau" in raw
    for secret in ("Dupont", "Lefebvre", "Rousseau", "@shopper.test", "CMD-", "01 23 45 67 89",
                   "Julie", "Karim", "Martin", "Benali"):
        assert secret not in excerpts, secret
    assert "[customer]" in excerpts and "[agent]" in excerpts and "[reference]" in excerpts


def test_pseudonymise_unit():
    text = ("Bonjour Claire Dupont, votre commande CMD-123456 (ref AB-99887766) est partie. "
            "Appelez le +33 1 23 45 67 89 ou écrivez à claire.dupont@ex.fr.\nCordialement,\nJulie Martin")
    names = signature_names("Cordialement,\nJulie Martin\nService client")
    assert names == ["Julie Martin"]
    out = pseudonymise(text, customer=["Claire Dupont", "Dupont", "Claire"], agents=names,
                       tokens=["CMD-123456"], labels=LABELS)
    assert out == ("Bonjour [customer], votre commande [ref] (ref [ref]) est partie. "
                   "Appelez le [phone] ou écrivez à [e-mail].\nCordialement,\n[agent]")


def test_user_template_overrides_a_partial(finished, tmp_path):
    ws, _ = finished
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "_glossary.html.j2").write_text('<section id="glossary"><p>CUSTOM {{ "<b>" }}</p></section>')
    html = _html(ws, tmp_path, lang="en", template_dir=tpl)
    assert "CUSTOM &lt;b&gt;" in html and "Trophies" in html
    with pytest.raises(NotFound):
        _html(ws, tmp_path, template_dir=tmp_path / "missing")


def test_bad_language_and_format_are_user_errors(finished, tmp_path):
    ws, _ = finished
    with pytest.raises(QualibenchError, match="language"):
        _html(ws, tmp_path, lang="de")
    with pytest.raises(QualibenchError, match="format"):
        write_report(ws, formats=("docx",), out=tmp_path)


def test_pdf_without_playwright_or_chromium_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(DependencyMissing) as exc:
        html_to_pdf("<p>x</p>", tmp_path / "x.pdf")
    assert "pip install 'qualibench[pdf]'" in exc.value.hint
    monkeypatch.delitem(sys.modules, "playwright.sync_api")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("QUALIBENCH_CHROMIUM", raising=False)
    with pytest.raises(DependencyMissing) as exc:
        html_to_pdf("<p>x</p>", tmp_path / "x.pdf")
    assert "chromium" in exc.value.hint and not (tmp_path / "x.pdf").exists()


def _need_chromium_and_poppler():
    from qualibench.channels.browserform import browser_available

    if not browser_available():
        pytest.skip("PDF output needs Playwright and Chromium (Debian package chromium)")
    if not shutil.which("pdftoppm") or not shutil.which("pdftotext"):
        pytest.skip("pdftoppm/pdftotext (poppler-utils) are not installed")


def _page_texts(pdf) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


@pytest.mark.slow
@pytest.mark.browser
def test_pdf_pages_are_not_blank_and_the_contents_gives_each_sections_page(finished, tmp_path):
    _need_chromium_and_poppler()
    from PIL import Image

    ws, _ = finished
    paths = write_report(ws, formats=("pdf",), lang="fr", out=tmp_path)
    pdf = paths[0]
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 10
    for page in pages:
        im = Image.open(page).convert("L")
        lo, hi = im.getextrema()
        dark = sum(im.histogram()[:200])
        assert hi - lo > 100 and dark > 50, f"{page.name} looks blank"
    texts = _page_texts(pdf)
    assert len(texts) == len(pages)
    assert "Trophées Synthétiques" in texts[0]  # cover
    # running header: the publication on the left, the section on the right; page numbers below
    assert re.search(r"Trophées Synthétiques · Édition 2026\s+Classements", "\n".join(texts))
    assert re.search(rf"\b2 / {len(pages)}\b", texts[1])
    toc = {m.group(1).strip(): int(m.group(2)) for m in re.finditer(r"^\s*\d+\.\s+(\S.*?)\s+(\d+)\s*$", texts[1], re.M)}
    assert {"Chiffres clés", "Palmarès", "Classements", "Fiches marques", "Méthodologie"} <= set(toc)
    for title, page in toc.items():
        first_lines = [ln.strip() for ln in texts[page - 1].splitlines() if ln.strip()][:3]
        assert title in first_lines, (title, page, first_lines)  # the section's heading opens that page
    assert sorted(toc.values()) == list(toc.values()) and len(set(toc.values())) == len(toc)


@pytest.mark.browser
@pytest.mark.integration
def test_chromium_renders_the_report_and_runs_no_script(hostile, tmp_path):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not shutil.which(chromium):
        pytest.skip("chromium is not installed (Debian package chromium)")
    ws, _ = hostile
    (path,) = write_report(ws, formats=("html",), lang="en", out=tmp_path / "out")
    profile = tmp_path / "profile"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--virtual-time-budget=3000", "--dump-dom", path.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    soup = BeautifulSoup(dom, "lxml")
    assert "PWNED" not in (soup.title.get_text() if soup.title else "")
    assert soup.select_one("#trophies") is not None and len(soup.select("article.brand")) == 12
    assert soup.find("img") is None  # the reply's <img onerror> stayed text
    assert any("<script>document.title='PWNED'" in q.get_text() for q in soup.select("blockquote.excerpt"))
    shot = tmp_path / "shot.png"
    subprocess.run([*cmd[:-2], f"--screenshot={shot}", "--window-size=1200,1600", path.as_uri()],
                   capture_output=True, timeout=120)
    if shot.exists():
        from PIL import Image

        lo, hi = Image.open(shot).convert("L").getextrema()
        assert hi - lo > 100


def test_report_command_writes_html_and_a_campaign_without_tests_is_a_user_error(finished, tmp_path, db_url):
    from qualibench.errors import StateError
    from tests.factories import make_campaign

    ws, _ = finished
    out = tmp_path / "cli-out"
    res = subprocess.run(["qualibench", "--campaign", str(ws.root), "--db", ws.db_url, "report", "--format", "html",
                          "--lang", "en", "--out", str(out), "--pseudonymise", "--timings"],
                         capture_output=True, text=True, timeout=300,
                         env=os.environ | {"PYTHONPROFILEIMPORTTIME": "1"})  # every process's imports, on stderr
    assert res.returncode == 0, res.stdout + res.stderr
    # numpy and pandas load once (numpy before the chart process is forked, which never needs
    # pandas) and pyarrow never: without --previous the report reads no Parquet file (pandas'
    # attempt to import it is listed, refused at once; none of its modules loads)
    imported = [ln.rsplit("|", 1)[1].strip() for ln in res.stderr.splitlines() if ln.startswith("import time:")]
    assert imported.count("numpy") == 1 and imported.count("pandas") == 1 and "matplotlib" in imported
    assert not [m for m in imported if m.startswith("pyarrow.")]
    # --timings: each step of the command, wall and CPU (what bench/report.py reads)
    assert re.search(r"timings: analytics [\d.]+ s \(CPU [\d.]+ s\), html [\d.]+ s \(CPU [\d.]+ s\)",
                     res.stdout + res.stderr)
    (html,) = out.glob("report-*-en.html")
    assert "Brand fact sheets" in html.read_text(encoding="utf-8")

    planned = make_campaign(tmp_path / "planned", db_url, brands=2)
    with pytest.raises(StateError, match="no test sent"):
        write_report(planned, formats=("html",), out=tmp_path / "x")


def test_per_brand_writes_one_pdf_per_brand_with_every_test_and_the_auditors_correction(finished, tmp_path):
    import os
    from datetime import UTC, datetime
    from pathlib import Path

    from sqlmodel import select

    from qualibench.models import Brand, Probe, Reply, Score

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    ws, cid = finished
    with ws.session() as s:
        brand = s.exec(select(Brand).where(Brand.campaign_id == cid).order_by(Brand.id)).first()
        probe_ids = [p.id for p in s.exec(select(Probe).where(Probe.brand_id == brand.id))]
        reply = s.exec(select(Reply).where(Reply.probe_id.in_(probe_ids), Reply.kind == "answer")
                       .order_by(Reply.id)).first()
        auto = s.exec(select(Score).where(Score.reply_id == reply.id)).first()
        s.add(Score(campaign_id=cid, reply_id=reply.id, rubric_name=auto.rubric_name,
                    rubric_version=auto.rubric_version, scorer="auditor:alice", total=12.0,
                    criteria={k: 0.0 for k in auto.criteria} | {"politeness": 12.0}, evidence={},
                    justification="the answer ignores the refund", created_at=datetime(2026, 3, 20, tzinfo=UTC)))
        names = {b.key: b.name for b in s.exec(select(Brand).where(Brand.campaign_id == cid))}
        n_tests = len(probe_ids)
    env = os.environ | {"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    res = subprocess.run(["qualibench", "--campaign", str(ws.root), "--db", ws.db_url, "report", "--per-brand",
                          "--lang", "en", "--workers", "2", "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, timeout=600, check=False)
    assert res.returncode == 0, res.stderr
    pdfs = sorted((tmp_path / "out" / "brands").glob("brand-*-en.pdf"))
    assert len(pdfs) == len(names) and "brand report(s)" in res.stdout
    assert not list((tmp_path / "out").glob("report-*"))  # --per-brand alone writes only the fiches
    text = subprocess.run(["pdftotext", str(tmp_path / "out" / "brands" / f"brand-{brand.key}-en.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert brand.name in flat and "Position in the barometer" in flat and "Sector average" in flat
    assert flat.count("Request sent") == n_tests  # every test, answered or not
    assert "Corrected by auditor alice" in flat and "the answer ignores the refund" in flat
    assert "Relevance" in flat and "Politeness" in flat


def test_french_report_titles_scenarios_in_french_by_the_stated_rule(finished, tmp_path):
    from sqlmodel import select

    from qualibench.models import Scenario
    from qualibench.report.formatting import Formatter

    ws, cid = finished
    en_html = _html(ws, tmp_path / "en0", lang="en")
    assert "Product question" in en_html  # the English scenario's own title
    with ws.session() as s:
        sc = s.exec(select(Scenario).where(Scenario.campaign_id == cid, Scenario.key == "question-product-en")).one()
        sc.spec = {**(sc.spec or {}), "titles": {"fr": "Question sur un produit"}}
        s.add(sc)
        s.commit()
    fr = _html(ws, tmp_path / "fr", lang="fr")
    assert "Question sur un produit" in fr and "Product question" not in fr
    assert "Titres des scénarios" in BeautifulSoup(fr, "lxml").select_one("#methodology").get_text()
    assert "Product question" in _html(ws, tmp_path / "en", lang="en")  # no English entry: its own title

    class Table:  # the two columns scenario_names reads, for a library scenario the catalogue knows
        def __init__(self, rows):
            self.rows = rows

        def __len__(self):
            return len(self.rows)

        def __getitem__(self, col):
            return [r[col] for r in self.rows]

    analysis = type("A", (), {"tests": Table([{"scenario": "delivery-tracking-en", "scenario_title": "Where is my parcel?"},
                                              {"scenario": "own-en", "scenario_title": "Own title"}]),
                              "scenario_titles": {}})()
    from qualibench.report import load_labels, template_env

    labels = load_labels("fr", template_env().globals["template_dirs"])
    assert Formatter("fr", labels).scenario_names(analysis) == {"delivery-tracking-en": "Où est mon colis ?",
                                                               "own-en": "Own title"}



def test_fiches_name_key_points_in_the_reports_language_by_the_stated_rule():
    import yaml

    from qualibench.report import load_labels, template_env
    from qualibench.report.formatting import Formatter
    from qualibench.resources import data_dir
    from qualibench.scorer.wording import why_in

    dirs = template_env().globals["template_dirs"]
    fr, en = (Formatter(lang, load_labels(lang, dirs)) for lang in ("fr", "en"))
    analysis = type("A", (), {"key_points": {
        "refund-return-en": [("refund-timing", "Gives the refund time frame", {})],  # the catalogue's
        "own-fr": [("x", "Donne l'adresse", {"en": "Gives the address"})],  # its file's labels:
        "own-en": [("y", "Own label", {})]}})()  # neither: its own label
    names = fr.key_point_names(analysis)
    assert names == {"refund-return-en": {"Gives the refund time frame": "Donne le délai de remboursement"},
                     "own-fr": {"Donne l'adresse": "Donne l'adresse"}, "own-en": {"Own label": "Own label"}}
    assert en.key_point_names(analysis)["own-fr"] == {"Donne l'adresse": "Gives the address"}
    why = "key point 'Gives the refund time frame': asserted; pattern 'working days'"
    assert why_in(why, "fr", names["refund-return-en"]) == \
        "point clé 'Donne le délai de remboursement' : affirmé ; motif 'working days'"
    assert why_in('key point "Donne l\'adresse": asserted', "en", {"Donne l'adresse": "Gives the address"}) == \
        "key point 'Gives the address': asserted"
    assert why_in(why, "en") == why and why_in(why, "en", {"other": "x"}) == why
    # every key point of the library's scenarios has its label in the other language
    for path in sorted((data_dir("scenarios")).glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        other = en if spec["language"] == "fr" else fr
        catalogue = other.L["key_point_labels"].get(spec["id"], {})
        assert {kp["id"] for kp in spec["key_points"]} <= set(catalogue), path.name
    assert "labels: fr" in fr.L["key_point_labels_rule"] and "labels: en" in en.L["key_point_labels_rule"]


def test_a_lead_rounds_to_zero_as_round_does_for_its_own_type():
    """Formatter.signed drops the sign of a lead that rounds to 0: for numpy floats it asks with
    arithmetic what numpy's round answers (ties to even), at the edges and on random values."""
    import random

    import numpy as np

    from qualibench.report.formatting import _rounds_to_zero

    values = []
    for digits in range(3):
        for edge in (0.5 / 10 ** digits, 0.05, 0.15, 0.25, 0.0, 5e-324):
            for sign in (1, -1):
                x = sign * edge
                for _ in range(8):  # the edge and its neighbours, one unit in the last place apart
                    values += [(x, digits), (float(np.nextafter(x, -sign * np.inf)), digits)]
                    x = float(np.nextafter(x, sign * np.inf))
    rng = random.Random(11)
    values += [(rng.uniform(-1, 1) * 10 ** rng.randint(-3, 1), rng.randint(0, 2)) for _ in range(5000)]
    for x, digits in values:
        assert _rounds_to_zero(np.float64(x), digits) == (round(np.float64(x), digits) == 0), (x, digits)
        assert _rounds_to_zero(x, digits) == (round(x, digits) == 0), (x, digits)
