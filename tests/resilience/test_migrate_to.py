"""`qualibench db migrate-to URL`: a campaign run alone on SQLite moves to the team's PostgreSQL
with its rows, event log and raw evidence, verifies there, and tampering there is still named."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from qualibench.db import get_engine
from qualibench.models import Event, EvidenceBlob, InboundMessage, Reply, Score
from tests.plugins.demo_world import make_answered_campaign
from tests.resilience.team import Machine, team_env


def _counts(url: str) -> dict[str, int]:
    with Session(get_engine(url)) as s:
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one()
                for m in (InboundMessage, Reply, Score, Event)}


@pytest.mark.slow
@pytest.mark.postgres
def test_a_sqlite_campaign_moves_to_postgresql_and_verifies_there(tmp_path, empty_db_url, on_postgres):
    db_url = empty_db_url  # a team's new PostgreSQL database: the move itself creates the schema
    if not on_postgres:
        pytest.skip("the move's target is the team's PostgreSQL (set QUALIBENCH_TEST_PG)")
    from qualibench.collecting import collect
    from qualibench.scorer.campaign import score_campaign

    alone = f"sqlite:///{tmp_path / 'alone.sqlite'}"
    with make_answered_campaign(tmp_path, alone, brands=5, seed=9) as c:
        collect(c.ws)
        score_campaign(c.ws)
        before = _counts(alone)
        assert before["Reply"] > 0 and before["Score"] > 0
        env = team_env(c.env())
        here = Machine(c.folder, alone, env)
        done = here.run("db", "migrate-to", db_url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "OK" in done.stdout and "verify found the campaign intact" in done.stdout
        after = _counts(db_url)
        assert {k: after[k] for k in ("InboundMessage", "Reply", "Score")} == \
               {k: before[k] for k in ("InboundMessage", "Reply", "Score")}
        assert after["Event"] == before["Event"] + 1  # the move itself is logged
        with Session(get_engine(db_url)) as s:
            assert s.exec(select(func.count()).select_from(EvidenceBlob)).one() >= before["InboundMessage"]
        # A second machine with only the campaign files works on the moved campaign.
        there = Machine(c.folder, db_url, env)
        done = there.run("verify")
        assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr
        again = here.run("db", "migrate-to", db_url)
        assert again.returncode != 0 and "already holds campaign" in again.stdout + again.stderr
        with get_engine(db_url).begin() as conn:
            conn.execute(text("UPDATE score SET total = 12 WHERE id = (SELECT min(id) FROM score)"))
        done = there.run("verify")
        assert done.returncode != 0 and "(auto, total 12) was edited" in done.stdout, done.stdout
