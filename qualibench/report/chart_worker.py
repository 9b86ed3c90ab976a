"""The report's charts: what they show (computed with the figures) and who draws them.

`chart_specs` turns an Analysis into the data of each chart (curves, bars, labels) in the
process that builds the report; `draw_charts` hands them to matplotlib (qualibench.report.charts).
The charts are drawn by a `ChartWorker`: a process forked as early as possible (`qualibench
report` forks it, whatever the report's size, before it imports the database layer, pandas or
jinja; the library forks one for a large report), which imports matplotlib
(a third of a second, on the machine's other core) while this one starts and computes the
figures, then draws while this one builds and renders the tables. The template gets a
placeholder per chart, replaced by its SVG at the end, so this process never waits for the
drawing before it has rendered everything else. This module imports nothing heavy itself: it
is loaded before the fork.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from markupsafe import Markup

from ..background import fork_is_safe

if TYPE_CHECKING:
    from .formatting import Formatter


def _curves(sent, col: str, f: Formatter) -> dict:
    from ..survival import km_curve

    return {f.channel(c): km_curve(g[col].to_numpy(float), g["answered"].to_numpy(bool))
            for c, g in sent.groupby("channel")}


def chart_specs(analysis, f: Formatter) -> dict:
    """Return chart name -> (drawing function of qualibench.report.charts, its arguments) or None."""
    return test_chart_specs(analysis.tests, analysis.window_h, f) | figure_chart_specs(analysis, f)


def test_chart_specs(tests, window_h: float, f: Formatter) -> dict:
    """Return the specs of the charts drawn from the tests alone (the delay curves), first of all."""
    L = f.L
    sent = tests[tests["sent"]]
    return {
        "km": ("km_chart", ("km", _curves(sent, "time_h", f), window_h, L["chart_km"], L["axis_delay"],
                            L["axis_share_answered"]), {}),
        "km_business": ("km_chart", ("km-business", _curves(sent, "business_time_h", f), window_h,
                                     L["chart_km_business"], L["axis_business_delay"], L["axis_share_answered"]), {}),
    }


def figure_chart_specs(analysis, f: Formatter) -> dict:
    """Return the specs of the charts of the computed figures (after test_chart_specs' in the report)."""
    L = f.L
    chs = list(analysis.channels["channel"])
    buckets = {L["bucket_" + b].format(days=analysis.campaign["window_days"]): list(analysis.channels[b])
               for b in ("within_1h", "within_4h", "within_24h", "within_window")}
    specs: dict = {
        "buckets": ("grouped_bars", ("buckets", [f.channel(c) for c in chs], buckets, L["chart_buckets"],
                                     L["axis_share_tests"]), {}),
        "criteria": None, "sectors": None,
    }
    maxima = analysis.criterion_max
    if maxima and len(analysis.criteria):
        groups = [f"{f.criterion(c)}\n({L['max_points'].format(n=f.num(m, 0))})" for c, m in maxima.items()]
        series = {f.channel(r["channel"]): [r[f"crit_{c}"] / m for c, m in maxima.items()]
                  for r in analysis.criteria.to_dict("records")}
        specs["criteria"] = ("grouped_bars", ("criteria", groups, series, L["chart_criteria"], L["axis_share_max"]), {})
    sec = analysis.sectors.sort_values("index", ascending=False)
    if len(sec):
        specs["sectors"] = ("ranked_bars", ("sectors", [f.sector(s) for s in sec["sector"]], list(sec["index"]),
                                            L["chart_sectors"], L["index"]),
                            {"average": float(analysis.brands["index"].mean()),
                             "average_label": L["all_brands_average"]})
    return specs


def draw_charts(specs: dict, f: Formatter) -> dict:
    """Return chart name -> inline SVG (Markup) or None, drawn from chart_specs' data."""
    from . import charts  # matplotlib: only in the process that draws

    return {name: None if spec is None else getattr(charts, spec[0])(*spec[1], f, **spec[2])
            for name, spec in specs.items()}


class ChartWorker:
    """Draw the charts in a forked process; in line when forking is unsafe or not worth it.

    `start()` forks for a large report only; `early()` forks before the report's size is known
    (`qualibench report`, first thing) and keeps drawing whatever the size: its matplotlib is
    loading already, and a small report's own process would otherwise import it again. `sized()`
    tells it the size: `large` (the report's other processes, such as the brand sheets', are
    worth forking too). `submit()` sends the charts' data and returns placeholders; `fill()`
    swaps in the SVGs. Inline for small reports started by `start()`, platforms without fork, or
    a process running other threads (the demo's servers, a test database's helpers): a fork
    would copy their locks mid-use.
    """

    FORK_FROM_TESTS = 2000

    def __init__(self) -> None:
        self._proc = self._conn = None
        self._specs: dict | None = None
        self._drawn: dict | None = None
        self._marks: dict[str, str] = {}
        self._placeholders: dict = {}
        self._f: Formatter | None = None
        self._weights: tuple[int, int] | None = None  # (seed, b) of the bootstrap weights asked for
        self._table: tuple | None = None  # ((seed, b), weights) received, not yet taken
        self._first: dict | None = None  # the specs sent by submit_tests
        self.large = False  # a report of FORK_FROM_TESTS tests or more, drawn by a forked process

    @classmethod
    def start(cls, tests: int) -> ChartWorker:
        """Return a worker: forked now when a report of `tests` tests is worth it and safe."""
        worker = cls()
        if tests >= cls.FORK_FROM_TESTS:
            worker._fork()
        worker.large = worker.forked
        return worker

    @classmethod
    def early(cls) -> ChartWorker:
        """Return a worker forked now if that is safe, before the report's size is known.

        `qualibench report` calls it first of all, so matplotlib loads in the child while this
        process imports the rest and reads the campaign; `sized()` then says how large the report is.
        """
        worker = cls()
        worker._fork()
        return worker

    def sized(self, tests: int) -> ChartWorker:
        """Return this worker, told that the report has `tests` tests (`large` from FORK_FROM_TESTS)."""
        self.large = self.forked and tests >= self.FORK_FROM_TESTS
        return self

    def _fork(self) -> None:
        if not fork_is_safe():
            return
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_serve, args=(child, self._conn), daemon=True)
        self._proc.start()
        child.close()

    @property
    def forked(self) -> bool:
        """True when the charts are drawn in a process of their own."""
        return self._proc is not None

    def weights_ahead(self, seed: int, b: int, cells: list[tuple[str, str, int]]) -> None:
        """Have the process draw the bootstrap weights of `cells` [(brand_key, channel, n)] now.

        It is idle between loading matplotlib and drawing: the weights (a third of the
        bootstrap's work, independent of the figures) are drawn there while this process reads
        the tests; `take_weights` collects them.
        """
        if self._proc is None or self._specs is not None or self._weights is not None:
            return
        try:
            self._conn.send(("weights", seed, b, cells))
            self._weights = (seed, b)
        except OSError:  # the child died: everything is drawn here
            self._stop()

    def take_weights(self, seed: int, b: int) -> dict:
        """Return the weights asked for by `weights_ahead` (empty: draw them all in place).

        Empty when nothing was asked, when the campaign's seed or replicate count differ from
        the ones asked for, or when the child died (its charts are then drawn here too).
        """
        self._receive_weights()
        if self._table is None:
            return {}
        (asked, table), self._table = self._table, None
        return table if asked == (seed, b) else {}

    def _receive_weights(self) -> None:
        # Read the weights asked for before sending anything more: the child sends them before
        # it reads again, and two large messages crossing would block both processes.
        if self._weights is None:
            return
        asked, self._weights = self._weights, None
        try:
            self._table = (asked, self._conn.recv())
        except (EOFError, OSError):
            self._stop()

    @property
    def submitted(self) -> bool:
        """True once the charts' data is known (and, when forked, being drawn)."""
        return self._specs is not None

    def submit_tests(self, tests, window_h: float, f: Formatter) -> None:
        """Have the process draw the charts of the tests alone now (analyse's `tests_ready`).

        They are the costliest to draw, and the process is idle while this one computes the
        other figures; `submit` sends the rest and reuses these. Forked workers only.
        """
        if self._proc is None or self._specs is not None or self._first is not None:
            return
        self._receive_weights()  # kept for take_weights
        if self._proc is None:  # the child died meanwhile
            return
        self._first = test_chart_specs(tests, window_h, f)
        try:
            self._conn.send(("first", f.lang, f.L, self._first))
        except OSError:  # the child died: everything is drawn here
            self._stop()

    def submit(self, analysis, f: Formatter) -> dict:
        """Return chart name -> a placeholder (or None: no such chart); the drawing starts now.

        A second call (the report's context, after write_report submitted as soon as the
        figures were known) returns the same placeholders: the charts are drawn once.
        """
        if self._specs is not None:
            return self._placeholders
        self._receive_weights()  # asked for but never taken: read, or the child blocks on its send
        self._table = None
        first = self._first if self._first is not None else test_chart_specs(analysis.tests, analysis.window_h, f)
        rest = figure_chart_specs(analysis, f)
        self._f, self._specs = f, first | rest  # the report's order: the delay curves first
        if self._proc is not None:
            try:
                # the child has the first charts already (or draws them first): the rest follow
                self._conn.send(("charts", f.lang, f.L, rest if self._first is not None else self._specs))
            except OSError:  # the child died before its work: draw in line at fill()
                self._stop()
        nonce = secrets.token_hex(8)
        self._marks = {name: f"<!--chart {name} {nonce}-->" for name, spec in self._specs.items() if spec}
        self._placeholders = {name: Markup(self._marks[name]) if name in self._marks else None  # noqa: S704 - our own comment
                              for name in self._specs}
        return self._placeholders

    def charts(self) -> dict:
        """Return chart name -> SVG (Markup) or None, waiting for the worker if it draws them."""
        if self._drawn is None:
            got = None
            if self._proc is not None:
                try:
                    got = {k: Markup(v) if v is not None else None for k, v in self._conn.recv().items()}  # noqa: S704
                except (EOFError, OSError):  # the child died: draw here rather than lose the charts
                    got = None
                self._stop()
            self._drawn = got if got is not None else draw_charts(self._specs or {}, self._f)
        return self._drawn

    def fill(self, html: str) -> str:
        """Return `html` with each placeholder replaced by its chart's SVG."""
        drawn = self.charts()
        for name, mark in self._marks.items():
            html = html.replace(mark, str(drawn[name]), 1)
        return html

    def close(self) -> None:
        """Stop the worker if it was never given work (a report that failed before its charts)."""
        if self._proc is not None:
            self._stop(kill=self._specs is None)

    def _stop(self, *, kill: bool = False) -> None:
        proc, self._proc = self._proc, None
        self._conn.close()
        if kill:  # never given work: it may still be importing matplotlib, nothing to wait for
            proc.kill()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join()


def _serve(conn, parent_end) -> None:
    import gc
    import signal

    parent_end.close()  # the parent's end, copied by the fork: closed, so a parent gone reads as EOF
    # Ctrl-C is the parent's to handle (it stops this process); a short-lived drawing process
    # needs no cycle collection.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()
    from . import charts  # noqa: F401 - imported while the parent starts and computes the figures

    drawn: dict = {}
    formatter = None

    def serve(block: bool) -> bool:
        # Requests in the order sent: the bootstrap's weights (the parent waits for them), the
        # charts of the tests ("first"), then the others ("charts": all drawn, returns True).
        nonlocal formatter
        while block or conn.poll(0):
            try:
                kind, *work = conn.recv()
            except (EOFError, OSError):  # the parent needs no chart after all
                return False
            if kind == "weights":  # while the parent reads the tests
                from ..resampling import weights_table

                conn.send(weights_table(*work))
                continue
            lang, labels, specs = work
            if formatter is None:
                from .formatting import Formatter

                formatter = Formatter(lang, labels)
            drawn.update(draw_charts(specs, formatter))
            if kind == "charts":
                return True
        return False

    # weights asked for already (a loaded machine slowed these imports) come before the rest
    if not serve(block=False):
        from .formatting import Formatter  # noqa: F401 - loaded while idle

        if not serve(block=True):
            return
    conn.send({k: (str(v) if v is not None else None) for k, v in drawn.items()})
    conn.close()
