"""The award report: one self-contained HTML file and a PDF printed from it by Chromium.

The package imports nothing until a name is asked for: `qualibench report` forks its chart
process (qualibench.report.chart_worker) before jinja, pandas and the database layer load,
which importing qualibench.report.document would bring. Every name below is that module's.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_NAMES = {
    "FORMATS": "document", "LANGS": "document", "Phases": "document", "campaign_id_of": "document",
    "check_language_and_templates": "document", "css_string": "document", "html_to_pdf": "document",
    "render_html": "document", "require_sent_tests": "document", "template_env": "document",
    "write_report": "document", "build_context": "context", "load_labels": "context",
    "ChartWorker": "chart_worker",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_NAMES[name]}"), name)
    globals()[name] = value  # asked once: the next lookup is an ordinary attribute
    return value
