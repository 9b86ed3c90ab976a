"""Inline SVG charts drawn from the analysis (no script, no external request)."""

from __future__ import annotations

import math

from markupsafe import Markup, escape

PALETTE = ("#1f4e79", "#c0504d", "#4f8a3c", "#d08c1f", "#7b4f9d", "#2e8b9a", "#8c564b")


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    # Every text piece in `body` went through escape() in _text(); the rest is numbers.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>'
        + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, s: str, anchor: str = "start", size: int = 11, cls: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'class="{cls}">{escape(s)}</text>')


def km_chart(curves: dict[str, tuple], window_h: float, title: str, x_label: str, pct) -> Markup:
    """Return step curves of share answered (0-100 %) against hours on a log-like axis, per series."""
    w, h, left, right, top, bottom = 640, 300, 48, 130, 14, 36
    pw, ph = w - left - right, h - top - bottom
    ticks = [t for t in (0.25, 1, 4, 24, 72, 168, 336, window_h) if t <= window_h]

    def x(t: float) -> float:  # log scale from 15 minutes to the window
        t = min(max(t, 0.25), window_h)
        return left + pw * math.log(t / 0.25) / math.log(window_h / 0.25)

    def y(f: float) -> float:
        return top + ph * (1 - f)

    body = [f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>']
    for f in (0, 0.25, 0.5, 0.75, 1):
        body.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(f):.1f}" y2="{y(f):.1f}" stroke="#e3e3e3"/>')
        body.append(_text(left - 4, y(f) + 4, pct(f), "end", 10))
    for t in sorted(set(ticks)):
        body.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + ph}" stroke="#eee"/>')
        body.append(_text(x(t), top + ph + 14, f"{t:g} h", "middle", 10))
    body.append(_text(left + pw / 2, h - 4, x_label, "middle", 10))
    for i, (name, (ts, fs)) in enumerate(curves.items()):
        color = PALETTE[i % len(PALETTE)]
        pts = [(x(0.25), y(0))]
        prev = 0.0
        for t, f in zip(ts, fs, strict=True):
            if t > window_h:
                break
            pts += [(x(t), y(prev)), (x(t), y(f))]
            prev = f
        pts.append((x(window_h), y(prev)))
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        body.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        ly = top + 14 + 16 * i
        body.append(f'<rect x="{left + pw + 10}" y="{ly - 9}" width="12" height="4" fill="{color}"/>')
        body.append(_text(left + pw + 26, ly - 4, f"{name} ({pct(prev)})", size=10))
    return _svg(w, h, body, title)


def grouped_bars(groups: list[str], series: dict[str, list[float]], title: str, fmt, vmax: float = 1.0) -> Markup:
    """Return vertical grouped bars: one group per label, one bar per series (values 0..vmax)."""
    w, h, left, top, bottom = 640, 260, 40, 14, 60
    pw, ph = w - left - 10, h - top - bottom
    n_series = max(len(series), 1)
    gw = pw / max(len(groups), 1)
    bw = min(28.0, gw * 0.8 / n_series)
    body = [f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#999"/>']
    for gi, g in enumerate(groups):
        gx = left + gi * gw + (gw - bw * n_series) / 2
        for si, (_name, values) in enumerate(series.items()):
            v = values[gi]
            v = 0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else v
            bh = ph * min(v / vmax, 1.0)
            bx = gx + si * bw
            body.append(f'<rect x="{bx:.1f}" y="{top + ph - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" '
                        f'fill="{PALETTE[si % len(PALETTE)]}"/>')
            body.append(_text(bx + bw / 2 - 1, top + ph - bh - 3, fmt(v), "middle", 8))
        body.append(_text(left + gi * gw + gw / 2, top + ph + 14, g, "middle", 10))
    for si, name in enumerate(series):
        lx = left + si * 120
        body.append(f'<rect x="{lx}" y="{h - 22}" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>')
        body.append(_text(lx + 14, h - 13, name, size=10))
    return _svg(w, h, body, title)
