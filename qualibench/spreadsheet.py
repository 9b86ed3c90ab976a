"""Text written where a spreadsheet can open it never becomes a live formula.

Brands write reply bodies, names and subjects; a cell starting with = + - @, a tab or a carriage
return is run as a formula by Excel and LibreOffice (=HYPERLINK, =WEBSERVICE, DDE). Every writer
(`export` CSV/XLSX, the auditors' sheet of `audit export`) follows these rules:
- XLSX cells holding such text are typed as strings (data type "s"): the exact text is kept and
  shown, never evaluated.
- CSV has no types, so such text gets a leading apostrophe (the convention spreadsheets honour);
  `restore` gives the original back exactly.
- XML, hence XLSX, cannot hold some control characters: `xlsx_text` spells them out as the
  terminal does, the same way in every XLSX qualibench writes.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(text: str) -> bool:
    """Return True when a spreadsheet would evaluate `text` typed into a cell."""
    return text.startswith(FORMULA_STARTS)


def neutralise(value: Any) -> Any:
    """Return `value` safe for a CSV cell: formula-like text (and text that would read back as such)
    gets one leading apostrophe; anything else, numbers included, is returned unchanged."""
    if not isinstance(value, str):
        return value
    if looks_like_formula(value.lstrip("'")):
        return "'" + value
    return value


def restore(value: Any) -> Any:
    """Return the original text of a cell written by `neutralise` (the inverse)."""
    if isinstance(value, str) and value.startswith("'") and looks_like_formula(value.lstrip("'")):
        return value[1:]
    return value


def keep_text(cell) -> None:  # type: ignore[no-untyped-def]
    """Make an openpyxl cell that openpyxl took for a formula a plain string cell (exact text)."""
    if cell.data_type == "f":
        cell.data_type = "s"


def keep_sheet_text(sheet) -> int:  # type: ignore[no-untyped-def]
    """Apply keep_text to every cell of an openpyxl sheet; return how many were formula-like."""
    n = 0
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                keep_text(cell)
                n += 1
    return n



# XML 1.0, hence XLSX, cannot hold these characters (openpyxl raises IllegalCharacterError and
# the whole export failed on one reply carrying an ESC); Excel shows at most 32,767 per cell.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
XLSX_CELL_CHARS = 32_767


def xlsx_text(value: Any) -> Any:
    """Return `value` as an XLSX cell can hold it: characters XML refuses spelt out (ESC ->
    `\\x1b`, as on the terminal) and text past Excel's cell limit cut with a note saying so.
    Other values are returned unchanged; CSV and Parquet keep the exact text."""
    if not isinstance(value, str):
        return value
    text = _NOT_IN_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                           else f"\\u{ord(m.group()):04x}", value)
    if len(text) > XLSX_CELL_CHARS:
        kept = XLSX_CELL_CHARS - 80  # room for the note
        text = text[:kept] + f" [cut: {len(text) - kept:,} more characters in the CSV export]"
    return text
