"""Locale-aware text of the report: numbers, shares, delays, dates, and the names of things.

Every value a reader sees goes through here, so a French report never shows "0.25 h", "bank"
or "mon-fri": numbers and dates by babel, names from the label catalogue (reports/i18n).
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime
from functools import lru_cache

import numpy as np
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

LOCALES = {"fr": "fr_FR", "en": "en_GB"}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(r"^\s*([a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+(.+?)\s*$", re.I)


def missing(v) -> bool:
    """Return True for None, NaN and pandas' missing values."""
    if v is None:
        return True
    if type(v) is float:  # the common case, without pandas' dispatch (a report asks 100,000 times)
        return v != v
    if type(v) in (int, str, bool):
        return False
    if isinstance(v, float):  # numpy's float64 too: NaN is the only missing value
        return v != v
    # pandas is not imported here: the chart process formats without it (a pandas value cannot
    # exist in a process that has not loaded pandas)
    pd = sys.modules.get("pandas")
    try:
        return bool(v != v) if pd is None else bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _rounds_to_zero(v, digits: int) -> bool:
    """Return round(v, digits) == 0, as Python's round answers for `v`'s own type.

    A numpy float rounds as numpy does (scaled by 10**digits, then to the nearest integer, ties
    to even): it is 0 exactly when the scaled value is at most one half; asked as arithmetic,
    since numpy's round of one scalar costs as much as formatting a whole row.
    """
    if type(v) is np.float64 and 0 <= digits < 9:
        return abs(float(v) * _POWERS_OF_TEN[digits]) <= 0.5
    return round(v, digits) == 0


_POWERS_OF_TEN = tuple(10.0 ** d for d in range(9))  # numpy's table of exact powers


class Formatter:
    """Formats figures and names for one report language."""

    def __init__(self, lang: str, labels: dict) -> None:
        self.lang = lang
        self.L = labels
        self.locale = Locale.parse(LOCALES.get(lang, lang))
        symbols = self.locale.number_symbols.get("latn", self.locale.number_symbols)
        self._symbols = ((symbols["group"], symbols["decimal"], symbols["minusSign"])
                         if all(k in symbols for k in ("group", "decimal", "minusSign")) else None)
        # A report formats tens of thousands of figures drawn from few distinct values.
        self._num = lru_cache(maxsize=65536)(self._num_uncached)
        self._pct = lru_cache(maxsize=4096)(self._pct_uncached)
        self._date = lru_cache(maxsize=4096)(self._date_uncached)

    # numbers ---------------------------------------------------------------------------
    def _num_uncached(self, v: float, digits: int) -> str:
        # babel's "#,##0.0" pattern with the locale's symbols, built directly (10x faster; `v` is
        # already rounded, so Python's and babel's rounding cannot differ)
        if self._symbols is None:
            return format_decimal(v, format="#,##0." + "0" * digits if digits else "#,##0", locale=self.locale)
        text = f"{v + 0.0 if v else 0.0:,.{digits}f}"  # no "-0,0"
        group, decimal, minus = self._symbols
        return text.translate({ord(","): group, ord("."): decimal, ord("-"): minus})

    def _pct_uncached(self, v: float, digits: int) -> str:
        return format_percent(v, format="#,##0." + "0" * digits + " %" if digits else None, locale=self.locale)

    def num(self, v, digits: int = 1) -> str:
        """Return `v` with `digits` decimals in the report's locale ("–" when missing)."""
        if type(v) is float:  # most figures: missing() and float() answer at once for them
            return "–" if v != v else self._num(round(v, digits), digits)
        if missing(v):
            return "–"
        return self._num(round(float(v), digits), digits)

    def signed(self, v, digits: int = 1) -> str:
        """Return `v` with an explicit sign (a change or a lead)."""
        if missing(v):
            return "–"
        text = self.num(abs(v), digits)
        if _rounds_to_zero(v, digits):
            return text
        return ("+" if v > 0 else "−") + text

    def pct(self, v, digits: int = 0) -> str:
        """Return a share 0..1 as a percentage ("–" when missing)."""
        if type(v) is float:
            return "–" if v != v else self._pct(round(v, 2 + digits), digits)
        if missing(v):
            return "–"
        return self._pct(round(float(v), 2 + digits), digits)

    def hours(self, v) -> str:
        """Return a delay in hours: minutes under an hour, hours beyond ("–" when missing)."""
        if type(v) is not float and missing(v):
            return "–"
        v = float(v)
        if v != v:
            return "–"
        if v < 1:
            return f"{self.num(v * 60, 0)}\u00a0min"
        return f"{self.num(v, 1)}\u00a0h"

    def median(self, v) -> str:
        """Return a Kaplan-Meier median: "not reached" when fewer than half were ever answered."""
        return self.L["not_reached"] if missing(v) else self.hours(v)

    def axis_hours(self, v: float) -> str:
        """Return a tick label of a delay axis (15 min, 1 h, 1 d...)."""
        if v < 1:
            return f"{self.num(v * 60, 0)}\u00a0min"
        if v < 48:
            return f"{self.num(v, 0)}\u00a0h"
        return f"{self.num(v / 24, 0)}\u00a0{self.L['day_short']}"

    def ordinal(self, n: int) -> str:
        """Return a rank as the language writes it (1er, 2e / 1st, 2nd)."""
        if self.lang == "fr":
            return "1er" if n == 1 else f"{n}e"
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}"

    # dates -----------------------------------------------------------------------------
    def _date_uncached(self, d: date, fmt: str) -> str:
        return format_date(d, format=fmt, locale=self.locale)

    def date(self, d, fmt: str = "long") -> str:
        """Return a date (or the date of a datetime) in the report's locale."""
        if missing(d):
            return "–"
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(d, pd.Timestamp):
            d = d.to_pydatetime()
        return self._date(d.date() if isinstance(d, datetime) else d, fmt)

    def period(self, start, end) -> str:
        """Return "from 2 March to 20 March 2026"-style text."""
        if missing(start) or missing(end):
            return "–"
        return self.L["period"].format(start=self.date(start), end=self.date(end))

    # names -----------------------------------------------------------------------------
    def channel(self, c: str) -> str:
        return self.L.get("ch_" + str(c), str(c))

    def sector(self, s: str) -> str:
        return self.L.get("sector_" + str(s), str(s))

    def kind(self, k: str) -> str:
        return self.L.get("kind_" + str(k), str(k).replace("_", " "))

    def scenario_names(self, analysis) -> dict[str, str]:
        """Return scenario key -> its title in the report's language.

        The rule the methodology states: the scenario file's `titles:` entry for this language,
        else the report catalogue's translation of a library scenario (`scenario_titles`), else
        the scenario's own title, in the language its request was sent in.
        """
        catalogue = self.L.get("scenario_titles") or {}
        tests = analysis.tests
        # a column converted at once (iterating Arrow strings one by one costs 20 times more)
        keys, titles = (c.to_numpy(dtype=object).tolist() if hasattr(c, "to_numpy") else c
                        for c in (tests["scenario"], tests["scenario_title"])) if len(tests) else ((), ())
        own = dict(zip(keys, titles, strict=True))
        return {k: (analysis.scenario_titles.get(k) or {}).get(self.lang) or catalogue.get(k) or t
                for k, t in own.items()}

    def key_point_names(self, analysis) -> dict[str, dict[str, str]]:
        """Return scenario key -> {a key point's own label: its label in the report's language}.

        The rule the fiches state (key_point_labels_rule), as for scenario titles: the scenario
        file's `labels:` entry for this language, else the report catalogue's translation of a
        library scenario's key point (`key_point_labels`), else its own label.
        """
        catalogue = self.L.get("key_point_labels") or {}
        return {scen: {label: own.get(self.lang) or (catalogue.get(scen) or {}).get(kp_id) or label
                       for kp_id, label, own in kps}
                for scen, kps in getattr(analysis, "key_points", {}).items()}

    def criterion(self, c: str) -> str:
        return self.L.get("crit_" + str(c), str(c))

    def language(self, code: str) -> str:
        return Locale.parse(str(code)).get_display_name(self.locale) if code else "–"

    def weekday(self, i: int) -> str:
        return self.locale.days["format"]["wide"][i]

    def days(self, spec: str) -> str | None:
        """Return "mon-fri,sat" as "du lundi au vendredi, samedi" (None when not understood)."""
        out = []
        for chunk in spec.lower().split(","):
            a, _, b = (x.strip() for x in chunk.partition("-"))
            if a not in _DAYS or (b and b not in _DAYS):
                return None
            out.append(self.L["day_range"].format(start=self.weekday(_DAYS.index(a)), end=self.weekday(_DAYS.index(b)))
                       if b else self.weekday(_DAYS.index(a)))
        return ", ".join(out)

    def time_span(self, span: str) -> str:
        """Return "09:00-12:00" as "9 h – 12 h" (fr) or "9:00–12:00" (en)."""
        a, _, b = span.strip().partition("-")
        try:
            return self.L["time_range"].format(start=self._clock(a), end=self._clock(b))
        except ValueError:
            return span

    def opening_hours(self, text: str) -> str:
        """Return "mon-fri 09:00-18:00; sat 10:00-12:00" as words of the report's language."""
        text = (text or "").strip()
        if text.lower() in ("24/7", "always"):
            return self.L["open_always"]
        parts = []
        for rule in text.split(";"):
            m = _RULE.match(rule)
            days = self.days(m.group(1)) if m else None
            if days is None:
                return text
            spans = [self.time_span(s) for s in m.group(2).split(",")]
            parts.append(f"{days} {self.L['and'].join(spans)}")
        return " ; ".join(parts) if self.lang == "fr" else "; ".join(parts)

    def _clock(self, hhmm: str) -> str:
        h, _, m = hhmm.strip().partition(":")
        if self.lang == "fr":
            return f"{int(h)}\u00a0h" + (f"{m}" if m and m != "00" else "")
        return f"{int(h)}:{m or '00'}"

