"""The kinds of reply, apart from the ORM models: the parser's worker processes classify
messages without importing SQLAlchemy (a second of start-up and 25 MB each)."""

from __future__ import annotations

import enum


class ReplyKind(enum.StrEnum):
    AUTO_ACK = "auto_ack"
    OUT_OF_OFFICE = "out_of_office"
    BOUNCE = "bounce"
    ANSWER = "answer"
    REDIRECT = "redirect"
