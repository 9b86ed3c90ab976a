"""Scenario files (YAML): the scripted test requests, with their key points and placeholders."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem
from ..resources import data_dir
from .limits import SAFE_LOADER, SCENARIO_YAML_BYTES, too_big, yaml_bomb
from .spec import KNOWN_CHANNELS, CampaignConfig, KeyPoint, ScenarioSpec
from .templating import BUILTIN_PLACEHOLDERS, longest_values, placeholders, render

SCENARIO_KINDS = ("complaint", "commercial_question", "technical_problem", "delivery", "refund",
                  "sympathy", "information", "cancellation", "billing")
X_LIMIT = 280


def content_hash(data: Any) -> str:
    """Return the SHA-256 of a YAML document's canonical JSON form (its version)."""
    canon = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


def parse_scenario(data: Any, fname: str, problems: list[Problem]) -> ScenarioSpec | None:
    """Return the scenario described by one YAML document, or None after adding problems."""
    if not isinstance(data, dict):
        problems.append(Problem(fname, "a scenario file must hold a mapping (id:, title:, ...)",
                                "start from a scenario of `qualibench init`"))
        return None
    n0 = len(problems)

    def bad(field: str, message: str, hint: str) -> None:
        problems.append(Problem(fname, message, hint, field=field))

    for req in ("id", "title", "kind", "language", "body"):
        if not data.get(req):
            bad(req, f"required field {req!r} is missing", f"add {req}: ...")
    kind = str(data.get("kind", ""))
    if kind and kind not in SCENARIO_KINDS:
        bad("kind", f"unknown kind {kind!r}", f"use one of {', '.join(SCENARIO_KINDS)}")
    lang = str(data.get("language", ""))
    if lang and lang not in ("fr", "en"):
        bad("language", f"language {lang!r} is not supported", "use fr or en")
    channels = data.get("channels", ["email", "webform"])
    if not isinstance(channels, list) or not channels:
        bad("channels", "channels must be a non-empty list", "e.g. channels: [email, webform, x]")
        channels = []
    for ch in channels:
        if ch not in KNOWN_CHANNELS:
            bad("channels", f"unknown channel {ch!r}", f"use one of {', '.join(KNOWN_CHANNELS)}")
    fills = data.get("fills", {}) or {}
    if not isinstance(fills, dict):
        bad("fills", "fills must be a mapping placeholder: pattern", 'e.g. order_number: "CMD-######"')
        fills = {}
    fills = {str(k): str(v) for k, v in fills.items()}
    known = set(BUILTIN_PLACEHOLDERS) | set(fills)
    for field in ("subject", "body", "short"):
        for ph in placeholders(str(data.get(field, "") or "")):
            if ph not in known:
                bad(field, f"placeholder {{{ph}}} has no value",
                    f"add it under fills: ({ph}: \"pattern\") or use one of {', '.join(BUILTIN_PLACEHOLDERS)}")
    short = str(data.get("short", "") or "")
    social = [c for c in channels if c not in ("email", "webform")]
    if social and not short:
        bad("short", f"the scenario is allowed on {', '.join(social)} but has no short variant",
            f"add short: (at most {X_LIMIT} characters)")
    if short:
        longest = render(short, longest_values(fills))
        if len(longest) > X_LIMIT:
            bad("short", f"the X variant can reach {len(longest)} characters (limit {X_LIMIT})",
                f"shorten it by {len(longest) - X_LIMIT} characters")
    kps = []
    for i, kp in enumerate(data.get("key_points", []) or [], start=1):
        # patterns (phrases), examples (sentences) or a description: the scorer reads any of them;
        # with none, it matches the label and says so in a note.
        if not isinstance(kp, dict) or not any(kp.get(k) for k in ("patterns", "examples", "description", "label")):
            bad("key_points", f"key point #{i} says nothing of what a good answer covers",
                "give each key point a label and patterns: [..], examples: [..] or a description")
            continue
        kps.append(KeyPoint(id=str(kp.get("id", f"kp{i}")), label=str(kp.get("label", kp.get("id", ""))),
                            patterns=tuple(str(p) for p in kp.get("patterns") or []),
                            weight=float(kp.get("weight", 1.0))))
    if not kps and data.get("kind") != "sympathy":
        bad("key_points", "the scenario has no key points, so answers cannot be scored for relevance",
            "add key_points: with what a good answer must cover")
    if len(problems) > n0:
        return None
    return ScenarioSpec(
        id=str(data["id"]), title=str(data["title"]), kind=kind, language=lang,
        channels=tuple(channels), subject=str(data.get("subject", data["title"])), body=str(data["body"]),
        short=short, key_points=tuple(kps), fills=fills, content_hash=content_hash(data),
        source=Path(fname), raw=data,
    )


def load_scenarios(root: Path, config: CampaignConfig, problems: list[Problem]) -> list[ScenarioSpec]:
    """Return the campaign's scenarios: its own folders, then the default library."""
    folders = [root / d for d in config.scenario_dirs]
    if config.use_default_scenarios:
        folders.append(data_dir("scenarios"))
    found: dict[str, ScenarioSpec] = {}
    broken: set[str] = set()  # ids of scenarios whose own problems are reported already
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.y*ml")):
            if too_big(path, SCENARIO_YAML_BYTES, "scenario", problems):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if yaml_bomb(text, path, problems):
                continue
            try:
                docs = list(yaml.load_all(text, Loader=SAFE_LOADER))
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                problems.append(Problem(str(path), f"YAML syntax error: {getattr(exc, 'problem', exc)}",
                                        "fix the indentation or quoting there",
                                        location=f"line {mark.line + 1}" if mark else ""))
                continue
            for doc in docs:
                if doc is None:
                    continue
                spec = parse_scenario(doc, str(path), problems)
                if spec is None:
                    if isinstance(doc, dict) and doc.get("id"):
                        broken.add(str(doc["id"]))
                    continue
                if spec.id in found:
                    if found[spec.id].source and found[spec.id].source.parent == path.parent:
                        problems.append(Problem(str(path), f"scenario id {spec.id!r} is defined twice",
                                                "give each scenario its own id", field="id"))
                    continue  # the campaign's own scenario overrides a default of the same id
                found[spec.id] = spec
    if config.scenario_ids:
        # A scenario that exists but has errors is not also "missing": one cause, one line.
        missing = [s for s in config.scenario_ids if s not in found and s not in broken]
        for s in missing:
            problems.append(Problem("campaign.toml", f"selected scenario {s!r} does not exist",
                                    f"known: {', '.join(sorted(found))}", location="[scenarios]", field="select"))
        return [found[s] for s in config.scenario_ids if s in found]
    if not found:
        problems.append(Problem("scenarios", "no scenario found", "add YAML files to scenarios/"))
    return sorted(found.values(), key=lambda s: s.id)
