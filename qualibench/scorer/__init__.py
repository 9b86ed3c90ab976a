"""The rubric scorer: per-criterion points with evidence spans, rescoring and auditors' overrides.

Library entry points (the CLI in qualibench/cli/score.py and audit.py wraps them):
`effective_scores` (which score counts per reply), `load_rubric`, `score_reply`,
`score_campaign`, `rescore_campaign`, `export_audit_sheet`, `import_audit_sheet`,
`set_override`, `agreement_report`, `explain_reply`.
"""

from __future__ import annotations

from .agreement import (
    AgreementReport,
    agreement_report,
    krippendorff_alpha_interval,
    quadratic_kappa,
)
from .audit import ImportReport, export_audit_sheet, import_audit_sheet, set_override
from .campaign import RescoreReport, ScoreReport, rescore_campaign, score_campaign
from .effective import EffectiveScore, current_rubric_version, effective_scores
from .engine import ScoreResult, Span, score_reply
from .explain import explain_reply, score_files
from .rubric import Rubric, load_rubric

__all__ = [
    "AgreementReport", "EffectiveScore", "ImportReport", "RescoreReport", "Rubric", "ScoreReport",
    "ScoreResult", "Span", "agreement_report", "current_rubric_version", "effective_scores",
    "explain_reply", "export_audit_sheet", "import_audit_sheet", "krippendorff_alpha_interval",
    "load_rubric", "quadratic_kappa", "rescore_campaign", "score_campaign", "score_files",
    "score_reply", "set_override",
]
