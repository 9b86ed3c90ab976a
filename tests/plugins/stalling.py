"""A worker job for the parser-pool tests, in a module that imports nothing heavy (a worker
process imports it at start-up)."""

from __future__ import annotations

import time


def stall_on(payload: bytes) -> bytes:
    """"stall" never returns (a wait no processor-time budget sees), "slow" takes a moment,
    anything else comes back in capitals."""
    if payload == b"stall":
        time.sleep(3600)
    if payload == b"slow":
        time.sleep(0.5)
    return payload.upper()
