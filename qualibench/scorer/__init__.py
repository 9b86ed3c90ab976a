"""The rubric scorer: per-criterion points with evidence spans, rescoring and auditors' overrides.

Library entry points (the CLI in qualibench/cli/score.py and audit.py wraps them):
`effective_scores` (which score counts per reply), `load_rubric`, `score_reply`,
`score_campaign`, `rescore_campaign`, `export_audit_sheet`, `import_audit_sheet`,
`set_override`, `agreement_report`.
"""

from __future__ import annotations

from .effective import EffectiveScore, current_rubric_version, effective_scores

__all__ = ["EffectiveScore", "current_rubric_version", "effective_scores"]
