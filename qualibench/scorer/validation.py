"""Validity of the automatic scorer and classifier against hand scores (scoring/validation/).

The labelled corpus has development parts, on which rules are tuned (dev.yaml; test.yaml,
test2.yaml, test3.yaml, test4.yaml and test5.yaml, each held out until it had been seen, then
retired to development) and a held-out part (test6.yaml), written and committed before the rule changes it
measures and never used for tuning.
`figures(part)` gives, over the replies a rater scored, the Spearman of the automatic total
against the hand total, per-criterion Spearman, the mean absolute error per channel, the same
for three baselines, the classifier's acknowledgement recall and false acknowledgements (on
every reply), and the spread of automatic totals within each paraphrase group.
bench/validity.py prints them; tests/test_scoring_validation.py checks the dev part only.
"""

from __future__ import annotations

import inspect
import math
import re
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from ..mail.classify import classify_text
from ..resources import data_dir
from .engine import score_reply
from .rubric import CRITERIA, load_rubric

AUTOMATIC = frozenset({"auto_ack", "out_of_office", "not_monitored", "bounce"})
SCORED = frozenset({"answer", "redirect"})
CHANNELS = ("email", "webform", "x")
TARGETS = {"spearman": 0.93, "margin": 0.08, "criterion": 0.80, "mae": 8.0, "spread": 8.0}
_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)


def load_part(name: str) -> dict | None:
    """Return the part file (dev, test) as data, or None when it is not there (yet)."""
    path = data_dir("scoring") / "validation" / f"{name}.yaml"
    if not path.is_file():
        return None
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_scenarios(folder: Path | None = None) -> dict[str, dict]:
    """Return the scenarios (file name without .yaml -> data) the labelled replies answer."""
    folder = folder or data_dir("scenarios")
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in folder.glob("*.yaml")}


# ------------------------------------------------------------------ statistics
def ranks(values: list[float]) -> list[float]:
    """Return 1-based ranks, ties given their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rho (Pearson of the ranks); NaN when either side is constant."""
    if len(x) < 3:
        return math.nan
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = math.sqrt(sum((a - mx) ** 2 for a in rx))
    vy = math.sqrt(sum((b - my) ** 2 for b in ry))
    return math.nan if vx == 0 or vy == 0 else cov / (vx * vy)


def quantile_map(values: list[float], targets: list[float]):  # type: ignore[no-untyped-def]
    """Return a non-decreasing map value -> 0-100 sending the values' quantiles onto the targets'."""
    xs, ys = sorted(values), sorted(targets)
    grouped: dict[float, list[float]] = defaultdict(list)
    for x, y in zip(xs, ys, strict=True):
        grouped[x].append(y)
    knots = sorted((x, sum(v) / len(v)) for x, v in grouped.items())

    def apply(v: float) -> float:
        if v <= knots[0][0]:
            return knots[0][1]
        if v >= knots[-1][0]:
            return knots[-1][1]
        for (x0, y0), (x1, y1) in zip(knots, knots[1:], strict=False):
            if x0 <= v <= x1:
                return y0 + (y1 - y0) * (v - x0) / (x1 - x0)
        return knots[-1][1]

    return apply


# ------------------------------------------------------------------ baselines
def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return 0.0 if na == 0 or nb == 0 else dot / (na * nb)


def idf_from(docs: list[str]) -> dict[str, float]:
    """Smoothed inverse document frequency over `docs` (the dev part's requests and replies)."""
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(words(d)))
    n = len(docs)
    return {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}


def baselines(item: dict, idf: dict[str, float]) -> dict[str, float]:
    reply, request = words(item["reply"]), words(item["request"])
    bag_r, bag_q = Counter(reply), Counter(request)
    default = max(idf.values()) if idf else 1.0
    tf_r = {w: c * idf.get(w, default) for w, c in bag_r.items()}
    tf_q = {w: c * idf.get(w, default) for w, c in bag_q.items()}
    return {"length": float(len(reply)), "bow_cosine": cosine(bag_r, bag_q), "tfidf_cosine": cosine(tf_r, tf_q)}


# ------------------------------------------------------------------ running the scorer
def _persona(part: dict) -> str:
    p = part.get("persona") or {}
    return f"{p.get('first_name', '')} {p.get('last_name', '')}".strip()


def _item_persona(item: dict, default: str) -> str:
    """The item's own persona when it overrides the part's (the format's optional `persona`)."""
    return _persona(item) if isinstance(item.get("persona"), dict) else default


def score_part(part: dict, scenarios: dict[str, dict]) -> list[dict]:
    """Return one row per item: the hand score, the automatic score and the classifier's kind."""
    rubric = load_rubric()
    accepts = inspect.signature(score_reply).parameters
    persona = _persona(part)
    rows = []
    for item in part["items"]:
        # with its request, as the collector classifies a reply once it is matched to its probe
        cls = classify_text(item["reply"], request=item["request"])
        alone = classify_text(item["reply"])  # (what a reply not matched to its request gets)
        row = {"id": item["id"], "channel": item["channel"], "kind": item["kind"],
               "predicted": cls.notice or cls.kind.value, "alone": alone.notice or alone.kind.value, "reason": cls.reason, "group": item.get("paraphrase_group"),
               "hand": item.get("hand"), "item": item}
        if item.get("hand") is not None:
            kwargs = {"request_text": item["request"], "persona_name": _item_persona(item, persona),
                      "fills": {k: str(v) for k, v in (item.get("fills") or {}).items()}}
            if "channel" in accepts:
                kwargs["channel"] = item["channel"]
            result = score_reply(item["reply"], scenarios[item["scenario"]], rubric, **kwargs)
            row["auto"] = result
        rows.append(row)
    return rows


def figures(rows: list[dict], idf: dict[str, float], maps: dict | None) -> dict:
    """Return the part's figures (maps: the dev-fitted quantile maps of the baselines, or None to fit)."""
    scored = [r for r in rows if r["hand"] is not None]
    human = [sum(r["hand"].values()) for r in scored]
    auto = [r["auto"].total for r in scored]
    base = {name: [baselines(r["item"], idf)[name] for r in scored] for name in ("length", "bow_cosine", "tfidf_cosine")}
    fitted = maps or {name: quantile_map(vals, human) for name, vals in base.items()}
    out: dict = {"items": len(rows), "scored": len(scored), "systems": {}}

    def system(values: list[float], per_criterion: dict[str, list[float]] | None, scaled: list[float]) -> dict:
        fig = {"spearman": spearman(values, human), "criteria": {}, "mae": {}}
        for crit in CRITERIA:
            hc = [r["hand"][crit] for r in scored]
            vals = per_criterion[crit] if per_criterion else values
            fig["criteria"][crit] = spearman(vals, hc)
        for ch in CHANNELS:
            idx = [i for i, r in enumerate(scored) if r["channel"] == ch]
            if idx:
                fig["mae"][ch] = sum(abs(scaled[i] - human[i]) for i in idx) / len(idx)
        fig["mae"]["all"] = sum(abs(a - b) for a, b in zip(scaled, human, strict=True)) / max(1, len(human))
        return fig

    per_crit = {c: [r["auto"].criteria.get(c, 0.0) for r in scored] for c in CRITERIA}
    out["systems"]["scorer"] = system(auto, per_crit, auto)
    for name, vals in base.items():
        out["systems"][name] = system(vals, None, [fitted[name](v) for v in vals])
    # Classifier on every reply.
    auto_true = [r for r in rows if r["kind"] in AUTOMATIC]
    caught = [r for r in auto_true if r["predicted"] in AUTOMATIC]
    answers = [r for r in rows if r["kind"] in SCORED]
    false_ack = [r for r in answers if r["predicted"] in AUTOMATIC]
    kinds_ok = sum(1 for r in rows if r["predicted"] == r["kind"])
    out["classifier"] = {"automatic": len(auto_true), "caught": len(caught), "answers": len(answers),
                         "false_ack": len(false_ack), "kind_agreement": kinds_ok,
                         "caught_alone": sum(r["alone"] in AUTOMATIC for r in auto_true),
                         "false_alone": sum(r["alone"] in AUTOMATIC for r in answers),
                         "confusion": Counter(f"{r['kind']}->{r['predicted']}" for r in rows
                                              if r["kind"] != r["predicted"])}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(scored):
        if r["group"]:
            groups[r["group"]].append(i)
    spreads = {g: (max(auto[i] for i in idx) - min(auto[i] for i in idx),
                   max(human[i] for i in idx) - min(human[i] for i in idx))
               for g, idx in sorted(groups.items()) if len(idx) > 1}
    out["paraphrase"] = spreads
    return out, fitted


