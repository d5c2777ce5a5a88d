"""Net Promoter Score: categories, the score with its interval, comparisons, and per-account views.

Definitions
-----------
An answer ``s`` to "How likely are you to recommend us?" on 0-10 is a **promoter** (9-10), a **passive**
(7-8) or a **detractor** (0-6). With ``P`` promoters and ``D`` detractors among ``n`` answers,
``p = P / n`` and ``d = D / n``:

.. math:: \\mathrm{NPS} = 100 (p - d) \\in [-100, 100]

(100 answers with 30 promoters and 50 detractors give -20). Each answer contributes +1, 0 or -1, so the
NPS is 100 times the mean of a trinomial variable whose variance is ``p + d - (p - d)^2``.

Intervals
---------
``wald``
    ``NPS +- z * 100 sqrt([p + d - (p - d)^2] / n)``. Accurate at large ``n``; collapses to a point when
    every answer falls in one category (n = 5 promoters gives 100 to 100) and undercovers at small ``n``.
``adjusted`` (default)
    The adjusted-Wald interval of Rocks (2016, *The American Statistician* 70(4)), as popularised by
    Sauro and Lewis: add 3/4 to the promoters, 3/4 to the detractors and 3 to ``n``
    (``p~ = (P + 3/4) / (n + 3)``, ``d~ = (D + 3/4) / (n + 3)``), compute the Wald interval around
    ``100 (p~ - d~)`` with ``n + 3``, and truncate the bounds to [-100, 100]. At n = 5 all promoters it
    gives 17.5 to 100. Exact enumeration of the trinomial shows about nominal coverage from n = 5 (see
    the tests); the reported estimate is still the plain NPS.

The difference between two independent samples (two waves, two segments) is tested with a pooled
z-statistic, ``z = (NPS_a - NPS_b) / (100 sqrt(v0 (1/n_a + 1/n_b)))`` with ``v0`` the trinomial variance of
the pooled sample (the variance under "same distribution"), and its interval is the unpooled Wald
interval (``wald``) or the same with pseudo-counts added to each sample (``adjusted``, truncated to
[-200, 200]).

Out-of-range answers are quarantined by ingest; these functions raise on them and never clip.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .._core.i18n import fmt_interval, fmt_number, t
from .._core.plots import BAND_COLOURS, date_axis, new_ax
from .._core.stats import two_sided_p, z_value

log = logging.getLogger(__name__)

PROMOTER_MIN, PASSIVE_MIN = 9, 7
CATEGORIES = ("detractor", "passive", "promoter")
CATEGORY_COLOURS = {"detractor": BAND_COLOURS["red"], "passive": "#999999", "promoter": BAND_COLOURS["green"]}
METHODS = ("wald", "adjusted")
#: Cells with fewer answers than this are flagged ``small_n`` (a parameter of every table function).
MIN_N = 30


# ----------------------------------------------------------------------------------------- categories
def _check_scores(s: pd.Series) -> pd.Series:
    s = pd.to_numeric(s, errors="raise").astype(float)
    bad = s.notna() & ((s < 0) | (s > 10) | (s != np.floor(s)))
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} NPS answers are not whole numbers in 0-10 (e.g. {s[bad].iloc[0]!r}): "
            "ingest quarantines such rows; they are never clipped"
        )
    return s


def nps_category(scores) -> pd.Series:
    """``'promoter'`` (9-10), ``'passive'`` (7-8) or ``'detractor'`` (0-6) for each 0-10 answer.

    Returns an ordered categorical (detractor < passive < promoter); missing answers stay missing.

    Raises
    ------
    ValueError
        An answer is outside 0-10 or not a whole number.
    """
    s = _check_scores(pd.Series(scores))
    cat = np.select([s >= PROMOTER_MIN, s >= PASSIVE_MIN, s >= 0], ["promoter", "passive", "detractor"], "")
    out = pd.Series(pd.Categorical(np.where(s.isna(), None, cat), categories=CATEGORIES, ordered=True),
                    index=s.index)
    return out


def category_of_mean(mean_scores) -> pd.Series:
    """Category of an account's *mean* answer (>= 9 promoter, >= 7 passive, else detractor)."""
    m = pd.Series(mean_scores, dtype=float)
    cat = np.select([m >= PROMOTER_MIN, m >= PASSIVE_MIN], ["promoter", "passive"], "detractor")
    return pd.Series(pd.Categorical(np.where(m.isna(), None, cat), categories=CATEGORIES, ordered=True),
                     index=m.index)


# ----------------------------------------------------------------------------------------- estimation
def nps_interval(promoters, detractors, n, method: str = "adjusted", level: float = 0.95):
    """NPS and its interval from counts (scalars or arrays): ``(nps, low, high)`` on -100..100.

    See the module docstring for the ``wald`` and ``adjusted`` formulas. NaN where ``n`` is 0.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    P, D, n = (np.asarray(x, dtype=float) for x in (promoters, detractors, n))
    z = z_value(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = 100 * (P - D) / n
        if method == "adjusted":
            P, D, n = P + 0.75, D + 0.75, n + 3
        p, d = P / n, D / n
        centre = 100 * (p - d)
        half = z * 100 * np.sqrt(np.maximum(p + d - (p - d) ** 2, 0) / n)
        lo, hi = centre - half, centre + half
        if method == "adjusted":
            lo, hi = np.clip(lo, -100, 100), np.clip(hi, -100, 100)
    return est, lo, hi


@dataclass(frozen=True)
class NPSEstimate:
    """An NPS with its counts and interval; renders as one escaped line in notebooks."""

    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float
    ci_low: float
    ci_high: float
    method: str = "adjusted"
    level: float = 0.95

    def text(self, lang: str = "en") -> str:
        """'NPS 12.3 (95% CI ...) · n = 250' in ``lang``."""
        return (f"{t('nps', lang)} {fmt_interval(self.nps, self.ci_low, self.ci_high, lang)} · "
                f"{t('n', lang)} = {fmt_number(self.n, lang)}")

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.text())}</p>"


def nps(scores, method: str = "adjusted", level: float = 0.95) -> NPSEstimate:
    """NPS of a set of 0-10 answers with its interval.

    Examples
    --------
    >>> est = nps([10] * 30 + [7] * 20 + [3] * 50)
    >>> est.nps, est.n
    (-20.0, 100)
    """
    cat = nps_category(pd.Series(scores)).dropna()
    counts = cat.value_counts()
    P, Pa, D = (int(counts.get(c, 0)) for c in ("promoter", "passive", "detractor"))
    est, lo, hi = nps_interval(P, D, len(cat), method, level)
    return NPSEstimate(len(cat), P, Pa, D, float(est), float(lo), float(hi), method, level)


def _counts(df: pd.DataFrame, by: list[str], score: str) -> pd.DataFrame:
    cat = nps_category(df[score])
    frame = df[by].assign(_cat=cat.astype(object)).dropna(subset=["_cat"])
    wide = (frame.groupby(by + ["_cat"], observed=True, dropna=False).size().unstack("_cat", fill_value=0)
            .reindex(columns=["promoter", "passive", "detractor"], fill_value=0))
    wide.columns = ["promoters", "passives", "detractors"]
    wide.columns.name = None
    return wide.reset_index()


def nps_table(df: pd.DataFrame, by: str | Sequence[str] | None = None, *, score: str = "score",
              method: str = "adjusted", level: float = 0.95, min_n: int = MIN_N) -> pd.DataFrame:
    """NPS per group with the response counts always shown and small cells flagged.

    Parameters
    ----------
    df : DataFrame
        NPS answers: a ``score`` column (0-10) and the grouping columns.
    by : column name(s), optional
        Groups (segment, plan, touch model, period, ...); the whole sample when omitted.
    min_n : int
        Groups with fewer answers are flagged ``small_n`` (their interval is wide; read with care).

    Returns
    -------
    DataFrame
        ``by...``, ``n``, ``promoters``, ``passives``, ``detractors``, ``pct_promoters``, ``pct_detractors``,
        ``nps``, ``ci_low``, ``ci_high``, ``small_n``; one row per group, in group order.
    """
    by = [by] if isinstance(by, str) else list(by or [])
    if not by:
        df = df.assign(_all="all")
    counts = _counts(df, by or ["_all"], score)
    counts.insert(len(by or ["_all"]), "n", counts[["promoters", "passives", "detractors"]].sum(axis=1))
    est, lo, hi = nps_interval(counts["promoters"], counts["detractors"], counts["n"], method, level)
    out = counts.assign(
        pct_promoters=100 * counts["promoters"] / counts["n"], pct_detractors=100 * counts["detractors"] / counts["n"],
        nps=est, ci_low=lo, ci_high=hi, small_n=counts["n"] < min_n,
    )
    return out.drop(columns=["_all"], errors="ignore")


def nps_trend(df: pd.DataFrame, freq: str = "M", *, time: str = "submitted_at", by: str | None = None,
              **kw) -> pd.DataFrame:
    """NPS per calendar period (``freq``: ``'M'`` month, ``'Q'`` quarter, ``'Y'`` year) with intervals.

    ``period`` is the period's first day (UTC); periods without answers are absent. Keywords go to
    :func:`nps_table`.
    """
    ts = pd.to_datetime(df[time], utc=True)
    period = ts.dt.tz_localize(None).dt.to_period(freq).dt.start_time.dt.tz_localize("UTC")
    keys = ["period"] + ([by] if by else [])
    return nps_table(df.assign(period=period), keys, **kw).sort_values(keys, ignore_index=True)


# ----------------------------------------------------------------------------------------- comparisons
def _as_counts(x) -> tuple[float, float, float]:
    if isinstance(x, NPSEstimate):
        return x.promoters, x.detractors, x.n
    if isinstance(x, Mapping | pd.Series) and {"promoters", "detractors", "n"} <= set(x.keys()):
        return float(x["promoters"]), float(x["detractors"]), float(x["n"])
    e = nps(x)
    return e.promoters, e.detractors, e.n


def nps_difference_counts(Pa, Da, na, Pb, Db, nb, method: str = "adjusted", level: float = 0.95) -> dict:
    """Difference ``NPS_a - NPS_b`` of two independent samples from counts (arrays allowed).

    Returns a dict of ``nps_a``, ``nps_b``, ``difference``, ``ci_low``, ``ci_high``, ``z``, ``p_value``.
    The test uses the pooled trinomial variance (the null hypothesis: one distribution); the interval the
    unpooled variances, with pseudo-counts for ``adjusted`` (see the module docstring).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    Pa, Da, na, Pb, Db, nb = (np.asarray(v, dtype=float) for v in (Pa, Da, na, Pb, Db, nb))
    z = z_value(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        a, b = 100 * (Pa - Da) / na, 100 * (Pb - Db) / nb
        p0, d0 = (Pa + Pb) / (na + nb), (Da + Db) / (na + nb)
        v0 = np.maximum(p0 + d0 - (p0 - d0) ** 2, 0)
        zstat = (a - b) / (100 * np.sqrt(v0 * (1 / na + 1 / nb)))
        zstat = np.where(v0 == 0, 0.0, zstat)  # every answer in one category in both samples: no evidence
        k = 0.75 if method == "adjusted" else 0.0
        m = 3.0 if method == "adjusted" else 0.0

        def centre_var(P, D, n):
            p, d = (P + k) / (n + m), (D + k) / (n + m)
            return 100 * (p - d), 100**2 * np.maximum(p + d - (p - d) ** 2, 0) / (n + m)

        ca, va = centre_var(Pa, Da, na)
        cb, vb = centre_var(Pb, Db, nb)
        half = z * np.sqrt(va + vb)
        lo, hi = ca - cb - half, ca - cb + half
        if method == "adjusted":
            lo, hi = np.clip(lo, -200, 200), np.clip(hi, -200, 200)
    return {"nps_a": a, "nps_b": b, "difference": a - b, "ci_low": lo, "ci_high": hi, "z": zstat,
            "p_value": two_sided_p(zstat)}


@dataclass(frozen=True)
class NPSDifference:
    """The result of :func:`nps_difference`."""

    n_a: int
    n_b: int
    nps_a: float
    nps_b: float
    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    method: str = "adjusted"
    level: float = 0.95

    def significant(self, alpha: float = 0.05) -> bool:
        return bool(self.p_value < alpha)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)])

    def text(self, lang: str = "en") -> str:
        diff = fmt_interval(self.difference, self.ci_low, self.ci_high, lang)
        return t("nps.difference", lang, diff=diff, p=f"{self.p_value:.3f}")

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.text())}</p>"


def nps_difference(a, b, method: str = "adjusted", level: float = 0.95) -> NPSDifference:
    """Test and interval for ``NPS_a - NPS_b`` of two independent samples (two waves, two segments).

    ``a`` and ``b`` are 0-10 answers, :class:`NPSEstimate` objects, or rows of :func:`nps_table`
    (anything with ``promoters``, ``detractors`` and ``n``).

    Notes
    -----
    Answers of several users of one account are treated as independent; when most accounts answer with
    many users the p-value is somewhat too small.
    """
    (Pa, Da, na), (Pb, Db, nb) = _as_counts(a), _as_counts(b)
    r = nps_difference_counts(Pa, Da, na, Pb, Db, nb, method, level)
    return NPSDifference(int(na), int(nb), *(float(r[k]) for k in
                                              ("nps_a", "nps_b", "difference", "ci_low", "ci_high", "z", "p_value")),
                         method=method, level=level)


# ------------------------------------------------------------------------------------ per account/user
def label_waves(df: pd.DataFrame, gap_days: int = 30, *, time: str = "submitted_at",
                key: str = "account_id") -> pd.Series:
    """Number each account's answers into waves (1, 2, ...): a wave ends after ``gap_days`` of silence.

    Answers of one account closer than ``gap_days`` to the previous one belong to the same wave, so the
    users answering one survey campaign form one wave even across a month boundary.
    """
    ts = pd.to_datetime(df[time], utc=True)
    order = np.lexsort((ts.to_numpy(), df[key].to_numpy()))
    acc = df[key].to_numpy()[order]
    tt = ts.to_numpy()[order]
    new_acc = np.r_[True, acc[1:] != acc[:-1]]
    gap = np.r_[np.inf, np.diff(tt) / np.timedelta64(1, "D")]
    new_wave = new_acc | (gap > gap_days)
    wave_global = np.cumsum(new_wave)
    first_of_acc = np.maximum.accumulate(np.where(new_acc, wave_global, 0))
    out = np.empty(len(df), dtype=np.int64)
    out[order] = wave_global - first_of_acc + 1
    return pd.Series(out, index=df.index, name="wave")


def account_waves(df: pd.DataFrame, gap_days: int = 30, *, score: str = "score", time: str = "submitted_at",
                  user: str = "user_id") -> pd.DataFrame:
    """One row per account and wave: who answered, the mean answer, the account's NPS and category.

    Returns ``account_id``, ``wave``, ``first_at``, ``last_at``, ``responses``, ``respondents``,
    ``mean_score``, ``promoters``, ``detractors``, ``account_nps`` (NPS among the wave's respondents) and
    ``category`` (of the mean answer: >= 9 promoter, >= 7 passive, else detractor).
    """
    cat = nps_category(df[score]).astype(object)
    d = df.assign(wave=label_waves(df, gap_days, time=time), _p=cat.eq("promoter"), _d=cat.eq("detractor"),
                  _t=pd.to_datetime(df[time], utc=True))
    g = d.groupby(["account_id", "wave"], sort=True)
    out = g.agg(first_at=("_t", "min"), last_at=("_t", "max"), responses=(score, "size"),
                respondents=(user, "nunique") if user in d else (score, "size"), mean_score=(score, "mean"),
                promoters=("_p", "sum"), detractors=("_d", "sum")).reset_index()
    out["account_nps"] = 100 * (out["promoters"] - out["detractors"]) / out["responses"]
    out["category"] = category_of_mean(out["mean_score"]).to_numpy()
    return out


def account_nps(df: pd.DataFrame, gap_days: int = 30, *, flat: float = 1.0, **kw) -> pd.DataFrame:
    """Per account: the latest wave (mean answer, category, respondents, spread) and its change.

    ``change`` is the latest wave's mean answer minus the previous wave's; ``trend`` is ``'up'``,
    ``'down'`` or ``'flat'`` (an absolute change below ``flat`` points), empty with a single wave.
    ``split`` marks latest waves where one user is a promoter and another a detractor: the account's
    mean hides a disagreement worth a call.
    """
    waves = account_waves(df, gap_days, **kw)
    waves = waves.sort_values(["account_id", "wave"])
    prev = waves.groupby("account_id")["mean_score"].shift()
    waves = waves.assign(previous_mean=prev, change=waves["mean_score"] - prev,
                         waves=waves.groupby("account_id")["wave"].transform("max"))
    latest = waves.groupby("account_id").tail(1).reset_index(drop=True)
    latest["trend"] = np.select([latest["change"].isna(), latest["change"] >= flat, latest["change"] <= -flat],
                                ["", "up", "down"], "flat")
    latest["split"] = (latest["promoters"] > 0) & (latest["detractors"] > 0)
    cols = ["account_id", "last_at", "waves", "respondents", "mean_score", "category", "account_nps",
            "promoters", "detractors", "split", "previous_mean", "change", "trend"]
    return latest[cols].rename(columns={"last_at": "latest_at"})


def respondent_nps(df: pd.DataFrame, account_id: str | None = None, *, latest_wave: bool = False,
                   gap_days: int = 30, score: str = "score", time: str = "submitted_at",
                   user: str = "user_id") -> pd.DataFrame:
    """Per respondent (user) of each account: latest answer and category, previous answer and change.

    Useful where several users of one account answer: the champion and the frustrated admin show
    separately instead of averaging out. With ``latest_wave`` only the users who answered in their
    account's latest wave (see :func:`label_waves`) are kept; their previous answers still show.
    """
    d = df if account_id is None else df[df["account_id"] == account_id]
    d = d.assign(_t=pd.to_datetime(d[time], utc=True), _wave=label_waves(d, gap_days, time=time))
    d = d.sort_values(["account_id", user, "_t"], kind="stable")
    g = d.groupby(["account_id", user], sort=True)
    d = d.assign(answers=g[score].transform("size"), previous_score=g[score].shift().astype(float))
    out = d.groupby(["account_id", user], sort=True).tail(1).reset_index(drop=True)
    if latest_wave:
        out = out[out["_wave"] == out.groupby("account_id")["_wave"].transform("max")].reset_index(drop=True)
    out = out.rename(columns={"_t": "latest_at", score: "latest_score"})
    out["category"] = nps_category(out["latest_score"]).to_numpy()
    out["change"] = out["latest_score"] - out["previous_score"]
    return out[["account_id", user, "answers", "latest_at", "latest_score", "category", "previous_score", "change"]]


# ----------------------------------------------------------------------------------------------- plots
def plot_nps_trend(trend: pd.DataFrame, ax=None, lang: str = "en", x: str = "period", label: str | None = None):
    """NPS per period with its interval as a band; each point is annotated with its number of answers."""
    ax = new_ax(ax, figsize=(9, 4))
    xs = pd.to_datetime(trend[x])
    line, = ax.plot(xs, trend["nps"], marker="o", label=label)
    ax.fill_between(xs, trend["ci_low"], trend["ci_high"], alpha=0.2, color=line.get_color(), linewidth=0)
    for xi, yi, n in zip(xs, trend["nps"], trend["n"], strict=True):
        ax.annotate(f"{t('n', lang)}={n:,}", (xi, yi), textcoords="offset points", xytext=(0, 8), ha="center",
                    fontsize=8)
    ax.axhline(0, color="#777777", linewidth=0.8)
    ax.set_ylabel(t("nps", lang) + " (-100..100)")
    ax.set_xlabel("")
    date_axis(ax, lang)
    return ax


def plot_nps_by(table: pd.DataFrame, by: str, ax=None, lang: str = "en"):
    """Forest plot: NPS per group with its interval; small cells drawn hollow and marked in the label."""
    ax = new_ax(ax, figsize=(8, 0.5 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    for yi, (_, r) in zip(y, table.iterrows(), strict=True):
        colour = "#999999" if r["small_n"] else "#0072b2"
        ax.errorbar(r["nps"], yi, xerr=[[r["nps"] - r["ci_low"]], [r["ci_high"] - r["nps"]]], fmt="o",
                    color=colour, mfc="white" if r["small_n"] else colour, capsize=3)
    labels = [f"{t(str(g), lang)} ({t('n', lang)}={n:,}{', ' + t('small_n', lang) if s else ''})"
              for g, n, s in zip(table[by], table["n"], table["small_n"], strict=True)]
    ax.set_yticks(y, labels)
    ax.axvline(0, color="#777777", linewidth=0.8)
    ax.set_xlabel(t("nps", lang))
    lo, hi = np.nanmin(table["ci_low"].to_numpy(float)), np.nanmax(table["ci_high"].to_numpy(float))
    ax.set_xlim(max(-100, min(lo, 0) - 10), min(100, max(hi, 0) + 10))  # zoomed, 0 always in view
    return ax


def plot_score_distribution(df: pd.DataFrame, ax=None, lang: str = "en", score: str = "score"):
    """Share of answers at each score 0-10, coloured by category (detractors, passives, promoters)."""
    ax = new_ax(ax, figsize=(9, 3.5))
    s = _check_scores(df[score]).dropna()
    share = 100 * s.value_counts(normalize=True).reindex(np.arange(11), fill_value=0)
    cats = nps_category(pd.Series(share.index)).astype(str)
    ax.bar(share.index, share.to_numpy(), color=[CATEGORY_COLOURS[c] for c in cats])
    handles = [plt_patch(CATEGORY_COLOURS[c], t(c + "s", lang)) for c in CATEGORIES]
    ax.legend(handles=handles, frameon=False, fontsize=9)
    ax.set_xticks(range(11))
    ax.set_xlabel(t("score", lang))
    ax.set_ylabel(t("share", lang) + " (%)")
    return ax


def plt_patch(colour: str, label: str):
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)
