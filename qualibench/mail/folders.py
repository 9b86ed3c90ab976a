"""Which folders of a mailbox `collect` reads: one rule, for the full sync and the quick check.

Kept free of imapclient and the ORM so that `mail.unchanged` can apply it without their import.
"""

from __future__ import annotations

from collections.abc import Iterable

JUNK_NAMES = (
    "junk",
    "spam",
    "junk e-mail",
    "junk email",
    "bulk mail",
    "courrier indésirable",
    "courrier indesirable",
    "indésirables",
    "pourriel",
    "[gmail]/spam",
)


def choose_folders(listed: Iterable[tuple[Iterable[bytes], str]], configured: Iterable[str]) -> list[str]:
    """Return INBOX, the Junk/Spam folders (SPECIAL-USE \\Junk or by name) and the configured
    ones that exist, from LIST's (flags, name) pairs."""
    listed = [(tuple(flags), name) for flags, name in listed]
    names = {name for _flags, name in listed}
    chosen = ["INBOX"]
    for flags, name in listed:
        if b"\\Junk" in flags or name.lower() in JUNK_NAMES or name.lower().endswith("/spam"):
            chosen.append(name)
    for wanted in configured:
        if wanted in names or wanted.upper() == "INBOX":
            chosen.append("INBOX" if wanted.upper() == "INBOX" else wanted)
    return list(dict.fromkeys(chosen))
