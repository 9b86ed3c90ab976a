"""One root exception for every user-facing failure, each carrying a hint."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitStatus(enum.IntEnum):
    """Exit codes of the CLI, stable for scripts."""

    OK = 0
    ERROR = 1
    USAGE = 2
    INVALID_INPUT = 3
    NOT_FOUND = 4
    DEPENDENCY_MISSING = 5
    REMOTE_FAILURE = 6
    INTERRUPTED = 130


class QualibenchError(Exception):
    """A failure a user can fix: `message` says what went wrong, `hint` how to fix it."""

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file: where, which field, what is wrong, how to fix it."""

    file: str
    message: str
    hint: str = ""
    location: str = ""  # "row 4", "line 12", "[accounts.shopper]"
    field: str = ""
    severity: str = "error"  # or "warning"

    def line(self) -> str:
        """Return the one-line rendering used by `qualibench check`."""
        where = self.file
        if self.location:
            where += f", {self.location}"
        if self.field:
            where += f", {self.field}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" (fix: {self.hint})"
        return text


class InvalidInput(QualibenchError):
    """Campaign files with one or more problems; all are reported in one pass."""

    exit_status = ExitStatus.INVALID_INPUT

    def __init__(self, problems: list[Problem], message: str | None = None) -> None:
        self.problems = [p for p in problems if p.severity == "error"]
        self.warnings = [p for p in problems if p.severity != "error"]
        n = len(self.problems)
        msg = message or f"{n} problem{'s' if n != 1 else ''} in the campaign files"
        super().__init__(msg, "correct the lines above and run `qualibench check` again")


class NotFound(QualibenchError):
    exit_status = ExitStatus.NOT_FOUND


class DependencyMissing(QualibenchError):
    """An optional extra is not installed; the hint names the pip command."""

    exit_status = ExitStatus.DEPENDENCY_MISSING


class RemoteFailure(QualibenchError):
    """A server (SMTP, IMAP, HTTP API) refused or failed in a way the user must look at."""

    exit_status = ExitStatus.REMOTE_FAILURE


class StateError(QualibenchError):
    """An operation that the current state of a probe or campaign does not allow."""
