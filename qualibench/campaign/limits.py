"""Size and shape limits of campaign files, checked before a parser can be made to explode.

A campaign folder is written by people and tools that make mistakes (a 1 GB export, a sheet
saved with a million blank rows) and may come from someone else (a zip bomb renamed .xlsx,
YAML whose aliases expand to billions of nodes, TOML nested past Python's recursion limit).
Each limit is far above what a real campaign needs and is named in the problem it raises,
so the user knows what to change. Every check reads a bounded amount of the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import yaml

from ..errors import Problem

MB = 1024 * 1024

# libyaml's parser when PyYAML was built with it (the wheels are): the same safe constructor
# and resolver, so the same values, about ten times faster than the pure-Python parser.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CAMPAIGN_TOML_BYTES = 1 * MB
TOML_DEPTH = 32  # nested arrays / inline tables
SCENARIO_YAML_BYTES = 1 * MB
YAML_VALUES = 100_000  # values once aliases are expanded (a scenario has a few hundred)
YAML_DEPTH = 32
TABLE_BYTES = 50 * MB  # brands or personas CSV
TABLE_LINE_CHARS = 100_000  # one CSV line (a brand is a few hundred characters)
XLSX_BYTES = 50 * MB
XLSX_UNZIPPED_BYTES = 100 * MB  # everything inside the workbook once decompressed


def _mb(n: int) -> str:
    return f"{n / MB:.0f} MB" if n >= MB else f"{n} bytes"


def too_big(path: Path, limit: int, what: str, problems: list[Problem]) -> bool:
    """Return True (and add a problem) when the file at `path` is over `limit` bytes."""
    size = path.stat().st_size
    if size <= limit:
        return False
    problems.append(Problem(str(path), f"the {what} file is {_mb(size)}, over the {_mb(limit)} limit",
                            f"this cannot be a real {what} file: check it was saved from the right "
                            "place, or split it"))
    return True


def toml_too_deep(text: str, path: Path, problems: list[Problem]) -> bool:
    """Return True (and add a problem) when arrays/inline tables nest deeper than TOML_DEPTH.

    tomllib recurses once per level and fails with RecursionError near 1,000; counting
    brackets outside strings and comments first gives the user a limit instead.
    """
    depth = deepest = 0
    quote = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == "\\" and quote in ('"', '"""'):
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            continue
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > TOML_DEPTH:
                break
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    if deepest <= TOML_DEPTH:
        return False
    line = text.count("\n", 0, i) + 1
    problems.append(Problem(str(path), f"arrays or tables nested more than {TOML_DEPTH} levels deep",
                            "a campaign file needs two or three levels: remove the nesting",
                            location=f"line {line}"))
    return True


def yaml_bomb(text: str, path: Path, problems: list[Problem]) -> bool:
    """Return True (and add a problem) when the YAML, with its aliases expanded, holds more than
    YAML_VALUES values, or nests deeper than YAML_DEPTH.

    Read as a stream of events, so nothing is expanded: each anchored collection's expanded
    size is counted once and an alias adds that size ("billion laughs" is 9 anchors of 9 aliases).
    """
    sizes: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = [(None, 0)]  # (anchor, values so far) per open collection

    def refuse(message: str, hint: str, event: yaml.Event) -> bool:
        line = event.start_mark.line + 1 if event.start_mark else 0
        problems.append(Problem(str(path), message, hint, location=f"line {line}"))
        return True

    try:
        for event in yaml.parse(text, Loader=SAFE_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append((event.anchor, 0))
                if len(stack) - 1 > YAML_DEPTH:
                    return refuse(f"lists or mappings nested more than {YAML_DEPTH} levels deep",
                                  "a scenario needs two or three levels: remove the nesting", event)
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, n = stack.pop()
                n += 1
                if anchor:
                    sizes[anchor] = n
            elif isinstance(event, yaml.AliasEvent):
                n = sizes.get(event.anchor, 1)
            elif isinstance(event, yaml.ScalarEvent):
                n = 1
                if event.anchor:
                    sizes[event.anchor] = 1
            else:
                continue
            anchor, total = stack[-1]
            stack[-1] = (anchor, total + n)
            if total + n > YAML_VALUES:
                return refuse(f"its aliases (*name) expand to more than {YAML_VALUES:,} values",
                              "write the values out: a scenario needs no aliases", event)
    except yaml.YAMLError:
        return False  # the loader reports the syntax error with its line
    return False


def csv_line_too_long(path: Path, problems: list[Problem]) -> bool:
    """Return True (and add a problem) when a line of the CSV at `path` exceeds TABLE_LINE_CHARS
    bytes (four per character at most, so counted in bytes to read it in bounded chunks)."""
    limit = TABLE_LINE_CHARS * 4
    line, run = 1, 0
    with path.open("rb") as f:
        while chunk := f.read(MB):
            parts = chunk.split(b"\n")
            for k, part in enumerate(parts):
                run += len(part)
                if run > limit:
                    problems.append(Problem(
                        str(path), f"line {line} is longer than {TABLE_LINE_CHARS:,} characters",
                        "one row per brand: check the file's line endings and quotes",
                        location=f"line {line}"))
                    return True
                if k < len(parts) - 1:
                    line, run = line + 1, 0
    return False


def xlsx_bomb(path: Path, problems: list[Problem]) -> bool:
    """Return True (and add a problem) when the workbook decompresses to more than
    XLSX_UNZIPPED_BYTES (the sizes in its zip directory bound what zipfile will inflate)."""
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError):
        return False  # not a zip: the reader says the file cannot be read as a workbook
    if total <= XLSX_UNZIPPED_BYTES:
        return False
    problems.append(Problem(str(path), f"the workbook decompresses to {_mb(total)}, over the "
                            f"{_mb(XLSX_UNZIPPED_BYTES)} limit",
                            "save the sheet again from Excel (no blank rows below the table), or "
                            "export it as CSV"))
    return True
