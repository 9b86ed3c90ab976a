"""Exports: one row per test plus the aggregates, reproducing the numbers shown in the report."""

from __future__ import annotations

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from qualibench.errors import DependencyMissing, QualibenchError
from qualibench.export import export_campaign
from qualibench.report import write_report


def _num_en(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").replace("h", "").strip())


def _columns(table) -> dict[str, int]:
    return {th.get_text(strip=True): i for i, th in enumerate(table.select("thead th"))}


def test_csv_export_reproduces_the_report_numbers(finished, tmp_path):
    ws, cid = finished
    paths = export_campaign(ws, "csv", tmp_path / "csv")
    names = {p.stem for p in paths}
    assert {"tests", "brand_channel", "brands", "sectors", "scenarios", "channels", "criteria",
            "trophies"} <= names
    tests = pd.read_csv(tmp_path / "csv" / "tests.csv")
    assert len(tests) == tests["probe_id"].nunique()
    for col in ("brand", "sector", "channel", "scenario", "kind", "language", "wave", "state", "sent_at",
                "first_ack_at", "first_answer_at", "delay_h", "business_delay_h", "answered", "censored",
                "censor_h", "quality", "match_method", "match_confidence", "first_answer_reply_id"):
        assert col in tests.columns, col
    assert tests["sent_at"].dropna().str.endswith("Z").all()

    (html,) = write_report(ws, formats=("html",), lang="en", out=tmp_path / "rep")
    soup = BeautifulSoup(html.read_text(encoding="utf-8"), "lxml")
    brands = pd.read_csv(tmp_path / "csv" / "brands.csv").set_index("brand")
    overall = soup.select("#rankings table.ranking")[0]
    col = _columns(overall)
    rows = overall.select("tbody tr")
    assert len(rows) == len(brands)
    for tr in rows:
        cells = [td.get_text(strip=True) for td in tr.find_all("td")]
        b = brands.loc[cells[col["Brand"]]]
        assert _num_en(cells[col["Index"]]) == pytest.approx(round(b["index"], 1), abs=0.051)
        assert int(cells[col["Tests"]]) == b["tests"]
    channels = pd.read_csv(tmp_path / "csv" / "channels.csv")
    table = soup.select_one("#channel-figures")
    col = _columns(table)
    shown = table.select("tbody tr")[:-1]  # the last row is all channels
    for tr, (_, c) in zip(shown, channels.iterrows(), strict=True):
        cells = [td.get_text(strip=True) for td in tr.find_all("td")]
        assert int(cells[col["Tests"]]) == c["tests"]
        assert _num_en(cells[col["Answered within 24 h"]]) == pytest.approx(round(100 * c["within_24h"]), abs=0.51)
    trophies = pd.read_csv(tmp_path / "csv" / "trophies.csv")
    gp = trophies[(trophies["category"] == "grand_prix")]
    gp_html = [t for t in soup.select(".trophy") if t.h3.get_text() == "Grand prix"][0]
    for brand in gp["brand"]:
        assert brand in gp_html.select_one(".winner").get_text()


def test_xlsx_and_parquet_hold_the_same_tables(finished, tmp_path):
    ws, _ = finished
    (xlsx,) = export_campaign(ws, "xlsx", tmp_path / "x")
    book = pd.read_excel(xlsx, sheet_name=None)
    pq = {p.stem: pd.read_parquet(p) for p in export_campaign(ws, "parquet", tmp_path / "p")}
    assert set(book) == set(pq)
    assert book["brands"]["index"].to_numpy() == pytest.approx(pq["brands"]["index"].to_numpy())
    assert len(book["tests"]) == len(pq["tests"])


def test_parquet_without_pyarrow_names_the_extra(finished, tmp_path, monkeypatch):
    import sys

    from qualibench.analytics import analyse
    from qualibench.awards import compute_trophies
    from qualibench.export import export_analysis

    ws, cid = finished
    analysis = analyse(ws, cid)
    trophies = compute_trophies(analysis)
    # pandas itself uses pyarrow when present, so it is hidden only around the writer
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(DependencyMissing) as exc:
        export_analysis(analysis, trophies, "parquet", tmp_path)
    monkeypatch.delitem(sys.modules, "pyarrow")
    assert "qualibench[parquet]" in exc.value.hint
    with pytest.raises(QualibenchError, match="format"):
        export_campaign(ws, "json", tmp_path)


def test_awards_command_prints_trophies(finished):
    import json

    from qualibench.cli import app

    ws, _ = finished
    runner = CliRunner(env={"COLUMNS": "220"})
    res = runner.invoke(app, ["--campaign", str(ws.root), "--db", ws.db_url, "awards", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)["trophies"]
    assert {t["category"] for t in data} == {"channel", "social", "cross_channel", "sector", "grand_prix"}
    res = runner.invoke(app, ["--campaign", str(ws.root), "--db", ws.db_url, "awards"])
    assert res.exit_code == 0 and "grand prix" in res.stdout
    for cmd in ("report", "export", "awards"):
        assert runner.invoke(app, [cmd, "--help"]).exit_code == 0


def test_one_median_and_one_winner_in_terminal_json_html_pdf_and_exports(finished, tmp_path):
    """The median delay is the Kaplan-Meier median over every sent test, under that name everywhere;
    the median among answered tests is shown only under its own name; the grand prix is the same."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from qualibench.report.formatting import Formatter

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    ws, _ = finished
    env = os.environ | {"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
                        "COLUMNS": "250"}

    def cli(*args: str) -> str:
        res = subprocess.run(["qualibench", "--campaign", str(ws.root), "--db", ws.db_url, *args],
                             capture_output=True, text=True, env=env, timeout=300, check=False)
        assert res.returncode == 0, res.stderr
        return res.stdout

    data = json.loads(cli("awards", "--json"))
    km, answered = data["figures"]["median_h"], data["figures"]["answered_median_h"]
    assert km is not None and answered is not None and abs(km - answered) > 0.05  # two different figures
    gp = next(t for t in data["trophies"] if t["category"] == "grand_prix")
    winner, index = gp["winners"][0]["brand"], round(gp["winners"][0]["index"], 1)

    terminal = " ".join(cli("awards").split())
    assert f"median delay (Kaplan-Meier, all sent tests): {km:.1f} h" in terminal
    assert f"median among answered tests: {answered:.1f} h" in terminal
    assert winner in terminal and f"{index:.1f}" in terminal

    export_campaign(ws, "csv", tmp_path / "csv")
    overall = pd.read_csv(tmp_path / "csv" / "overall.csv").iloc[0]
    assert overall["median_h"] == pytest.approx(km, abs=1e-3)
    assert overall["answered_median_h"] == pytest.approx(answered, abs=1e-3)
    trophies = pd.read_csv(tmp_path / "csv" / "trophies.csv")
    row = trophies[(trophies["category"] == "grand_prix") & (trophies["listed"] == 1)].iloc[0]
    assert row["brand"] == winner and row["published_index"] == pytest.approx(index)

    html_path, pdf_path = write_report(ws, formats=("html", "pdf"), lang="en", out=tmp_path / "rep")
    labels = {"not_reached": "not reached", "day_short": "d"}
    f = Formatter("en", labels)
    km_text, answered_text = f.median(km), f.hours(answered)
    soup = BeautifulSoup(html_path.read_text(encoding="utf-8"), "lxml")
    table = soup.select_one("#channel-figures")
    col = _columns(table)
    total = [td.get_text(strip=True) for td in table.select("tr.total td")]
    assert total[col["Median delay (Kaplan-Meier)"]] == km_text
    assert total[col["Median among answered requests"]] == answered_text
    summary = soup.select_one("ul.findings").get_text(" ")
    assert f"Median delay (Kaplan-Meier, every request sent): {km_text}" in summary
    card = next(t for t in soup.select(".trophy") if t.h3.get_text() == "Grand prix")
    assert winner in card.select_one(".winner").get_text() and f"{index:.1f}" in card.get_text()

    text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True,
                          check=True).stdout.replace("\xa0", " ")
    flat = " ".join(text.split())
    assert f"Median delay (Kaplan-Meier, every request sent): {km_text.replace(chr(160), ' ')}" in flat
    assert "median among answered requests" in flat.lower()
    palmares = flat[flat.index("Roll of honour"):]
    assert f"Grand prix {winner}" in palmares
