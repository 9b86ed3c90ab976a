"""The auditors' workflow: XLSX sheets for double coding, their import, and single overrides."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from sqlmodel import Session, select

from ..brandmask import MASK, mask_brand
from ..campaign.limits import XLSX_BYTES, too_big, xlsx_bomb
from ..errors import InvalidInput, NotFound, Problem, QualibenchError
from ..events import log_event
from ..models import Brand, Campaign, Event, Probe, Reply, Scenario, Score
from ..resources import data_dir
from ..spreadsheet import keep_text, xlsx_text
from ..workspace import Workspace
from .campaign import SCORED_KINDS, resolve_rubric
from .effective import ADJUDICATOR_PREFIX, AUDITOR_PREFIX, AUTO, current_rubric_version
from .rubric import Rubric, load_rubric

SHEET = "audit"
ABOUT = "about"
FORMAT = "qualibench-audit/1"
READ_ONLY = ("reply_id", "brand", "channel", "scenario", "kind", "request", "reply")
# A blind sheet leaves the brand out, and masks it in the texts (name variants, domains, e-mail
# addresses, X handles: qualibench.brandmask).
BLIND_READ_ONLY = tuple(c for c in READ_ONLY if c != "brand")
BRAND_MASK = MASK
JUSTIFICATION = "justification"
_AUDITOR_NAME = re.compile(r"^[\w.@-]{1,64}$")
_GREY = PatternFill("solid", fgColor="DDDDDD")
_YELLOW = PatternFill("solid", fgColor="FFF2CC")


@dataclass
class ImportReport:
    """What an audit sheet import recorded."""

    auditor: str
    rubric_version: str
    recorded: int
    left_empty: int
    reply_ids: list[int] = field(default_factory=list)


class AuditSheetRejected(InvalidInput):
    """An audit sheet with problems: every problem is listed and nothing is imported."""

    def __init__(self, problems: list[Problem], path: Path) -> None:
        n = len([p for p in problems if p.severity == "error"])
        super().__init__(problems, f"{n} problem{'s' if n != 1 else ''} in audit sheet {path.name}: nothing was imported")
        self.hint = "correct the rows above (or export a fresh sheet) and import it again"


def check_auditor(auditor: str) -> str:
    """Return the auditor's name, checked: letters, digits and . _ @ - only."""
    name = (auditor or "").strip()
    if not _AUDITOR_NAME.match(name):
        raise QualibenchError(
            f"auditor name {auditor!r} is missing or not valid",
            "pass --auditor NAME (letters, digits, '.', '_', '@' or '-')",
        )
    return name


def rubric_for_version(ws: Workspace, campaign: Campaign, version: str | None,
                       rubric: str | Path | None = None) -> Rubric:
    """Return the rubric whose content hash is `version`.

    Looked for in: `rubric` if given, the campaign's configured rubric, the files named by the
    campaign's scoring events, the shipped rubrics.
    """
    if rubric is not None:
        given = resolve_rubric(ws, campaign, rubric)
        if version is None or given.version == version:
            return given
        raise QualibenchError(f"rubric {given.source.name} has version {given.version}, the scores have {version}",
                              "pass the rubric file used for that scoring run")
    configured = resolve_rubric(ws, campaign, None)
    if version is None or configured.version == version:
        return configured
    with ws.session() as session:
        sources = [e.payload.get("source") for e in session.exec(
            select(Event).where(Event.campaign_id == campaign.id, Event.kind == "score.auto")
            .order_by(Event.seq.desc()))]  # type: ignore[attr-defined]
    candidates = [Path(s) for s in sources if s] + sorted((data_dir("scoring") / "rubrics").glob("*.yaml"))
    for path in candidates:
        try:
            found = load_rubric(path)
        except QualibenchError:
            continue
        if found.version == version:
            return found
    raise NotFound(f"no rubric file with version {version} was found (it was moved or edited)",
                   "pass the rubric file used for that scoring run with --rubric FILE")


def _clean(value: Any) -> str:
    """Return the text as the sheet holds it: the one XLSX rule `export --format xlsx` also uses
    (characters XML refuses spelt out, overlong text cut with a note)."""
    return xlsx_text("" if value is None else str(value))


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _same_text(cell: Any, expected: str) -> bool:
    # A spreadsheet saved again may turn CRLF into LF or trim the ends; the words must not change.
    def norm(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return norm(_cell(cell)) == norm(expected)


def read_only_columns(blind: bool) -> tuple[str, ...]:
    """Return the locked columns of an audit sheet (no brand in a blind one)."""
    return BLIND_READ_ONLY if blind else READ_ONLY


def _reply_rows(session: Session, cid: int) -> list[tuple[Reply, Probe, Brand, str]]:
    rows = session.exec(
        select(Reply, Probe, Brand, Scenario.key)
        .join(Probe, Probe.id == Reply.probe_id)  # type: ignore[arg-type]
        .join(Brand, Brand.id == Probe.brand_id)  # type: ignore[arg-type]
        .join(Scenario, Scenario.id == Probe.scenario_id)  # type: ignore[arg-type]
        .where(Reply.campaign_id == cid, Reply.kind.in_(SCORED_KINDS))  # type: ignore[attr-defined]
        .order_by(Reply.id)  # type: ignore[arg-type]
    ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _read_only_values(reply: Reply, probe: Probe, brand: Brand, scenario: str,
                      blind: bool = False) -> dict[str, str]:
    if blind:
        return {"reply_id": str(reply.id), "channel": probe.channel, "scenario": scenario,
                "kind": reply.kind, "request": _clean(mask_brand(probe.body, brand)),
                "reply": _clean(mask_brand(reply.text, brand))}
    return {"reply_id": str(reply.id), "brand": brand.name, "channel": probe.channel, "scenario": scenario,
            "kind": reply.kind, "request": _clean(probe.body), "reply": _clean(reply.text)}


def _latest_auto(session: Session, cid: int, version: str) -> dict[int, Score]:
    rows = session.exec(select(Score).where(Score.campaign_id == cid, Score.scorer == AUTO,
                                            Score.rubric_version == version).order_by(Score.id))  # type: ignore[arg-type]
    return {s.reply_id: s for s in rows}


def score_header(criterion: str, rub: Rubric) -> str:
    """Return the header of the editable column of `criterion` ("score:empathy (0-20)")."""
    return f"score:{criterion} (0-{rub.weight(criterion):g})"


def export_audit_sheet(ws: Workspace, path: Path | str, *, blind: bool,
                       rubric: str | Path | None = None) -> int:
    """Write the audit XLSX for the campaign's answers; return the number of replies in it."""
    path = Path(path)
    with ws.session() as session:
        campaign = ws.campaign(session)
        cid = campaign.id
        assert cid is not None
        version = current_rubric_version(session, cid)
        rub = rubric_for_version(ws, campaign, None if rubric else version, rubric)
        rows = _reply_rows(session, cid)
        autos = {} if blind else _latest_auto(session, cid, rub.version)
        slug = campaign.slug
    wb = Workbook()
    sheet = wb.active
    sheet.title = SHEET
    auto_cols = [] if blind else ["auto_total", *(f"auto_{c}" for c in rub.criteria), "auto_evidence"]
    # A criterion weighing nothing in this rubric has nothing to score.
    editable = [score_header(c, rub) for c in rub.criteria if rub.weight(c) > 0] + [JUSTIFICATION]
    read_only = read_only_columns(blind)
    sheet.append([*read_only, *auto_cols, *editable])
    for reply, probe, brand, scenario in rows:
        values: list[Any] = list(_read_only_values(reply, probe, brand, scenario, blind).values())
        values[0] = reply.id
        if not blind:
            auto = autos.get(reply.id)  # type: ignore[arg-type]
            if auto is None:
                values += [None] * len(auto_cols)
            else:
                values += [auto.total, *(auto.criteria.get(c) for c in rub.criteria),
                           _clean(_evidence_text(auto.evidence))]
        sheet.append(values + [None] * len(editable))
        for cell in sheet[sheet.max_row]:
            keep_text(cell)  # a brand's text starting with "=" stays text, never a live formula
    _style(sheet, len(read_only) + len(auto_cols), len(editable))
    about = wb.create_sheet(ABOUT)
    for key, value in (("format", FORMAT), ("campaign", slug), ("rubric_name", rub.name),
                       ("rubric_version", rub.version), ("blind", "yes" if blind else "no"),
                       *((f"weight:{c}", rub.weight(c)) for c in rub.criteria)):
        about.append([key, value])
    about.protection.sheet = True
    about.sheet_state = "hidden"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return len(rows)


def _evidence_text(evidence: dict) -> str:
    lines = []
    for crit, spans in evidence.items():
        for span in spans:
            lines.append(f"{crit} {span.get('points', 0):+g}: \u00ab{span.get('text', '')}\u00bb {span.get('why', '')}")
    return "\n".join(lines)


def _style(sheet, n_read_only: int, n_editable: int) -> None:  # type: ignore[no-untyped-def]
    # Read-only columns are grey and locked; the score columns are yellow and unlocked, and the
    # sheet is protected so Excel refuses edits elsewhere (the import re-checks anyway).
    for col in range(1, n_read_only + n_editable + 1):
        head = sheet.cell(row=1, column=col)
        head.font = Font(bold=True)
        head.fill = _GREY if col <= n_read_only else _YELLOW
        letter = head.column_letter
        sheet.column_dimensions[letter].width = 60 if head.value in ("request", "reply", "auto_evidence") else 16
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.column > n_read_only:
                cell.protection = Protection(locked=False)
                cell.fill = _YELLOW
            else:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    sheet.protection.sheet = True
    sheet.protection.formatColumns = False
    sheet.protection.formatRows = False


def import_audit_sheet(ws: Workspace, path: Path | str, auditor: str) -> ImportReport:
    """Record each filled row of an audit sheet as a new score by `auditor`; all or nothing."""
    path = Path(path)
    name = check_auditor(auditor)
    if not path.is_file():
        raise NotFound(f"audit sheet {path} does not exist", "give the path of the XLSX you exported")
    problems: list[Problem] = []
    # The same bounds as a brands workbook: a zip bomb is refused before openpyxl inflates it.
    if too_big(path, XLSX_BYTES, "audit sheet", problems) or xlsx_bomb(path, problems):
        refused = InvalidInput(problems, f"{path.name} is refused; nothing was imported")
        refused.hint = "fill in a sheet written by `qualibench audit export` and import that one"
        raise refused
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException...
        raise QualibenchError(f"{path.name} cannot be read as an XLSX workbook: {exc}",
                              "save the sheet as .xlsx (Excel workbook) and import it again") from None
    if SHEET not in wb.sheetnames or ABOUT not in wb.sheetnames:
        raise QualibenchError(f"{path.name} is not a qualibench audit sheet (sheets {SHEET!r} and {ABOUT!r} missing)",
                              "export one with `qualibench audit export --out FILE.xlsx`")
    about = {str(r[0]): r[1] for r in wb[ABOUT].iter_rows(values_only=True) if r and r[0] is not None}
    if about.get("format") != FORMAT:
        raise QualibenchError(f"{path.name}: unknown audit sheet format {about.get('format')!r}",
                              "export a fresh sheet with this version of qualibench")
    version = str(about["rubric_version"])
    weights = {k.removeprefix("weight:"): float(v) for k, v in about.items() if k.startswith("weight:")}
    rows = list(wb[SHEET].iter_rows(values_only=True))
    wb.close()
    problems: list[Problem] = []
    with ws.session() as session:
        campaign = ws.campaign(session)
        cid = campaign.id
        assert cid is not None
        if about.get("campaign") != campaign.slug:
            problems.append(Problem(path.name, f"the sheet belongs to campaign {about.get('campaign')!r}, not {campaign.slug!r}",
                                    "import it in the campaign it was exported from", ABOUT))
        known = {str(r.id): (r, p, b, s) for r, p, b, s in _reply_rows(session, cid)}
        autos = _latest_auto(session, cid, version) if about.get("blind") == "no" else {}
        records = _check_rows(path.name, rows, weights, known, autos, problems,
                              blind=about.get("blind") == "yes")
        if problems:
            raise AuditSheetRejected(problems, path)
        rubric_name = str(about.get("rubric_name") or "default")
        now = ws.clock.now()
        for reply_id, criteria, why in records:
            session.add(Score(campaign_id=cid, reply_id=reply_id, rubric_name=rubric_name,
                              rubric_version=version, scorer=AUDITOR_PREFIX + name,
                              total=round(sum(criteria.values()), 2), criteria=criteria,
                              evidence={}, justification=why, created_at=now))
        mark_assignments_coded(session, cid, [r[0] for r in records], name, version, now)
        log_event(session, cid, "audit.import", f"auditor:{name}",
                  {"file": path.name, "rubric_version": version, "rows": len(records)}, ws.clock)
    filled = {r[0] for r in records}
    return ImportReport(name, version, len(records), max(0, len(rows) - 1 - len(records)), sorted(filled))


def _check_rows(file: str, rows: list[tuple], weights: dict[str, float], known: dict,
                autos: dict[int, Score], problems: list[Problem], *,
                blind: bool = False) -> list[tuple[int, dict[str, float], str]]:
    if not rows:
        problems.append(Problem(file, "the audit sheet is empty", "export a fresh sheet", SHEET))
        return []
    header = [str(h) if h is not None else "" for h in rows[0]]
    col = {h: i for i, h in enumerate(header)}
    score_cols = {}
    fixed = {crit: 0.0 for crit, weight in weights.items() if weight <= 0}
    for crit, weight in weights.items():
        if weight <= 0:
            continue
        wanted = f"score:{crit} (0-{weight:g})"
        if wanted not in col:
            problems.append(Problem(file, f"column {wanted!r} is missing", "do not rename or delete columns", "row 1"))
        score_cols[crit] = col.get(wanted)
    read_only = read_only_columns(blind)
    for ro in read_only:
        if ro not in col:
            problems.append(Problem(file, f"column {ro!r} is missing", "do not rename or delete columns", "row 1"))
    if problems:
        return []
    records: list[tuple[int, dict[str, float], str]] = []
    seen: set[str] = set()
    for n, row in enumerate(rows[1:], start=2):
        cells = list(row) + [None] * (len(header) - len(row))
        if all(c is None or str(c).strip() == "" for c in cells):
            continue
        where = f"row {n}"
        rid = _cell(cells[col["reply_id"]])
        rid = rid[:-2] if rid.endswith(".0") else rid  # Excel may turn ids into floats
        if rid not in known:
            problems.append(Problem(file, f"reply id {rid or '(empty)'} is not an answer of this campaign",
                                    "restore the reply_id exported in this row, or delete the row", where, "reply_id"))
            continue
        if rid in seen:
            problems.append(Problem(file, f"reply {rid} appears twice", "keep one row per reply", where, "reply_id"))
            continue
        seen.add(rid)
        reply, probe, brand, scenario = known[rid]
        expected = _read_only_values(reply, probe, brand, scenario, blind)
        for ro in read_only[1:]:
            if not _same_text(cells[col[ro]], expected[ro]):
                problems.append(Problem(file, f"read-only column {ro!r} was edited",
                                        f"restore the exported value of {ro!r}; only the score columns and justification are yours",
                                        where, ro))
        _check_auto_columns(file, where, cells, col, weights, autos.get(reply.id), problems)
        values: dict[str, float] = {}
        empty = []
        for crit, idx in score_cols.items():
            raw = cells[idx] if idx is not None else None
            if raw is None or str(raw).strip() == "":
                empty.append(crit)
                continue
            try:
                value = float(str(raw).replace(",", "."))
            except ValueError:
                problems.append(Problem(file, f"{crit} score {raw!r} is not a number",
                                        f"enter a number between 0 and {weights[crit]:g}", where, crit))
                continue
            if not 0 <= value <= weights[crit]:
                problems.append(Problem(file, f"{crit} score {value:g} is out of range",
                                        f"enter a number between 0 and {weights[crit]:g}", where, crit))
                continue
            values[crit] = value
        if empty and len(empty) < len(score_cols):
            problems.append(Problem(file, f"scores missing for {', '.join(empty)}",
                                    "score every criterion of the row, or leave them all empty", where))
            continue
        if not empty and len(values) == len(score_cols):
            why = _cell(cells[col[JUSTIFICATION]]) if JUSTIFICATION in col else ""
            records.append((reply.id, {**fixed, **values}, why))
    return records


def _check_auto_columns(file: str, where: str, cells: list, col: dict[str, int], weights: dict[str, float],
                        auto: Score | None, problems: list[Problem]) -> None:
    if auto is None or "auto_total" not in col:
        return
    pairs = [("auto_total", auto.total)] + [(f"auto_{c}", auto.criteria.get(c)) for c in weights]
    for name, value in pairs:
        cell = cells[col[name]] if name in col else None
        try:
            same = cell is not None and value is not None and abs(float(cell) - float(value)) < 1e-6
        except (TypeError, ValueError):
            same = False
        if not same:
            problems.append(Problem(file, f"read-only column {name!r} was edited",
                                    f"restore {value}; write your own score in the score: columns", where, name))


def set_override(ws: Workspace, reply_id: int, criteria: dict[str, float], auditor: str, why: str,
                 *, adjudicate: bool = False, rubric: str | Path | None = None) -> Score:
    """Record an auditor's score for one reply (criteria not given keep the score that counted)."""
    name = check_auditor(auditor)
    if not (why or "").strip():
        raise QualibenchError("an override needs a justification", 'pass --why "what the automatic score missed"')
    from .effective import effective_scores

    with ws.session() as session:
        campaign = ws.campaign(session)
        cid = campaign.id
        assert cid is not None
        reply = session.get(Reply, reply_id)
        if reply is None or reply.campaign_id != cid:
            raise NotFound(f"reply {reply_id} is not in this campaign", "see the ids with `qualibench audit export`")
        version = current_rubric_version(session, cid)
        rub = rubric_for_version(ws, campaign, None if rubric else version, rubric)
        for crit, value in criteria.items():
            if crit not in rub.criteria:
                raise QualibenchError(f"criterion {crit!r} is not in rubric {rub.name}",
                                      f"use one of: {', '.join(rub.criteria)}")
            if not 0 <= float(value) <= rub.weight(crit):
                raise QualibenchError(f"{crit}={value:g} is out of range",
                                      f"give {crit} a value between 0 and {rub.weight(crit):g}")
        scorer = (ADJUDICATOR_PREFIX if adjudicate else AUDITOR_PREFIX) + name
        mine = session.exec(select(Score).where(Score.reply_id == reply_id, Score.scorer == scorer,
                                                Score.rubric_version == rub.version)
                            .order_by(Score.id.desc())).first()  # type: ignore[union-attr]
        current = effective_scores(session, cid, rub.version).get(reply_id)
        base = dict(mine.criteria) if mine else dict(current.criteria) if current else dict.fromkeys(rub.criteria, 0.0)
        base.update({k: float(v) for k, v in criteria.items()})
        row = Score(campaign_id=cid, reply_id=reply_id, rubric_name=rub.name, rubric_version=rub.version,
                    scorer=scorer, total=round(sum(float(v) for v in base.values()), 2), criteria=base,
                    evidence={}, justification=why.strip(), created_at=ws.clock.now())
        session.add(row)
        session.flush()
        if not adjudicate:
            mark_assignments_coded(session, cid, [reply_id], name, rub.version, row.created_at)
        log_event(session, cid, "audit.override", f"reply:{reply_id}",
                  {"scorer": scorer, "criteria": {k: float(v) for k, v in criteria.items()},
                   "rubric_version": rub.version}, ws.clock)
        session.refresh(row)
        session.expunge(row)
    return row


def mark_assignments_coded(session: Session, campaign_id: int, reply_ids: list[int], auditor: str,
                           version: str, at: Any) -> None:
    """Mark the review workspace's assignments of these replies to `auditor` as coded."""
    from sqlalchemy import update

    from ..models import CodingAssignment

    for start in range(0, len(reply_ids), 500):
        session.execute(update(CodingAssignment).where(
            CodingAssignment.campaign_id == campaign_id, CodingAssignment.reviewer == auditor,  # type: ignore[arg-type]
            CodingAssignment.rubric_version == version,  # type: ignore[arg-type]
            CodingAssignment.reply_id.in_(reply_ids[start:start + 500]),  # type: ignore[attr-defined]
            CodingAssignment.coded_at.is_(None)).values(coded_at=at))  # type: ignore[union-attr]
