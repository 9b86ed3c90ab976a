"""The real-world mail corpus (tests/fixtures/mail) and what each message must give."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

MAIL_FIXTURES = Path(__file__).parent.parent / "fixtures" / "mail"


def load_expected() -> dict[str, dict[str, Any]]:
    """Give back expected.yaml as {file name: expectations}."""
    return yaml.safe_load((MAIL_FIXTURES / "expected.yaml").read_text(encoding="utf-8"))


EXPECTED = load_expected()
PARSEABLE = sorted(name for name, exp in EXPECTED.items() if not exp.get("unparseable"))


def timing(expected: dict[str, Any]) -> dict[str, datetime | None]:
    """Give back the sent_at/received_at keyword arguments an expectation asks for."""
    return {
        key: datetime.fromisoformat(expected[key]) if expected.get(key) else None
        for key in ("sent_at", "received_at")
    }


@pytest.fixture
def mail_fixture_bytes():
    """Give back a function reading one corpus message's raw bytes by file name."""

    def read(name: str) -> bytes:
        return (MAIL_FIXTURES / name).read_bytes()

    return read
