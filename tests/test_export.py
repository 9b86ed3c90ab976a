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
    rows = overall.select("tbody tr")
    assert len(rows) == len(brands)
    for tr in rows:
        cells = [td.get_text(strip=True) for td in tr.find_all("td")]
        b = brands.loc[cells[1]]
        assert _num_en(cells[3]) == pytest.approx(round(b["index"], 1), abs=0.051)
        assert int(cells[5]) == b["tests"]
        assert _num_en(cells[6]) == pytest.approx(round(100 * b["answer_rate"]), abs=0.51)
    channels = pd.read_csv(tmp_path / "csv" / "channels.csv")
    shown = soup.select("#key table.data")[0].select("tbody tr")
    for tr, (_, c) in zip(shown, channels.iterrows(), strict=True):
        cells = [td.get_text(strip=True) for td in tr.find_all("td")]
        assert int(cells[1]) == c["tests"]
        assert _num_en(cells[5]) == pytest.approx(round(100 * c["within_24h"]), abs=0.51)
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
    data = json.loads(res.stdout)
    assert {t["category"] for t in data} == {"channel", "cross_channel", "sector", "grand_prix"}
    res = runner.invoke(app, ["--campaign", str(ws.root), "--db", ws.db_url, "awards"])
    assert res.exit_code == 0 and "grand prix" in res.stdout
    for cmd in ("report", "export", "awards"):
        assert runner.invoke(app, [cmd, "--help"]).exit_code == 0
