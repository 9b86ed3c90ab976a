"""Charts of the report, drawn by matplotlib's SVG backend and inlined as static SVG.

No script and no external request: each chart is an <svg> element inside the HTML (and so in
the PDF). Text stays real <text> elements (svg.fonttype "none") so a browser can measure it and
a reader can select it. Legends sit below the axes, inside the figure's tight bounding box, so
they never cover a curve nor get clipped. Numbers on the axes come from the report's Formatter
(babel), so a French report reads "15 min", "50 %" and "1 j".
"""

from __future__ import annotations

import io
import math
import re

import matplotlib
from markupsafe import Markup

matplotlib.use("Agg")  # no GUI, whatever the environment says

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, MultipleLocator, NullLocator  # noqa: E402

PALETTE = ("#1f4e79", "#c0504d", "#4f8a3c", "#d08c1f", "#7b4f9d", "#2e8b9a", "#8c564b")
RC = {"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10,
      "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8,
      "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#6b7785",
      "axes.grid": True, "grid.color": "#e3e3e3", "grid.linewidth": 0.6, "axes.axisbelow": True}
WIDTH_IN = 7.0
_ID = re.compile(r'\bid="([^"]+)"')


def _svg(fig: Figure, name: str, title: str) -> Markup:
    """Return the figure as an inline <svg> whose ids are unique to `name` (several per page)."""
    buf = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": name}):
        # the constrained layout already keeps every label inside the figure: no second
        # "tight" drawing pass (it doubled the time of each chart)
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    ids = set(_ID.findall(text))
    text = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{name}-{m.group(1)})" if m.group(1) in ids else m.group(0), text)
    text = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#{name}-{m.group(1)}"', text)
    # scale with the page: keep the viewBox, let CSS give the width
    text = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r'<svg\1', text, count=1)
    from markupsafe import escape

    label = escape(title)
    text = text.replace("<svg", f'<svg class="chart" role="img" aria-label="{label}" data-chart="{name}"', 1)
    # The SVG is matplotlib's own output: labels it drew went through its XML escaping.
    return Markup(text)  # noqa: S704


def _figure(height_in: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(WIDTH_IN, height_in), layout="constrained")


def _legend_below(fig: Figure, ax, n: int, ncol: int | None = None) -> None:
    # "outside" with the constrained layout: the axes shrink to make room, nothing overlaps
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=ncol or min(n, 3),
               frameon=False, handlelength=1.6, columnspacing=1.6)


def km_chart(name: str, curves: dict[str, tuple], window_h: float, title: str, x_label: str, y_label: str,
             f) -> Markup:
    """Return step curves of the share answered (Kaplan-Meier) against the delay, one per series."""
    with matplotlib.rc_context(RC):
        fig = _figure(3.3)
        ax = fig.add_subplot()
        lo = 0.25
        span = math.log(window_h / lo)
        for i, (label, (ts, fs)) in enumerate(curves.items()):
            xs, ys = [lo], [0.0]
            last, last_bucket = 0.0, -1
            for t, v in zip(ts, fs, strict=True):
                # thousands of steps draw the same curve as one step per 1/600 of the width
                bucket = int(600 * math.log(max(float(t), lo) / lo) / span)
                if bucket == last_bucket and xs:
                    ys[-1] = float(v)
                    last = float(v)
                    continue
                last_bucket = bucket
                if t > window_h:
                    break
                xs.append(max(float(t), lo))
                ys.append(float(v))
                last = float(v)
            xs.append(window_h)
            ys.append(last)
            ax.step(xs, ys, where="post", color=PALETTE[i % len(PALETTE)], linewidth=1.8,
                    label=f"{label} : {f.pct(last)}" if f.lang == "fr" else f"{label}: {f.pct(last)}")
        ax.set_xscale("log")
        ax.set_xlim(lo, window_h)
        ax.set_ylim(0, 1.02)
        ticks = [t for t in (0.25, 1, 4, 24, 72, 168, 336, 720) if t <= window_h]
        if window_h not in ticks and window_h / ticks[-1] > 1.6:
            ticks.append(window_h)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f.axis_hours(v)))
        ax.yaxis.set_major_locator(MultipleLocator(0.25))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f.pct(v)))
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        _legend_below(fig, ax, len(curves))
        return _svg(fig, name, title)


def grouped_bars(name: str, groups: list[str], series: dict[str, list[float]], title: str, y_label: str, f,
                 *, share: bool = True, vmax: float | None = None, average: float | None = None,
                 average_label: str = "") -> Markup:
    """Return vertical grouped bars with a y axis: one group per label, one bar per series.

    `share`: values are 0..1 shares shown as percentages; else plain numbers up to `vmax`.
    """
    with matplotlib.rc_context(RC):
        n_groups, n_series = max(len(groups), 1), max(len(series), 1)
        fig = _figure(3.2)
        ax = fig.add_subplot()
        width = 0.8 / n_series
        for si, (label, values) in enumerate(series.items()):
            xs = [gi - 0.4 + width * (si + 0.5) for gi in range(len(groups))]
            vals = [0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]
            ax.bar(xs, vals, width=width * 0.92, color=PALETTE[si % len(PALETTE)], label=label)
        if average is not None and average == average:
            ax.axhline(average, color="#b8860b", linewidth=1.2, linestyle="--", label=average_label)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups)
        ax.set_xlim(-0.6, n_groups - 0.4)
        ax.grid(axis="x", visible=False)
        top = 1.0 if share else (vmax or 100.0)
        ax.set_ylim(0, top * 1.02)
        if share:
            ax.yaxis.set_major_locator(MultipleLocator(0.25))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f.pct(v)))
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f.num(v, 0)))
        ax.set_ylabel(y_label)
        handles = len(series) + (1 if average is not None else 0)
        if handles > 1:
            _legend_below(fig, ax, handles, ncol=min(handles, 4))
        return _svg(fig, name, title)


def ranked_bars(name: str, labels: list[str], values: list[float], title: str, x_label: str, f, *,
                average: float | None = None, average_label: str = "") -> Markup:
    """Return horizontal bars, best first (sector indices), with the overall average as a line."""
    with matplotlib.rc_context(RC):
        fig = _figure(0.9 + 0.32 * max(len(labels), 1))
        ax = fig.add_subplot()
        ys = list(range(len(labels)))[::-1]
        ax.barh(ys, values, color=PALETTE[0], height=0.62)
        for y, v in zip(ys, values, strict=True):
            ax.text(v + 0.8, y, f.num(v, 1), va="center", fontsize=8)
        ax.set_yticks(ys)
        ax.set_yticklabels(labels)
        ax.set_xlim(0, max([*values, 1.0]) * 1.15)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f.num(v, 0)))
        ax.set_xlabel(x_label)
        if average is not None and average == average:
            ax.axvline(average, color="#b8860b", linewidth=1.2, linestyle="--", label=average_label)
            _legend_below(fig, ax, 1)
        return _svg(fig, name, title)
