"""Languages of the reports: English (``en``) and Japanese (``ja``).

Three mechanisms, one per kind of text:

* **Prose** lives in the notebooks' Markdown cells, written once per language and tagged ``lang-en`` or
  ``lang-ja``; the runner drops the cells of the other language when it exports HTML (untagged cells are
  shown in both). Analysts in JupyterLab see both versions side by side.
* **Labels** produced by code (table headers, axis labels, legend entries, category names) go through
  :func:`t`, which looks the key up in ``locales/messages.yaml``. Metric names come from the metric
  registry (:mod:`engage_models.features.metrics`), never from this catalogue, so a metric is named once.
* **Counts** in a sentence say their noun once in the catalogue with both English forms,
  ``{n:# account|# accounts}`` (``#`` is the number): :func:`t` picks the singular for 1 (:func:`count`), as
  ``1 account`` and ``2 accounts``; Japanese has one form and writes ``{n}社``.
* **Numbers and dates** go through :func:`fmt_number`, :func:`fmt_pct` and :func:`fmt_date` so they read in
  the locale's usual form (``2026年11月27日`` in Japanese, ``27 Nov 2026`` in English).

Examples
--------
>>> t("account_id", "ja")
'顧客ID'
>>> t("no such key", "ja")      # unknown keys fall back to the key itself
'no such key'
>>> fmt_date("2026-11-27", "ja"), fmt_date("2026-11-27", "en")
('2026年11月27日', '27 Nov 2026')
"""

from __future__ import annotations

import functools
import string
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

LANGS = ("en", "ja")
_CATALOGUE = Path(__file__).resolve().parent / "locales" / "messages.yaml"


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    return lang


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    """Key -> {lang: text}. Keys are the English column or label names used in the code."""
    data = yaml.safe_load(_CATALOGUE.read_text(encoding="utf-8")) or {}
    return {str(k): {lang: str(v.get(lang, k)) for lang in LANGS} for k, v in data.items()}


def t(key: str, lang: str = "en", **fmt) -> str:
    """The text of ``key`` in ``lang`` (formatted with ``fmt``); the key itself when it is not translated.

    Metric column names are looked up in the metric registry first (it registers itself with
    :func:`register_labels` when the package is imported), so every label of a metric comes from the one place
    that defines it.
    """
    check_lang(lang)
    for source in _LABEL_SOURCES:
        text = source(key, lang)
        if text is not None:
            break
    else:
        text = catalogue().get(key, {}).get(lang, key)
    return _FORMATTER.format(text, **fmt) if fmt else text


def _count_text(n, spec: str = "") -> str:
    """A count as a sentence writes it: in ``spec`` when given, else a whole number with thousands separators and
    anything else as given."""
    if spec:
        return format(n, spec)
    return f"{n:,}" if isinstance(n, (int, np.integer)) and not isinstance(n, bool) else str(n)


def every_row(n: int) -> str:
    """The rows of a table that are all alike ("empty in {every_row(n)}"), said of one row as one: "the only row",
    "every one of the 2 rows" (English messages of the commands; the catalogue says it in each language).

    >>> every_row(1), every_row(1234)
    ('the only row', 'every one of the 1,234 rows')
    """
    return "the only row" if n == 1 else f"every one of the {n:,} rows"


def count(n, one: str, other: str | None = None, spec: str = "") -> str:
    """``n`` and its noun, singular when the number reads "1" and plural otherwise (``other``, default ``one`` +
    ``s``): "1 account", "2 accounts", "1,234 accounts", "1.0 days" (a count formatted before it came, "1", too).
    The catalogue says the same with ``{n:# account|# accounts}`` (see :func:`t`), or ``{n:,.0f:# account|#
    accounts}`` for a number format: the forms are whole phrases in which ``#`` is the number, so a verb can agree
    too ("# play is|# plays are"), and a bold number keeps its noun ("**#** account|**#** accounts").

    >>> count(1, "account"), count(0, "account"), count(1234, "account"), count("1", "reply", "replies")
    ('1 account', '0 accounts', '1,234 accounts', '1 reply')
    >>> count(1, "# play is", "# plays are"), t("run.days", "en", n=1), t("run.days", "en", n=30)
    ('1 play is', '1 day', '30 days')
    >>> count(0.8, "account", spec=",.0f"), count(1234.4, "account", spec=",.0f")
    ('1 account', '1,234 accounts')
    >>> _FORMATTER.format("{n:user|users}, {n:.1f:# day|# days}, {n:**#** row|**#** rows}", n=1)
    '1 user, 1.0 days, **1** row'

    A signed number is a count too: a change of one point, up or down, reads "+1 point", "-1 point"; any
    other number, a decimal one included, is plural ("+1.5 points", "+1.0 points").

    >>> [count(v, "point", spec="+.0f") for v in (1, -1, 1.4, 0, 2)], count("+1.5", "point")
    (['+1 point', '-1 point', '+1 point', '+0 points', '+2 points'], '+1.5 points')

    A form starting with ``=`` is the word alone, for a verb further on that agrees with a count said before it
    ("{n:# row|# rows} ... {n:=was|=were} left out"):

    >>> _FORMATTER.format("{n:# account|# accounts} {n:=has|=have} left", n=1), count(3, "=has", "=have")
    ('1 account has left', 'have')
    """
    number = _count_text(n, spec)
    form = one if number.strip().lstrip("+-−") == "1" else (other if other is not None else f"{one}s")
    if form.startswith("="):
        return form[1:]
    return form.replace("#", number) if "#" in form else f"{number} {form}"


class _Plurals(string.Formatter):
    """``str.format`` that reads a field's format ``one|other`` (or ``spec:one|other``) as the two forms of a count
    (:func:`count`)."""

    def format_field(self, value, format_spec):
        if "|" in format_spec:
            head, colon, rest = format_spec.partition(":")
            spec, forms = (head, rest) if colon and "|" not in head and "#" not in head else ("", format_spec)
            one, other = forms.split("|", 1)
            return count(value, one, other, spec)
        return super().format_field(value, format_spec)


_FORMATTER = _Plurals()


#: Functions ``(key, lang) -> text or None`` consulted before the catalogue (the metric registry registers one).
_LABEL_SOURCES: list = []


def register_labels(source) -> None:
    """Let ``source(key, lang)`` name keys before the catalogue does (the metric registry names its columns)."""
    if source not in _LABEL_SOURCES:
        _LABEL_SOURCES.append(source)


def relabel(df: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """``df`` with its column names translated (values untouched)."""
    return df.rename(columns={c: t(str(c), lang) for c in df.columns})


def markdown(text: str) -> str:
    """Text for ``IPython.display.Markdown``: dollar signs escaped (they would open LaTeX math). User text in it
    goes through :func:`md_text` first."""
    return text.replace("$", r"\$")


#: Characters that mean something in Markdown or HTML (or start a bare link: ``:``, ``/``), written as
#: character references by :func:`md_text`.
_MD_ACTIVE = {c: f"&#{ord(c)};" for c in "\\`*_{}[]()<>#+-.!|~:/$&\"'="}


#: Unicode's directional controls (embeddings, overrides, isolates, marks): in a name they reverse or reorder
#: how it reads ("\u202egnp.exe" shows as "exe.png"). Left out of what a report or message shows.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])


def plain(value) -> str:
    """``value`` as text without Unicode's directional controls (:data:`BIDI_CONTROLS`)."""
    return str(value).translate(BIDI_CONTROLS)


def md_text(value) -> str:
    """A user's value (a play's label, a category level, a folder's name) for a sentence shown as Markdown:
    every character Markdown or HTML would act on written as a character reference, so it reads as typed and
    does nothing (``<script>``, ``[x](javascript:...)``, ``**``, a backtick closing a code span, a bare
    ``http://`` link, ``$...$`` math). Line breaks become spaces; directional controls are left out.

    >>> md_text("Rescue <b>call</b> [x](javascript:1)")
    'Rescue &#60;b&#62;call&#60;&#47;b&#62; &#91;x&#93;&#40;javascript&#58;1&#41;'
    """
    text = " ".join(plain(value).splitlines())
    return "".join(_MD_ACTIVE.get(c, c) for c in text)


def fmt_number(x, lang: str = "en", decimals: int = 0) -> str:
    """Thousands separators and fixed decimals; an empty string for a missing value."""
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return ""
    return f"{x:,.{decimals}f}"


def fmt_pct(x, lang: str = "en", decimals: int = 1, signed: bool = False) -> str:
    """``x`` given in percent points (12.3 -> '12.3%')."""
    if x is None or pd.isna(x):
        return ""
    return f"{x:{'+' if signed else ''},.{decimals}f}%"


def fmt_money(x, lang: str = "en", currency: str = "USD", decimals: int | None = None) -> str:
    """An amount in ``currency`` (ISO code, or a symbol such as ``$``) as readers of ``lang`` write it."""
    from .money import fmt_money as _fmt

    return _fmt(x, lang, currency, decimals)


def fmt_date(ts, lang: str = "en", month_only: bool = False) -> str:
    """A date as readers of ``lang`` write it."""
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return ""
    ts = pd.Timestamp(ts)
    return t("date.month" if month_only else "date.day", lang, y=ts.year, m=ts.month, d=ts.day, mon=ts.strftime("%b"))


def fmt_datetime(ts, lang: str = "en") -> str:
    """A date with its time (hours and minutes): ``27 Nov 2026 16:04``, ``2026年11月27日 16:04``."""
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return ""
    ts = pd.Timestamp(ts)
    return f"{fmt_date(ts, lang)} {ts:%H:%M}"


def fmt_interval(est, lo, hi, lang: str = "en", decimals: int = 1, unit: str = "", *, signed: bool = False,
                 n: int | None = None, fmt=None, label: bool = True) -> str:
    """An estimate with its 95% interval, in the one form every report uses.

    ``fmt`` formats each number (default: ``decimals`` places, ``+`` when ``signed``, then ``unit``); ``n`` adds
    the sample size; ``label=False`` drops the words "95% CI" (for a column whose header says it). Without an
    interval (a missing bound) only the estimate is shown. An infinite bound (a survival curve that never falls
    to its median within the data) is said in words, "2.0 or more", not as ``∞`` (「15.8〜∞」 read as a typo).

    >>> fmt_interval(12.345, 10.1, 14.25, "en")
    '12.3 (95% CI 10.1 to 14.2)'
    >>> fmt_interval(5, -2, 12, "en", decimals=0, signed=True, n=1234)
    '+5 (95% CI -2 to +12, n=1,234)'
    >>> fmt_interval(3.0, 2.0, float("inf"), "en")
    '3.0 (95% CI 2.0 or more)'

    A bound that is not 0 but would round to it gets up to two more decimals: "+20 (95% CI +0 to +39), p =
    0.052" read as an interval clear of zero; it is "-0.4 to +39". The estimate keeps the column's decimals (an NPS
    of 0.2 among whole numbers reads "+0", not "+0.2"), and a number that reads 0 never reads "-0".

    >>> fmt_interval(20, -0.4, 39, "en", decimals=0, signed=True)
    '+20 (95% CI -0.4 to +39)'
    >>> fmt_interval(20, -0.004, 39, "en", decimals=0, signed=True)
    '+20 (95% CI +0 to +39)'
    >>> fmt_interval(0.2, -8.3, 8.6, "en", decimals=0, signed=True), fmt_interval(-0.3, -9, 8, "en", decimals=0)
    ('+0 (95% CI -8 to +9)', '0 (95% CI -9 to 8)')
    """
    if est is None or pd.isna(est):
        return ""

    def number(v, bound: bool = True) -> str:
        if np.isinf(v):  # an estimate beyond the data (its bounds are said in words)
            return "∞" if v > 0 else "-∞"
        if fmt is not None:
            return fmt(v)
        places = decimals
        while bound and v != 0 and round(abs(v), places) == 0 and places < decimals + 2:
            places += 1
        if round(abs(v), places) == 0:  # still zero two places on: zero it is, at the column's own decimals
            places = decimals
        return f"{round(v, places) + 0.0:{'+' if signed else ''},.{places}f}{unit}"  # + 0.0: no "-0"

    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi) or (np.isinf(lo) and np.isinf(hi)) \
            or hi == -np.inf or lo == np.inf:  # no interval, or none that means anything
        return number(est, bound=False)
    key = "ci.range" if not label else "ci.interval_n" if n is not None else "ci.interval"
    if np.isinf(hi) or np.isinf(lo):  # one side open: "2.0 or more", "up to 5.0"
        key += "_from" if np.isinf(hi) else "_upto"
    return t(key, lang, est=number(est, bound=False), lo=number(lo) if np.isfinite(lo) else "",
             hi=number(hi) if np.isfinite(hi) else "", n=f"{int(n):,}" if n is not None else "")


def fmt_p(p: float) -> str:
    """A p-value as the reports write it: ``< 0.001`` or three decimals (not ``3.45e-07``)."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_is(p: float) -> str:
    """``p < 0.001`` or ``p = 0.206``: a p-value with its sign."""
    return f"p {fmt_p(p)}" if p < 0.001 else f"p = {fmt_p(p)}"


def fmt_pp(x, lang: str = "en", decimals: int = 1) -> str:
    """A difference of two percentages in percentage points: ``+1.2 pp`` / ``+1.2ポイント``; a difference that
    rounds to nothing is ``+0.0 pp``, not a fall of ``-0.0 pp`` (an NRR of 100.0% in two months said so).

    >>> fmt_pp(1.23), fmt_pp(-0.04), fmt_pp(-0.06)
    ('+1.2 pp', '+0.0 pp', '-0.1 pp')
    """
    if x is None or pd.isna(x):
        return ""
    return t("unit.pp", lang, value=f"{round(float(x), decimals) + 0.0:+.{decimals}f}")
