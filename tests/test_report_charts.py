"""Charts: real SVG text measured in headless Chromium, in French and English.

Every <text> of every chart must sit inside its chart and overlap no other text of the chart
(tick labels, axis labels, legend entries, value labels). The boxes are measured by the browser
(getBBox/getBoundingClientRect), at two page widths, so a legend that the renderer widens
past the figure or ticks that collide are caught whatever matplotlib believed.
"""

from __future__ import annotations

import os
import shutil

import pytest

from qualibench.report import write_report
from qualibench.report.chart_worker import ChartWorker

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
MEASURE = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll('text')].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, x0: r.left, y0: r.top, x1: r.right, y1: r.bottom};
  }).filter(t => t.text.trim() && t.x1 > t.x0);
  return {chart: svg.dataset.chart, box: {x0: box.left, y0: box.top, x1: box.right, y1: box.bottom}, texts};
})"""
TOL = 0.5  # px: anti-aliasing, not a collision


def _overlap(a: dict, b: dict) -> bool:
    return (min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]) > TOL
            and min(a["y1"], b["y1"]) - max(a["y0"], b["y0"]) > TOL)


def _problems(chart: dict) -> list[str]:
    out, box, texts = [], chart["box"], chart["texts"]
    for t in texts:
        if t["x0"] < box["x0"] - TOL or t["x1"] > box["x1"] + TOL or t["y0"] < box["y0"] - TOL \
                or t["y1"] > box["y1"] + TOL:
            out.append(f"{chart['chart']}: {t['text']!r} is clipped by the chart's edge")
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            if _overlap(a, b):
                out.append(f"{chart['chart']}: {a['text']!r} overlaps {b['text']!r}")
    return out


def _measure(path):
    """Return (chart names, problems) of the report at `path`, measured at two page widths."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not shutil.which(chromium):
        pytest.skip("chromium is not installed (Debian package chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            problems, charts = [], []
            for width in (1200, 700):
                page = browser.new_page(viewport={"width": width, "height": 1000})
                page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
                           else route.continue_())
                page.goto(path.as_uri())
                charts = page.evaluate(MEASURE)
                for chart in charts:
                    problems += [f"{width}px {p_}" for p_ in _problems(chart)]
                page.close()
        finally:
            browser.close()
    assert all(len(c["texts"]) >= 6 for c in charts)  # ticks, axis labels and legends are real text
    return {c["chart"] for c in charts}, problems


@pytest.mark.browser
@pytest.mark.integration
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_chart_text_never_overlaps_nor_clips(finished, tmp_path, lang, monkeypatch):
    ws, _ = finished
    if lang == "en":  # drawn by the chart process of a large report (in line when forking is unsafe here)
        monkeypatch.setattr(ChartWorker, "FORK_FROM_TESTS", 0)
    (path,) = write_report(ws, formats=("html",), lang=lang, out=tmp_path / "out")
    names, problems = _measure(path)
    assert {"km", "km-business", "buckets", "criteria", "sectors"} <= names
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def demo_reports(tmp_path_factory):
    """The demo campaign of the issue (30 brands, seed 7) and its real report in French and English."""
    if os.environ.get("QUALIBENCH_TEST_PG"):
        pytest.skip("the demo keeps its own SQLite file: its charts do not depend on the test database")
    from qualibench.demo import run_demo
    from qualibench.workspace import Workspace

    out = tmp_path_factory.mktemp("demo") / "demo"
    result = run_demo(out, brands=30, seed=7, lang="fr", formats=("html",))
    ws = Workspace.open(result.folder, f"sqlite:///{result.folder / 'qualibench.sqlite'}")
    (en,) = write_report(ws, formats=("html",), lang="en", out=result.folder / "report-en")
    return {"fr": result.html, "en": en}


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.integration
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_demo_reports_charts_never_overlap_nor_clip(demo_reports, lang):
    names, problems = _measure(demo_reports[lang])
    assert {"km", "km-business", "buckets", "criteria", "sectors"} <= names
    assert not problems, "\n".join(problems)


def test_overlap_check_catches_a_collision_and_a_clip():
    box = {"x0": 0, "y0": 0, "x1": 100, "y1": 50}
    chart = {"chart": "t", "box": box, "texts": [
        {"text": "a", "x0": 10, "y0": 10, "x1": 30, "y1": 20},
        {"text": "b", "x0": 25, "y0": 12, "x1": 40, "y1": 22},
        {"text": "c", "x0": 90, "y0": 30, "x1": 110, "y1": 40}]}
    found = _problems(chart)
    assert any("'a' overlaps 'b'" in p for p in found) and any("'c' is clipped" in p for p in found)


@pytest.mark.slow
def test_the_demo_scorers_notes_all_read_in_french(demo_reports):
    """The fiche's evidence notes: every note the scorer wrote on the demo has its French wording."""
    from sqlmodel import select

    from qualibench.models import Score
    from qualibench.scorer.wording import why_in
    from qualibench.workspace import Workspace

    folder = demo_reports["fr"].parent.parent
    ws = Workspace.open(folder, f"sqlite:///{folder / 'qualibench.sqlite'}")
    with ws.session() as s:
        notes = [e.get("why", "") for sc in s.exec(select(Score)) for spans in (sc.evidence or {}).values()
                 for e in spans]
    assert len(notes) > 100
    untranslated = sorted({n for n in notes if n and why_in(n, "fr") == n})
    assert not untranslated, untranslated
