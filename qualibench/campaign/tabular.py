"""Read the brands and personas tables (CSV in any common encoding, or XLSX) into rows.

Consultants keep these files in Excel: French exports use ';' and windows-1252, others add a
BOM, and sheets come with merged cells. Every problem is reported with its file and row.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import Problem
from .limits import TABLE_BYTES, XLSX_BYTES, csv_line_too_long, too_big, xlsx_bomb

# NUL (which PostgreSQL refuses), other C0 controls but tab and line breaks, DEL and C1: never
# typed on purpose in a cell, and an escape sequence in a brand name would reach every terminal.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass
class Table:
    """Rows of a table as {canonical column: text}, each with its 1-based line number."""

    path: Path
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]


def fold(text: str) -> str:
    """Return `text` lowercased, without accents, spaces and dashes turned into '_'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = "".join(c if c.isalnum() else "_" for c in text.strip().lower())
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")


def _decode(data: bytes, path: Path, problems: list[Problem]) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" in the ANSI code page; windows-1252 decodes any byte
        # except five, which latin-1 covers.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _read_csv(path: Path, problems: list[Problem]) -> list[tuple[int, list[str]]]:
    text = _decode(path.read_bytes(), path, problems)
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:  # a quote never closed makes one field of the rest of the file
        problems.append(Problem(str(path), f"cannot be read as CSV: {exc}",
                                "check the quotes on that line", location=f"line {reader.line_num}"))
        return []


def _read_xlsx(path: Path, problems: list[Problem]) -> list[tuple[int, list[str]]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a core dependency
        problems.append(Problem(str(path), "openpyxl is not installed", "pip install openpyxl"))
        return []
    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        problems.append(Problem(
            str(path), f"cannot be read as an Excel workbook ({type(exc).__name__})",
            "save it again from Excel as .xlsx, or export it as CSV",
        ))
        return []
    preferred = [n for n in wb.sheetnames if fold(n) in {"brands", "marques", "personas"}]
    ws = wb[preferred[0]] if preferred else wb.worksheets[0]
    for merged in ws.merged_cells.ranges:
        problems.append(Problem(
            str(path), f"merged cells {merged.coord} in sheet {ws.title!r}",
            "unmerge them (Home > Merge & Center > Unmerge) and fill each cell",
            location=f"row {merged.min_row}",
        ))
    rows: list[tuple[int, list[str]]] = []
    for idx, values in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = ["" if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v)) for v in values]
        rows.append((idx, cells))
    return rows


def _known_columns(cells: list[str], alias_to_canon: dict[str, str]) -> set[str]:
    return {alias_to_canon[fold(c)] for c in cells if fold(c) in alias_to_canon}


def _header_below_title(raw_rows: list[tuple[int, list[str]]], alias_to_canon: dict[str, str],
                        required: Iterable[str]) -> int:
    """Return the index of the real header when the first rows are a title above it, else 0."""
    required = set(required)
    if required <= _known_columns(raw_rows[0][1], alias_to_canon):
        return 0
    for i, (_, cells) in enumerate(raw_rows[1:6], start=1):
        if required <= _known_columns(cells, alias_to_canon):
            return i
    return 0


def _row_of(problem: Problem) -> int:
    digits = "".join(c for c in problem.location if c.isdigit())
    return int(digits) if digits else 0


def read_table(
    path: Path,
    known: dict[str, Iterable[str]],
    required: Iterable[str],
    problems: list[Problem],
    what: str,
) -> Table | None:
    """Read `path` and map its header to the canonical columns in `known` (name -> aliases).

    Missing required columns and unknown columns that look like misspellings are problems;
    returns None when the table cannot be used at all.
    """
    fname = str(path)
    if not path.exists():
        problems.append(Problem(fname, f"the {what} file does not exist",
                                "create it or set its path in campaign.toml"))
        return None
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        if too_big(path, XLSX_BYTES, what, problems) or xlsx_bomb(path, problems):
            return None
        raw_rows = _read_xlsx(path, problems)
    elif suffix in {".csv", ".txt", ".tsv"}:
        if too_big(path, TABLE_BYTES, what, problems) or csv_line_too_long(path, problems):
            return None
        raw_rows = _read_csv(path, problems)
    else:
        problems.append(Problem(fname, f"unsupported file type {suffix or '(none)'}",
                                "use a .csv or .xlsx file"))
        return None
    raw_rows = [(n, r) for n, r in raw_rows if any(c.strip() for c in r)]
    if not raw_rows:
        problems.append(Problem(fname, f"the {what} table is empty",
                                "put a header row and one row per entry in the first sheet"))
        return None
    alias_to_canon: dict[str, str] = {}
    for canon, aliases in known.items():
        alias_to_canon[fold(canon)] = canon
        for a in aliases:
            alias_to_canon[fold(a)] = canon
    found = _header_below_title(raw_rows, alias_to_canon, required)
    if found:
        # A title ("Marques 2026") above the header: one line saying so, not one per column,
        # and not the merged cells of the title either.
        title_line, header_line = raw_rows[0][0], raw_rows[found][0]
        problems[:] = [p for p in problems if not (p.file == fname and p.message.startswith("merged cells")
                                                    and _row_of(p) < header_line)]
        above = f"row {title_line}" if found == 1 else f"rows {title_line} to {raw_rows[found - 1][0]}"
        problems.append(Problem(fname, f"{above} above the header (found on row {header_line}) "
                                "is not part of the table", f"delete {above} so that the header is the first row",
                                location=f"row {title_line}"))
        return None
    header_line, header = raw_rows[0]
    mapping: dict[int, str] = {}
    for i, name in enumerate(header):
        key = fold(name)
        if not key:
            continue
        if key in alias_to_canon:
            canon = alias_to_canon[key]
            if canon in mapping.values():
                problems.append(Problem(fname, f"column {name!r} appears twice", "keep one of them",
                                        location=f"line {header_line}"))
            mapping[i] = canon
            continue
        close = difflib.get_close_matches(key, list(alias_to_canon), n=1, cutoff=0.75)
        if close:
            problems.append(Problem(
                fname, f"unknown column {name!r}", f"rename it to {alias_to_canon[close[0]]!r}",
                location=f"line {header_line}"))
        else:
            problems.append(Problem(
                fname, f"column {name!r} is not used and will be ignored",
                f"known columns: {', '.join(known)}", location=f"line {header_line}",
                severity="warning"))
    present = set(mapping.values())
    for col in required:
        if col not in present:
            problems.append(Problem(
                fname, f"required column {col!r} is missing",
                f"add a column {col!r} to the header row", location=f"line {header_line}"))
    rows: list[tuple[int, dict[str, str]]] = []
    for line, cells in raw_rows[1:]:
        row = {canon: (cells[i].strip() if i < len(cells) else "") for i, canon in mapping.items()}
        for canon, value in row.items():
            bad = _CONTROL.search(value)
            if bad:
                problems.append(Problem(
                    fname, f"contains the control character U+{ord(bad.group()):04X}",
                    "delete it: these cells reach the database, reports, exports and terminals",
                    location=f"row {line}", field=canon))
        rows.append((line, row))
    return Table(path=path, columns=sorted(present), rows=rows)
