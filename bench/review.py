"""Benchmark of the review workspace: the queue page and save-and-next with 100,000 replies.

    python bench/review.py [--replies 100000] [--db URL] [--rounds 40]

Target (issue #16): queue page and save-and-next under 100 ms of server time each. The requests
go through the whole ASGI application (sessions, CSRF, CSP middleware, templates, database) in
process, so the time is the server's, without a browser. Prints median and 95th percentile,
wall and CPU time, and the load average beside them (the machine is shared).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import select  # noqa: E402

from qualibench.campaign.init import init_campaign  # noqa: E402
from qualibench.models import InboundMessage, Probe, Reply, Score  # noqa: E402
from qualibench.planning import plan_campaign  # noqa: E402
from qualibench.review.app import create_app  # noqa: E402
from qualibench.review.coding import assign_replies  # noqa: E402
from qualibench.review.people import add_reviewer  # noqa: E402
from qualibench.scorer.campaign import resolve_rubric  # noqa: E402
from qualibench.workspace import Workspace  # noqa: E402

TEXT = ("Bonjour Madame,\n\nNous sommes désolés pour ce désagrément. Votre commande {n} sera échangée "
        "sous 48 heures ; une étiquette de retour vous a été envoyée.\n\nCordialement,\nJulie")


def fill(ws: Workspace, n: int) -> list[int]:
    """Insert n answers with an automatic score each, spread over the planned probes."""
    with ws.session() as s:
        campaign = ws.campaign(s)
        cid = campaign.id
        rub = resolve_rubric(ws, campaign, None)
        probes = [p.id for p in s.exec(select(Probe).where(Probe.campaign_id == cid))]
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    engine = ws.engine
    chunk = 5000
    with engine.begin() as conn:
        start = conn.execute(select(InboundMessage.id).order_by(InboundMessage.id.desc()).limit(1)).scalar() or 0
        for lo in range(0, n, chunk):
            ids = range(start + lo + 1, start + min(n, lo + chunk) + 1)
            conn.execute(InboundMessage.__table__.insert(), [
                {"id": i, "campaign_id": cid, "channel": "email", "source": "bench", "source_ref": "",
                 "sha256": hashlib.sha256(str(i).encode()).hexdigest(), "size": 300,
                 "collected_at": at, "received_at": at + timedelta(seconds=i), "date_disagreement": False,
                 "status": "matched", "from_address": "service@brand.test", "to_addresses": "",
                 "subject": "Re: commande", "message_id": "", "note": ""} for i in ids])
            conn.execute(Reply.__table__.insert(), [
                {"id": i, "campaign_id": cid, "inbound_id": i, "probe_id": probes[i % len(probes)],
                 "kind": "answer", "match_method": "reply_address", "match_confidence": 1.0,
                 "needs_review": False, "received_at": at + timedelta(seconds=i), "language": "fr",
                 "text": TEXT.format(n=i), "signature": "", "redirect_to": "", "ticket_ref": "",
                 "delay_review": ""} for i in ids])
            conn.execute(Score.__table__.insert(), [
                {"campaign_id": cid, "reply_id": i, "rubric_name": rub.name, "rubric_version": rub.version,
                 "scorer": "auto", "total": 62.0,
                 "criteria": {"relevance": 25.0, "reformulation": 8.0, "empathy": 15.0, "personalisation": 4.0,
                              "politeness": 10.0},
                 "evidence": {"empathy": [{"start": 18, "end": 46, "text": "Nous sommes désolés pour ce",
                                           "points": 10, "why": "empathy or apology"}]},
                 "justification": "", "created_at": at} for i in ids])
    return list(range(start + 1, start + n + 1))


def signed_in(app, ws: Workspace, name: str):  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    client = TestClient(app, base_url="http://127.0.0.1")
    _, token = add_reviewer(ws, name, "auditor")
    page = client.get(f"/login/{token}").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post(f"/login/{token}", data={"csrf": csrf}, follow_redirects=False)
    return client


def timed(fn, rounds: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    wall, cpu = [], []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def show(label: str, wall: list[float], cpu: list[float]) -> None:
    p95 = sorted(wall)[max(0, int(len(wall) * 0.95) - 1)]
    verdict = "OK" if statistics.median(wall) < 100 else "over"
    print(f"  {label:<34} median {statistics.median(wall):7.1f} ms  p95 {p95:7.1f} ms  "
          f"cpu median {statistics.median(cpu):6.1f} ms   target < 100 ms: {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replies", type=int, default=100_000)
    ap.add_argument("--db", default=None, help="database URL (default: a SQLite file in a temp folder)")
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="qb-bench-review-"))
    folder = tmp / "campaign"
    init_campaign(folder, brands=3, channels=("email",), start=date(2026, 11, 30), force=True)
    ws = Workspace.open(folder, args.db or f"sqlite:///{tmp / 'bench.sqlite'}")
    plan_campaign(ws)
    t = time.perf_counter()
    fill(ws, args.replies)
    print(f"{args.replies:,} replies with automatic scores written in {time.perf_counter() - t:.1f} s "
          f"({ws.engine.dialect.name})")
    t = time.perf_counter()
    report = assign_replies(ws, ["ana", "ben", "cy"], share=0.2)
    print(f"assigned {report.replies:,} replies ({report.double:,} double) in {time.perf_counter() - t:.1f} s")
    # What autovacuum / a routine ANALYZE gives a live database: planner statistics, visibility map.
    from sqlalchemy import text

    with ws.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if ws.engine.dialect.name == "postgresql" else "ANALYZE"))
    app = create_app(ws, blind=True, allowed_hosts=["127.0.0.1"])
    client = signed_in(app, ws, "ana")
    panel = client.get("/code/next")
    csrf = re.search(r'name="csrf" value="([^"]+)"', panel.text).group(1)
    form = {"csrf": csrf, "relevance": "30", "reformulation": "10", "empathy": "15", "personalisation": "5",
            "politeness": "8", "comment": "bench"}
    current = {"id": int(re.search(r'data-reply="(\d+)"', panel.text).group(1))}

    def queue_page() -> None:
        assert client.get("/queue").status_code == 200

    def save_and_next() -> None:
        r = client.post(f"/code/{current['id']}", data=form, headers={"HX-Request": "true"})
        assert r.status_code == 200, r.text[:300]
        current["id"] = int(re.search(r'data-reply="(\d+)"', r.text).group(1))

    def open_panel() -> None:
        assert client.get(f"/code/{current['id']}").status_code == 200

    for fn in (queue_page, save_and_next, open_panel):  # warm up caches and the connection pool
        fn()
    print(f"server time over {args.rounds} requests each (load average {os.getloadavg()[0]:.2f}, "
          f"{os.cpu_count()} cores):")
    show("GET /queue", *timed(queue_page, args.rounds))
    show("POST /code/ID (save and next)", *timed(save_and_next, args.rounds))
    show("GET /code/ID (coding panel)", *timed(open_panel, args.rounds))


if __name__ == "__main__":
    main()
