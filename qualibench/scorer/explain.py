"""Why a reply got its points: the stored evidence, and scoring a reply file without a campaign."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlmodel import select

from ..errors import NotFound, QualibenchError
from ..models import Probe, Reply, Score
from ..workspace import Workspace
from .effective import AUTO, EffectiveScore, current_rubric_version, effective_scores
from .engine import ScoreResult, score_reply
from .rubric import load_rubric


@dataclass
class Explanation:
    """A reply, its automatic score (with evidence) and the score that counts."""

    reply_id: int
    kind: str
    text: str
    request: str
    rubric_version: str | None
    auto: Score | None
    effective: EffectiveScore | None
    history: list[Score]  # every score row of this reply under that version, oldest first


def explain_reply(ws: Workspace, reply_id: int, rubric_version: str | None = None) -> Explanation:
    """Return the reply `reply_id` with its automatic evidence and the score that counts."""
    with ws.session() as session:
        cid = ws.campaign(session).id
        assert cid is not None
        reply = session.get(Reply, reply_id)
        if reply is None or reply.campaign_id != cid:
            raise NotFound(f"reply {reply_id} is not in this campaign",
                           "list the reply ids with `qualibench audit export --out sheet.xlsx`")
        probe = session.get(Probe, reply.probe_id)
        version = rubric_version or current_rubric_version(session, cid)
        rows = session.exec(select(Score).where(Score.reply_id == reply_id, Score.rubric_version == version)
                            .order_by(Score.id)).all()  # type: ignore[arg-type]
        auto = next((s for s in reversed(rows) if s.scorer == AUTO), None)
        eff = effective_scores(session, cid, version).get(reply_id) if version else None
        for row in rows:
            session.expunge(row)
        return Explanation(reply_id, reply.kind, reply.text, probe.body if probe else "", version,
                           auto, eff, list(rows))


def load_scenario_file(path: Path | str) -> dict:
    """Return a scenario YAML as a dict (the shape of scenarios/*.yaml), checked for key points."""
    path = Path(path)
    if not path.is_file():
        raise QualibenchError(f"scenario file {path} does not exist",
                              "give the path of a scenario YAML, e.g. --scenario scenarios/refund-return-en.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise QualibenchError(f"scenario {path} cannot be read: {exc}", "give a scenario YAML file") from None
    if not isinstance(data, dict) or not data.get("key_points"):
        raise QualibenchError(f"{path} has no key_points",
                              "a scenario lists key_points: [{id, label, patterns or examples, weight}]")
    return data


def score_files(scenario: Path | str, reply: Path | str, rubric: Path | str | None = None, *,
                persona_name: str = "", fills: dict[str, str] | None = None,
                channel: str = "email") -> tuple[ScoreResult, str]:
    """Return the score of a reply file against a scenario file, and the rubric version used."""
    spec = load_scenario_file(scenario)
    reply = Path(reply)
    if not reply.is_file():
        raise QualibenchError(f"reply file {reply} does not exist",
                              "write the reply's text in a UTF-8 file and pass its path with --reply")
    try:
        text = reply.read_bytes().decode("utf-8")
    except OSError as exc:
        raise QualibenchError(f"reply file {reply} cannot be read: {exc.strerror}", "give a readable UTF-8 text file") from None
    except UnicodeDecodeError:
        raise QualibenchError(f"reply file {reply} is not UTF-8 text", "save the reply as UTF-8 text") from None
    rub = load_rubric(rubric)
    fills = dict(fills or {})
    template = str(spec.get("short") or spec.get("body", "")) if channel == "x" else str(spec.get("body", ""))
    request = re.sub(r"\{(\w+)\}", lambda m: fills.get(m.group(1), m.group(0)), template)
    if persona_name:
        first, _, last = persona_name.partition(" ")
        request = request.replace("{first_name}", first).replace("{last_name}", last)
        request = request.replace("{full_name}", persona_name)
    result = score_reply(text, spec, rub, request_text=request, persona_name=persona_name, fills=fills,
                         channel=channel)
    return result, rub.version
