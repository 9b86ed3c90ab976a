"""The rubric scorer: per-criterion points with evidence spans, rescoring and auditors' overrides.

Library entry points (the CLI in qualibench/cli/score.py and audit.py wraps them):
`effective_scores` (which score counts per reply), `load_rubric`, `score_reply`,
`score_campaign`, `rescore_campaign`, `export_audit_sheet`, `import_audit_sheet`,
`set_override`, `agreement_report`, `explain_reply`.

The names are imported on first use (PEP 562): a report that only reads stored scores
(`qualibench.scorer.effective`) loads neither the lemmatiser nor the spreadsheet and statistics
libraries of the audit tools.
"""

from __future__ import annotations

from importlib import import_module

_WHERE = {
    "AgreementReport": "agreement", "agreement_report": "agreement",
    "krippendorff_alpha_interval": "agreement", "quadratic_kappa": "agreement",
    "ImportReport": "audit", "export_audit_sheet": "audit", "import_audit_sheet": "audit",
    "set_override": "audit",
    "RescoreReport": "campaign", "ScoreReport": "campaign", "rescore_campaign": "campaign",
    "score_campaign": "campaign",
    "EffectiveScore": "effective", "current_rubric_version": "effective", "effective_scores": "effective",
    "ScoreResult": "engine", "Span": "engine", "score_reply": "engine",
    "explain_reply": "explain", "score_files": "explain",
    "Rubric": "rubric", "load_rubric": "rubric",
}

__all__ = [  # noqa: F822 - imported on first use by __getattr__
    "AgreementReport", "EffectiveScore", "ImportReport", "RescoreReport", "Rubric", "ScoreReport",
    "ScoreResult", "Span", "agreement_report", "current_rubric_version", "effective_scores",
    "explain_reply", "export_audit_sheet", "import_audit_sheet", "krippendorff_alpha_interval",
    "load_rubric", "quadratic_kappa", "rescore_campaign", "score_campaign", "score_files",
    "score_reply", "set_override",
]


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))

