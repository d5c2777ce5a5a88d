"""Shared figure style for the reports. Plot functions elsewhere take ``ax=None`` and return the ``ax``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

PALETTE = "colorblind"


def setup(context: str = "notebook") -> None:
    """Seaborn theme and PNG figures (embedded in the HTML, light enough to forward by mail)."""
    sns.set_theme(context=context, style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.figsize": (9, 4), "figure.dpi": 100, "savefig.bbox": "tight",
                         "axes.titleweight": "bold"})
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # outside IPython
        pass


def new_ax(ax=None, figsize=None):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax
