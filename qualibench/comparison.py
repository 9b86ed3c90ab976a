"""Comparison with a previous edition: deltas of the overall index per brand and per sector."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlmodel import Session, select

from .errors import NotFound, QualibenchError


def previous_brand_index(previous: str) -> pd.DataFrame:
    """Return brand_key, brand, sector, index of a previous edition (database URL or export file/folder)."""
    if "://" in previous:
        return _from_database(previous)
    path = Path(previous)
    if path.is_dir():
        for name in ("brands.csv", "brands.parquet", "qualibench.xlsx"):
            if (path / name).exists():
                path = path / name
                break
        else:
            raise NotFound(f"no brands table in the export folder {path}",
                           "pass the folder written by `qualibench export` or its brands file")
    if not path.exists():
        raise NotFound(f"previous edition {previous!r} not found",
                       "pass a database URL (sqlite:///..., postgresql://...) or an export file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df = pd.read_csv(path)
    elif suffix == ".xlsx":
        df = pd.read_excel(path, sheet_name="brands")
    elif suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        raise QualibenchError(f"cannot read the previous edition from {path.name}",
                              "use the brands.csv, brands.parquet or .xlsx written by `qualibench export`")
    missing = {"brand_key", "index"} - set(df.columns)
    if missing:
        raise QualibenchError(f"{path.name} has no column {', '.join(sorted(missing))}",
                              "use a brands table written by `qualibench export`")
    return df[[c for c in ("brand_key", "brand", "sector", "index") if c in df.columns]]


def _from_database(url: str) -> pd.DataFrame:
    from dataclasses import replace

    from .analytics import analyse, rules_from_config
    from .db import get_engine
    from .models import Campaign

    with Session(get_engine(url)) as s:
        camps = s.exec(select(Campaign).order_by(Campaign.id)).all()
        if not camps:
            raise NotFound("the previous edition's database holds no campaign",
                           "check the URL given to --previous")
        camp = camps[-1]
        rules = replace(rules_from_config(camp.config), bootstrap_samples=0)
        return analyse(s, camp.id, rules).brands[["brand_key", "brand", "sector", "index"]]


def compare_editions(analysis, previous: str) -> dict:
    """Return {"brands", "sectors": DataFrames of index now/before/delta, "source": previous}."""
    before = previous_brand_index(previous).rename(columns={"index": "index_previous"})
    now = analysis.brands[["brand_key", "brand", "sector", "index"]]
    brands = now.merge(before[["brand_key", "index_previous"]], on="brand_key", how="left")
    brands["delta"] = brands["index"] - brands["index_previous"]
    brands["rank"] = brands["index"].rank(ascending=False, method="min")
    sect_before = (before.groupby("sector")["index_previous"].mean() if "sector" in before
                   else pd.Series(dtype=float))
    sectors = now.groupby("sector")["index"].mean().reset_index()
    sectors["index_previous"] = sectors["sector"].map(sect_before)
    sectors["delta"] = sectors["index"] - sectors["index_previous"]
    return {"brands": brands.sort_values("delta", ascending=False, na_position="last"),
            "sectors": sectors, "source": previous}
