"""The demo's output folder: a rerun removes what the demo wrote there, and nothing else.

The marker file lists every file the last demo run left (relative paths). A rerun refuses when
the folder holds anything else, so a report a user saved there, or a folder that merely looks
like a demo's, is never deleted. A run interrupted before it wrote its list leaves the marker
"running": its files can only be the demo's own entries (DEMO_ENTRIES), which a rerun removes.
"""

from __future__ import annotations

from pathlib import Path

from .errors import QualibenchError

MARKER = ".qualibench-demo"
_HEADER = "written by `qualibench demo`; a rerun removes the files listed below, and only them"
_RUNNING = "state: running"
_DONE = "state: done"
# What a demo run writes at the top of its folder (a run cut short has written no list yet).
DEMO_ENTRIES = ("campaign.toml", "brands.csv", "personas.csv", "scenarios", "evidence", "report",
                "qualibench.sqlite", *(TRANSIENT := ("qualibench.sqlite-wal", "qualibench.sqlite-shm",
                "qualibench.sqlite-journal", ".qualibench-send.lock", ".qualibench-collect.lock",
                ".qualibench-collect-state.json")))


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() or p.is_symlink())


def _listed(marker: Path) -> tuple[bool, set[str]]:
    lines = marker.read_text(encoding="utf-8", errors="replace").splitlines()
    done = _DONE in lines
    return done, {ln[2:] for ln in lines if ln.startswith("- ")}


def prepare_demo_folder(out: Path) -> None:
    """Make `out` ready for a demo run: create it, or clear what a previous demo wrote there.

    Raises QualibenchError, deleting nothing, when the folder holds a file the demo did not write.
    """
    marker = out / MARKER
    if out.exists() and not out.is_dir():
        raise QualibenchError(f"{out} is a file, not a folder", "choose a folder with --out")
    present = _files(out) if out.exists() else []
    if present:
        if not marker.is_file():
            raise QualibenchError(
                f"{out} is not empty and was not written by `qualibench demo`",
                "choose another folder with --out, or empty this one")
        done, listed = _listed(marker)
        ours = [f for f in present if f == MARKER or f in listed or f in TRANSIENT
                or (not done and Path(f).parts[0] in DEMO_ENTRIES)]
        foreign = [f for f in present if f not in ours]
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise QualibenchError(
                f"{out} holds files the demo did not write ({foreign[0]}{more}); nothing was deleted",
                "move them out of the folder, or choose another folder with --out")
        for f in ours:
            (out / f).unlink(missing_ok=True)
        for d in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if not any(d.iterdir()):
                d.rmdir()
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{_HEADER}\n{_RUNNING}\n", encoding="utf-8")


def record_demo_files(out: Path) -> None:
    """List in the marker every file the finished run left in `out` (what a rerun may remove)."""
    files = [f for f in _files(out) if f != MARKER and f not in TRANSIENT]
    body = "".join(f"- {f}\n" for f in files)
    (out / MARKER).write_text(f"{_HEADER}\n{_DONE}\n{body}", encoding="utf-8")
