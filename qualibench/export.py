"""Data exports of a campaign: one row per test plus every aggregate table of the report.

CSV writes one file per table, XLSX one workbook with a sheet per table, Parquet one file per
table (pyarrow is an optional extra). The figures are the Analysis the report is drawn from,
so an export reproduces every number of the report.

Text written by brands never becomes a live formula (qualibench.spreadsheet): XLSX cells keep the
exact text as string cells, CSV cells that would be evaluated get a leading apostrophe
(`spreadsheet.restore` gives the original back). Parquet stores typed strings, which no
spreadsheet evaluates, so its text is exact.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import DependencyMissing, QualibenchError
from .spreadsheet import keep_sheet_text, neutralise, xlsx_text

FORMATS = ("csv", "xlsx", "parquet")


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` with timezone-aware datetimes as ISO strings in UTC (Excel has no time zones)."""
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif out[col].dtype == object and len(out) and out[col].map(lambda v: hasattr(v, "tzinfo")).any():
            out[col] = pd.to_datetime(out[col], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def trophies_table(trophies) -> pd.DataFrame:
    """Return one row per trophy winner (or per title not awarded) with its reasons."""
    rows = []
    for t in trophies:
        base = {"category": t.category, "scope": t.scope, "rule": t.rule, "awarded": t.awarded,
                "ex_aequo": t.ex_aequo, "runner_up": t.runner_up.brand if t.runner_up else None,
                "runner_up_index": round(t.runner_up.index, t.precision) if t.runner_up else None,
                "margin": t.margin, "margin_low": t.margin_low, "margin_high": t.margin_high,
                "nominees": len(t.nominees), "cautions": ",".join(t.cautions),
                "reason_code": t.reason_code, "reason": t.reason}
        if not t.winners:
            rows.append(base)
        for rank, w in enumerate(t.winners, start=1):
            rows.append(base | {"listed": rank, "brand_key": w.brand_key, "brand": w.brand,
                                "published_index": round(w.index, t.precision), "index": w.index,
                                "index_low": w.low, "index_high": w.high, "p_first": w.p_first,
                                "tests": w.tests, "answered": w.answered})
    return pd.DataFrame(rows)


def export_analysis(analysis, trophies, fmt: str, out: Path) -> list[Path]:
    """Return the files written for an already computed Analysis."""
    if fmt not in FORMATS:
        raise QualibenchError(f"unknown export format {fmt!r}", "use --format csv, xlsx or parquet")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise DependencyMissing("Parquet export needs pyarrow, which is not installed",
                                    "pip install 'qualibench[parquet]'") from None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = dict(analysis.tables())
    tables["trophies"] = trophies_table(trophies)
    tables = {name: _plain(df) for name, df in tables.items()}
    written: list[Path] = []
    if fmt == "csv":
        for name, df in tables.items():
            p = out / f"{name}.csv"
            # CRLF (RFC 4180) makes the writer quote any field holding a bare CR or LF
            df.map(neutralise).to_csv(p, index=False, lineterminator="\r\n")
            written.append(p)
    elif fmt == "xlsx":
        p = out / "qualibench.xlsx"
        with pd.ExcelWriter(p, engine="openpyxl") as xl:
            for name, df in tables.items():
                df.map(xlsx_text).to_excel(xl, sheet_name=name[:31], index=False)
                keep_sheet_text(xl.sheets[name[:31]])
        written.append(p)
    else:
        for name, df in tables.items():
            p = out / f"{name}.parquet"
            df.to_parquet(p, index=False)
            written.append(p)
    return written


def export_campaign(ws, fmt: str, out: Path, *, campaign_id: int | None = None) -> list[Path]:
    """Return the files written: the tests and aggregate tables of the workspace's campaign."""
    from .analytics import analyse
    from .awards import compute_trophies
    from .report import campaign_id_of, require_sent_tests

    if fmt not in FORMATS:
        raise QualibenchError(f"unknown export format {fmt!r}", "use --format csv, xlsx or parquet")
    with ws.session() as s:
        cid = campaign_id or campaign_id_of(ws, s)
        analysis = analyse(s, cid, as_of=ws.clock.now())
    require_sent_tests(analysis)
    return export_analysis(analysis, compute_trophies(analysis), fmt, out)
