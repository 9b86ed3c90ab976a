"""Benchmark parse_message: corpus throughput and the cost of large attachments (linear or not).

Prints figures; asserts nothing. Run: python bench/mail_parse.py
"""

from __future__ import annotations

import base64
import contextlib
import time
import tracemalloc
from pathlib import Path

from qualibench.mail.classify import classify
from qualibench.mail.parse import UnparseableMessage, parse_message

CORPUS = Path(__file__).parent.parent / "tests" / "fixtures" / "mail"


def message_with_attachment(megabytes: int) -> bytes:
    """Give back a reply carrying a base64 attachment of the given decoded size."""
    payload = base64.encodebytes(b"\x00\x01\x02\x03" * (megabytes * 1024 * 1024 // 4))
    return b"".join(
        [
            b"From: Brand Z <support@brand-z.example>\r\nTo: marie.durand.k3f9@alias.example\r\n",
            b"Subject: RE: Catalogue\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n",
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n',
            b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour, voici le catalogue.\r\n",
            b'--b1\r\nContent-Type: application/pdf; name="catalogue.pdf"\r\n',
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            payload.replace(b"\n", b"\r\n"),
            b"--b1--\r\n",
        ]
    )


def corpus_throughput(rounds: int = 50) -> None:
    raws = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    start = time.perf_counter()
    n = 0
    for _ in range(rounds):
        for raw in raws:
            with contextlib.suppress(UnparseableMessage):
                classify(parse_message(raw))
            n += 1
    elapsed = time.perf_counter() - start
    print(f"corpus: {n} messages parsed+classified in {elapsed:.2f} s = {n / elapsed:,.0f} msg/s")


def attachment_scaling() -> None:
    for mb in (5, 10, 25, 50):
        raw = message_with_attachment(mb)
        tracemalloc.start()
        start = time.perf_counter()
        msg = parse_message(raw)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert msg.attachments  # a sanity check of the benchmark itself, not a timing
        print(
            f"attachment {mb:>3} MB (raw {len(raw) / 1e6:5.1f} MB): {elapsed:6.2f} s, "
            f"{elapsed / mb * 1000:5.0f} ms/MB, peak traced memory {peak / 1e6:6.0f} MB"
        )


if __name__ == "__main__":
    corpus_throughput()
    attachment_scaling()
