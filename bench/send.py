"""Benchmark of `send_due_probes`: SMTP (aiosmtpd) out, Sent copies on pymap and on Dovecot.

    python bench/send.py [--brands 100] [--scenarios 4] [--db postgresql://...]

Plans a campaign of brands x scenarios e-mail probes on a virtual clock (no throttle), sends
them all and prints, per IMAP server: wall time, probes per second, and the mean time per probe
split into SMTP+APPEND+database. The per-probe cost is dominated by the Sent-folder APPEND on
pymap's dict backend (~45 ms measured in DESIGN.md) and by the database commits on Dovecot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qualibench.campaign.init import init_campaign  # noqa: E402
from qualibench.clock import VirtualClock  # noqa: E402
from qualibench.db import dispose_engines  # noqa: E402
from qualibench.planning import plan_campaign  # noqa: E402
from qualibench.sending import send_due_probes  # noqa: E402
from qualibench.workspace import Workspace  # noqa: E402
from tests.plugins import mailservers  # noqa: E402


def run_once(kind: str, brands: int, scenarios: int, db: str | None) -> None:
    loop = mailservers._LoopThread()
    smtp, smtp_srv = mailservers._start_smtp(loop, auth=False, starttls=False,
                                             implicit_tls=False, tls=None)
    dovecot_proc = None
    tmp = Path(tempfile.mkdtemp(prefix="qb-bench-send-"))
    try:
        if kind == "pymap":
            imap, imap_srv = mailservers._start_pymap(loop, mailservers.IMAP_USER,
                                                      mailservers.IMAP_PASSWORD)
        else:
            from tests.plugins.dovecot import DOVECOT, start_dovecot

            if not os.path.exists(DOVECOT):
                print(f"{kind}: skipped (dovecot not installed)")
                return
            root = Path(tempfile.mkdtemp(prefix="qb-bench-dovecot-"))
            os.chmod(root, 0o755)
            dov, dovecot_proc = start_dovecot(root)
            imap = mailservers.PymapServer(dov.host, dov.port, mailservers.IMAP_USER,
                                           dov.password)
        os.environ[mailservers.PASSWORD_ENV] = imap.password
        folder = tmp / "campaign"
        start = datetime(2026, 11, 30, tzinfo=UTC).date()
        init_campaign(folder, brands=brands, channels=("email",), scenarios=scenarios,
                      start=start, mail=mailservers.mail_account(smtp, imap),
                      per_domain_seconds=0, force=True)
        toml = folder / "campaign.toml"
        toml.write_text(toml.read_text().replace("per_account_per_hour = 60",
                                                 "per_account_per_hour = 1000000"))
        url = db or f"sqlite:///{tmp / 'bench.sqlite'}"
        clock = VirtualClock(datetime(2026, 12, 7, 8, 30, tzinfo=UTC))
        ws = Workspace.open(folder, url, clock=clock)
        plan_campaign(ws)
        t0 = time.perf_counter()
        report = send_due_probes(ws)
        wall = time.perf_counter() - t0
        n = report.sent
        print(f"{kind:8s} {n:5d} probes sent in {wall:7.2f} s: {n / wall:7.1f} probes/s, "
              f"{1000 * wall / max(n, 1):6.1f} ms per probe; SMTP received "
              f"{len(smtp.messages)}; virtual time used "
              f"{(clock.now() - datetime(2026, 12, 7, 8, 30, tzinfo=UTC)) / timedelta(seconds=1):.0f} s")
    finally:
        dispose_engines()
        if dovecot_proc is not None:
            from tests.plugins.dovecot import stop_dovecot

            stop_dovecot(dovecot_proc)
        loop.stop(smtp_srv)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brands", type=int, default=100)
    parser.add_argument("--scenarios", type=int, default=4)
    parser.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    args = parser.parse_args()
    for kind in ("pymap", "dovecot"):
        run_once(kind, args.brands, args.scenarios, args.db)


if __name__ == "__main__":
    main()
