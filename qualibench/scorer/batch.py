"""Score many stored replies at once, in several processes when there are many of them.

Scoring is pure (same text, scenario and rubric give the same points), so splitting the work
over processes changes how long it takes, never the result.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from .engine import ScoreResult, score_reply
from .rubric import Rubric, load_rubric

# (reply id, text, language, signature, scenario id, persona id, fills, request body, channel)
ReplyRow = tuple[int, str, str, str, int, int, dict, str, str]
# (reply id, total, criteria, evidence, justification)
ScoredRow = tuple[int, float, dict, dict, str]

PARALLEL_MIN = 4_000  # below this many replies, starting processes costs more than it saves
_WORKER: dict[str, Any] = {}


def justification(result: ScoreResult, rub: Rubric) -> str:
    """Return the one-paragraph reason of an automatic score: points and causes per criterion."""
    parts = []
    for crit, pts in result.criteria.items():
        whys = sorted({s.why for s in result.evidence.get(crit, [])})
        reason = "; ".join(whys) if whys else "nothing found"
        parts.append(f"{crit} {pts:g}/{rub.weight(crit):g}: {reason}")
    text = ". ".join(parts)
    if result.notes:
        text += ". Notes: " + "; ".join(result.notes)
    return text


def score_rows(rows: list[ReplyRow], rub: Rubric, scenarios: dict[int, dict],
               personas: dict[int, str]) -> list[ScoredRow]:
    """Return the automatic score of each stored reply row."""
    out: list[ScoredRow] = []
    for rid, text, language, signature, scenario_id, persona_id, fills, body, channel in rows:
        scenario = scenarios.get(scenario_id) or {}
        result = score_reply(
            # The scenario's body (its `short` on X) and the probe's fills make the request
            # (cached per scenario); the probe's own text is only needed when there is none.
            text, scenario, rub, request_text="" if scenario.get("body") else body,
            persona_name=personas.get(persona_id, ""), fills=fills or {},
            language=language or None, signature=signature, channel=channel or "email",
        )
        out.append((rid, result.total, result.criteria, result.evidence_json(), justification(result, rub)))
    return out


def _init_worker(rubric_path: str, version: str, scenarios: dict, personas: dict) -> None:
    rub = load_rubric(rubric_path)
    if rub.version != version:  # the file changed since the run started
        raise RuntimeError(f"rubric {rubric_path} changed during scoring")
    _WORKER.update(rubric=rub, scenarios=scenarios, personas=personas)


def _score_in_worker(rows: list[ReplyRow]) -> list[ScoredRow]:
    return score_rows(rows, _WORKER["rubric"], _WORKER["scenarios"], _WORKER["personas"])


def default_workers(n_replies: int) -> int:
    """Return how many processes to use for `n_replies` (1 for small runs)."""
    if n_replies < PARALLEL_MIN:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


Pending = Callable[[], list[ScoredRow]]


@contextmanager
def batch_scorer(rub: Rubric, scenarios: dict[int, dict], personas: dict[int, str],
                 workers: int) -> Iterator[Callable[[list[ReplyRow]], Pending]]:
    """Yield `submit(rows)`, which starts scoring rows and returns a function giving the results.

    With `workers` > 1 the rows are scored in other processes while the caller reads the next
    rows and writes the previous results; with 1 they are scored at once in this process.
    """
    if workers <= 1:
        def now(rows: list[ReplyRow]) -> Pending:
            done = score_rows(rows, rub, scenarios, personas)
            return lambda: done

        yield now
        return
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(str(rub.source), rub.version, scenarios, personas)) as pool:
        def later(rows: list[ReplyRow]) -> Pending:
            size = max(1, -(-len(rows) // workers))
            futures = [pool.submit(_score_in_worker, rows[i:i + size]) for i in range(0, len(rows), size)]
            return lambda: [r for f in futures for r in f.result()]

        yield later
