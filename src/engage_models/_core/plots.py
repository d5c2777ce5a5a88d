"""Shared figure style for the reports. Plot functions elsewhere take ``ax=None`` and return the ``ax``.

Japanese text (labels in ``lang="ja"`` reports, Japanese company names and comments in either language)
is drawn with IPAexGothic, which ships inside the PyPI package ``matplotlib-fontja``: nothing is fetched
and no system font is needed. Matplotlib falls back glyph by glyph along ``font.family`` (set to the list
of families: the generic ``sans-serif`` resolves to one font only), so Latin text keeps DejaVu Sans in
English reports and Japanese text never turns into empty boxes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib import font_manager

from .i18n import check_lang, fmt_date

PALETTE = "colorblind"
JAPANESE_FONT = "IPAexGothic"
BAND_COLOURS = {"green": "#009e73", "yellow": "#e69f00", "red": "#d55e00"}


def japanese_font_path() -> str:
    """Path of the bundled Japanese font file (registered with matplotlib on first use)."""
    from matplotlib_fontja import get_font_ttf_path

    return get_font_ttf_path()


def _register_japanese_font() -> None:
    if not any(f.name == JAPANESE_FONT for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(japanese_font_path())


def setup(lang: str = "en", context: str = "notebook") -> None:
    """Seaborn theme, fonts for ``lang`` and PNG figures (embedded in the HTML, light enough to mail)."""
    check_lang(lang)
    sns.set_theme(context=context, style="whitegrid", palette=PALETTE)
    _register_japanese_font()
    latin = "DejaVu Sans"
    fonts = [JAPANESE_FONT, latin] if lang == "ja" else [latin, JAPANESE_FONT]
    plt.rcParams.update({
        "figure.figsize": (9, 4), "figure.dpi": 100, "savefig.bbox": "tight", "axes.titleweight": "bold",
        # the families themselves, not "sans-serif": matplotlib falls back glyph by glyph along font.family
        # only; the generic family resolves to its first installed font, and Japanese in English reports
        # would turn into empty boxes
        "font.family": fonts,
        "font.sans-serif": fonts,
        "axes.unicode_minus": False,  # IPAexGothic has no U+2212
        # text is text: a plan "Pro $$" or a label "$5 to $10" was parsed as math, and invalid math stopped the
        # report (matplotlib's ParseException)
        "text.parse_math": False,
    })
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # outside IPython
        pass


def new_ax(ax=None, figsize=None):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def error_bars(estimate, low, high) -> np.ndarray:
    """Matplotlib's ``xerr``/``yerr`` (shape ``(2, n)``) for an estimate and its interval, never negative.

    A bootstrap percentile interval need not contain its point estimate (a skewed statistic on few accounts),
    and an interval end can differ from its estimate by rounding noise (a Wilson bound of 1e-15 at 0 events):
    matplotlib refuses any negative length, so the reach on such a side is 0; a missing interval draws no bar.

    >>> error_bars([0.5, 0.0], [0.4, 1e-15], [0.7, 0.1]).round(3).tolist()
    [[0.1, 0.0], [0.2, 0.1]]
    """
    est, lo, hi = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (estimate, low, high))
    return np.nan_to_num(np.vstack([est - lo, hi - est]), nan=0.0).clip(0)


def date_axis(ax, lang: str = "en", max_ticks: int = 8):
    """At most ``max_ticks`` date ticks, labelled as the locale writes a month (``Jan 2025``, ``2025年1月``) where
    every tick is a month's first day, else as a date (a span of a few months got ticks every half month, each
    labelled with its month: ``2025年5月 2025年5月 2025年6月``)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=max_ticks)
    ax.xaxis.set_major_locator(locator)

    def label(v, _pos):
        ticks = [mdates.num2date(x) for x in locator()]
        months = all(d.day == 1 and d.hour == 0 for d in ticks)
        return fmt_date(mdates.num2date(v), lang, month_only=months)

    ax.xaxis.set_major_formatter(label)
    return ax
