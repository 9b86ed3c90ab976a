"""Writing the award report: the HTML document, its PDF, the phases of `qualibench report`."""

from __future__ import annotations

import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlmodel import Session, func, select

from ..errors import NotFound, QualibenchError, StateError
from ..models import Brand, Campaign, Probe
from ..resources import data_dir
from .chart_worker import ChartWorker
from .context import build_context, load_labels

FORMATS = ("html", "pdf")
LANGS = ("fr", "en")


def campaign_id_of(ws, session: Session) -> int:
    """Return the id of the workspace's campaign (campaign.toml's slug, else the latest campaign)."""
    if (ws.root / "campaign.toml").exists():
        return ws.campaign(session).id
    row = session.exec(select(Campaign).order_by(Campaign.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    if row is None:
        raise NotFound("the database holds no campaign", "run `qualibench plan` first")
    return row.id


def require_sent_tests(analysis) -> None:
    """Raise StateError when the campaign has no sent test yet (nothing to report)."""
    tests = analysis.tests
    if len(tests) == 0 or not tests["sent"].any():
        raise StateError(f"campaign {analysis.campaign['slug']!r} has no test sent yet: nothing to report",
                         "run `qualibench send` (and `qualibench collect`) first")


def css_string(text) -> Markup:
    """Return `text` as a quoted CSS string, safe inside a <style> element (no quote, no '<')."""
    safe = "".join(c if c.isalnum() or c in " .,·-–—'()/:&_" else f"\\{ord(c):x} " for c in str(text))
    return Markup(f'"{safe}"')  # noqa: S704 - every other character is a CSS escape


class _ReportEnvironment(Environment):
    """Jinja2 with `row.field` read as a key first: the report's rows are dicts.

    Jinja tries an attribute, then a key; on a dict that costs an exception per lookup, and a
    500-brand report looks up some 140,000 fields. Dict methods (items, get...) stay methods.
    """

    _METHODS = frozenset(dir(dict))

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute not in self._METHODS:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def template_env(template_dir: Path | None = None) -> Environment:
    """Return the Jinja2 environment: the user's template folder first, then the package defaults."""
    return _env(str(template_dir) if template_dir else None)


@lru_cache(maxsize=8)
def _env(template_dir: str | None) -> Environment:
    # One per folder and process: templates compile once (Jinja re-reads a file that changed).
    dirs = ([Path(template_dir)] if template_dir else []) + [data_dir("reports")]
    env = _ReportEnvironment(loader=ChoiceLoader([FileSystemLoader(str(d)) for d in dirs]),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      bytecode_cache=_bytecode_cache())
    env.globals["template_dirs"] = dirs
    env.filters["css_string"] = css_string
    return env


def _bytecode_cache():
    # Compiling the templates costs more than half a second of every `qualibench report`; their
    # bytecode is kept in Jinja's per-user folder (created 0700, refused if someone else owns it)
    # and checked against each template's source, so an edited template is compiled again.
    from jinja2 import FileSystemBytecodeCache

    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no safe folder: compile every time
        return None


def check_language_and_templates(lang: str, template_dir: Path | None) -> None:
    """Raise a user error for an unknown report language or a missing template folder."""
    if lang not in LANGS:
        raise QualibenchError(f"report language {lang!r} is not available", "use --lang fr or --lang en")
    if template_dir is not None and not Path(template_dir).is_dir():
        raise NotFound(f"template folder {template_dir} does not exist", "pass an existing folder to --templates")


def render_html(ws, analysis, trophies, *, lang: str = "fr", template_dir: Path | None = None,
                pseudonymise: bool = False, charts: ChartWorker | None = None, sheets=None) -> str:
    """Return the report as one self-contained HTML document.

    `charts`: a ChartWorker started earlier (write_report forks it before the analytics).
    `sheets`: the brand sheets already rendering in their process (_sheets_ahead).
    """
    check_language_and_templates(lang, template_dir)
    env = template_env(template_dir)
    labels = load_labels(lang, env.globals["template_dirs"])
    with ws.session() as s:
        ctx = build_context(s, analysis, trophies, lang=lang, labels=labels,
                            pseudonymise_excerpts=pseudonymise, now=ws.clock.now(), charts=charts,
                            sheets_env=None if template_dir else env, sheets=sheets)
    return ctx["sheets"].fill(ctx["chart_worker"].fill(env.get_template("report.html.j2").render(**ctx)))


def html_to_pdf(html: str, out: Path) -> Path:
    """Write `html` as a PDF at `out`, printed by headless Chromium; return `out`."""
    from .pdf import Printer

    with Printer() as printer:
        return printer.pdf(html, Path(out))


def _chart_formatter(lang: str, template_dir: Path | None):
    # The labels and formatter the report's context uses, for charts submitted before it
    # (it reuses their placeholders); None for a language or template folder that is wrong,
    # which render_html reports, as before.
    if lang not in LANGS or (template_dir is not None and not Path(template_dir).is_dir()):
        return None
    from .formatting import Formatter

    env = template_env(template_dir)
    return Formatter(lang, load_labels(lang, env.globals["template_dirs"]))


def _sheets_ahead(ws, analysis, charts: ChartWorker, formatter, pseudonymise: bool):
    """Return the brand sheets of a large report, rendering in a forked process from now on.

    They need only the figures: forked here, they render while this process computes the
    trophies and builds the rest of the report, instead of after both. None when they are not
    forked (a small report, or forking unsafe): the report's context renders them as before.
    """
    if not charts.large:
        return None
    from .brand_sheets import SheetsInBackground, excerpt_tools

    with ws.session() as s:
        excerpt = excerpt_tools(s, analysis.campaign["id"], formatter.L, pseudonymise)
        sheets = SheetsInBackground(s, analysis, formatter, excerpt, template_env(None), fork=True)
    return sheets if sheets.placeholder is not None else None


def _bootstrap_plan(session: Session, campaign_id: int) -> tuple[int, int, list[tuple[str, str, int]]]:
    """Return the seed, replicates and expected cells [(brand_key, channel, sent tests)] of the bootstrap.

    The cells are a forecast read in one query: a cell whose number of tests the analysis finds
    different (a test not sent, a reply under review...) has its weights drawn in place.
    """
    from ..analytics import rules_from_config

    # a Core row, as the analytics read it (an ORM get's first call costs a tenth of a second)
    seed, config = session.execute(select(Campaign.seed, Campaign.config).where(Campaign.id == campaign_id)).one()
    b = rules_from_config(config).bootstrap_samples
    if b <= 0:
        return seed, b, []
    sent = Probe.sent_at.is_not(None) | (Probe.state == "undeliverable")  # analytics.load_tests' "sent", forecast
    rows = session.execute(select(Brand.key, Probe.channel, func.count()).join(Brand, Brand.id == Probe.brand_id)
                           .where(Probe.campaign_id == campaign_id, sent).group_by(Brand.key, Probe.channel)).all()
    return seed, b, [(str(k), str(ch), int(n)) for k, ch, n in rows]


def _tests_count(session: Session, campaign_id: int) -> int:
    # the number of rows of analytics.load_tests (one per probe), known before computing them
    return session.execute(select(func.count()).select_from(Probe).where(Probe.campaign_id == campaign_id)).scalar_one()


class Phases:
    """Wall and CPU seconds (this process only) of each named phase of writing a report."""

    def __init__(self) -> None:
        self.spent: dict[str, tuple[float, float]] = {}

    @contextmanager
    def __call__(self, name: str):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            w, c = self.spent.get(name, (0.0, 0.0))
            self.spent[name] = (w + time.perf_counter() - wall, c + time.process_time() - cpu)

    def text(self) -> str:
        """Return the phases as one line: "analytics 0.81 s (CPU 0.79 s), html 0.62 s (...)"."""
        return ", ".join(f"{n} {w:.2f} s (CPU {c:.2f} s)" for n, (w, c) in self.spent.items())


def write_report(ws, *, formats=FORMATS, lang: str = "fr", out: Path, template_dir: Path | None = None,
                 pseudonymise: bool = False, previous: str | None = None,
                 campaign_id: int | None = None, per_brand: bool = False,
                 workers: int | None = None, phases: Phases | None = None,
                 charts: ChartWorker | None = None) -> list[Path]:
    """Return the paths written: report-<slug>-<lang>.html and/or .pdf in `out`.

    `per_brand`: also one PDF per brand in `out`/brands (brand-<key>-<lang>.pdf), rendered by
    `workers` processes (default: one per core). `phases` collects the time of each step:
    analytics (figures and trophies), html (rendering), pdf (printing), per_brand.
    `charts`: a ChartWorker forked by the caller (`ChartWorker.early()`), kept for a large report.
    """
    from ..analytics import analyse
    from ..awards import compute_trophies

    phase = phases or Phases()
    try:
        bad = [f for f in formats if f not in FORMATS]
        if bad:
            raise QualibenchError(f"unknown report format {bad[0]!r}", "use --format html, pdf or html,pdf")
        if charts is not None and (per_brand or not formats):  # no chart to draw
            charts, unused = None, charts
            unused.close()
        with phase("analytics"):
            with ws.session() as s:
                cid = campaign_id or campaign_id_of(ws, s)
                formatter = tests_ready = None
                if formats and not per_brand:  # matplotlib loads in the chart process meanwhile
                    count = _tests_count(s, cid)
                    charts = charts.sized(count) if charts is not None else ChartWorker.start(count)
                    if charts.forked:  # it draws the bootstrap's weights while this process reads the tests
                        charts.weights_ahead(*_bootstrap_plan(s, cid))
                        formatter = _chart_formatter(lang, template_dir)
                    if formatter is not None:
                        def tests_ready(tests, window_h: float) -> None:
                            # the delay curves are drawn while this process computes the figures
                            charts.submit_tests(tests, window_h, formatter)
                analysis = analyse(s, cid, as_of=ws.clock.now(), previous=previous,
                                   weights_ahead=charts.take_weights if charts is not None else None,
                                   tests_ready=tests_ready)
            require_sent_tests(analysis)
            sheets = None
            if formatter is not None:
                charts.submit(analysis, formatter)  # the other charts, drawn while the trophies are computed
                if template_dir is None and not per_brand:  # the package's sheets: rendered meanwhile too
                    sheets = _sheets_ahead(ws, analysis, charts, formatter, pseudonymise)
            trophies = compute_trophies(analysis)
    except BaseException:
        if charts is not None:
            charts.close()
        raise
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if per_brand:
        from .per_brand import write_brand_reports

        check_language_and_templates(lang, template_dir)
        env = template_env(template_dir)
        with phase("per_brand"):
            written += write_brand_reports(ws, analysis, trophies, lang=lang, out=out, env=env,
                                           labels=load_labels(lang, env.globals["template_dirs"]),
                                           pseudonymise=pseudonymise, workers=workers)
    if not formats:
        return written
    with phase("html"):
        html = render_html(ws, analysis, trophies, lang=lang, template_dir=template_dir, pseudonymise=pseudonymise,
                           charts=charts, sheets=sheets)
        stem = f"report-{analysis.campaign['slug']}-{lang}"
        if "html" in formats:
            p = out / f"{stem}.html"
            p.write_text(html, encoding="utf-8")
            written.append(p)
    if "pdf" in formats:
        with phase("pdf"):
            written.append(html_to_pdf(html, out / f"{stem}.pdf"))
    return written
