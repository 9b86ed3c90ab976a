"""Locate the content that ships with the package: scenarios/, scoring/, reports/."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder of default content `name` (scenarios, scoring or reports).

    In a wheel it lives in qualibench/_data/; in a source checkout (editable install) it is
    the top-level folder beside the package.
    """
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"default content folder {name!r} is missing from the installation")
