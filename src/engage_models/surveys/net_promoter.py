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

Answers cluster in accounts
---------------------------
Several users of one account answer alike, so ``n`` answers from ``K`` accounts carry less information
than ``n`` independent answers. Wherever the answers come with an ``account_id`` (the ``cluster`` keyword
of every function, on by default when the column is there) the variance of the NPS, the mean of the
+1 / 0 / -1 scores, is estimated by linearisation over accounts
(:func:`engage_models._core.stats.cluster_moments`):

.. math:: v = \\frac{K}{K - 1} \\sum_k \\frac{(S_k - R\\, m_k)^2}{n^2}, \\qquad R = \\frac{\\sum_k S_k}{n}

with ``S_k`` the sum of the scores of account ``k`` and ``m_k`` its number of answers. The intervals above
then use the **effective number of answers** ``n_eff = n / deff * (t_{n-1} / t_{K-1})^2`` (design effect
``deff`` = ``v`` over the independent-answers variance, floored at 1; Korn and Graubard 1998), with the
counts scaled to it. With one answer per account ``n_eff = n`` and nothing changes; with a single account,
or every answer in one category, the worst case is taken (answers of one account count once).
The NPS itself, ``%promoters - %detractors`` over all answers, is never changed by this.

Tiny groups: with the pseudo-counts the adjusted interval of a very small group (one answer) could leave
its own estimate outside (one promoter: -48.5 to 98.5); it is widened to contain the estimate. With no
answer there is no estimate and no interval (NaN, and the text says so).

Comparisons
-----------
The difference between two waves (or segments) given as answer tables with ``account_id``
(:func:`nps_difference` on two DataFrames) is linearised over the accounts of **both** waves together:
each account contributes ``u_k = (S_ak - R_a m_ak) / n_a - (S_bk - R_b m_bk) / n_b``, and
``var = K / (K - 1) sum u_k^2``. An account present in both waves contributes the covariance of its two
answers, so this is the paired analysis of the same accounts over time, extended to accounts that answer
in one wave only. The test uses the same sum with the pooled NPS in place of ``R_a`` and ``R_b`` (the
variance under "no change"), with ``t_{K-1}``; the interval is ``+- t_{K-1} sqrt(var)`` (``wald``) or the
pseudo-count interval below scaled by the design effect of the difference (``adjusted``).

Two samples given as scores or counts only (no accounts) are tested as independent with a pooled
z-statistic, ``z = (NPS_a - NPS_b) / (100 sqrt(v0 (1/n_a + 1/n_b)))`` with ``v0`` the trinomial variance of
the pooled sample (the variance under "same distribution"), and its interval is the unpooled Wald
interval (``wald``) or the same with pseudo-counts added to each sample (``adjusted``, truncated to
[-200, 200]). Rows of :func:`nps_table` carry ``n_eff``, so two rows are compared with their effective
numbers of answers (clustering within each wave counted, pairing across waves not: conservative when the
same accounts answer both).

Out-of-range answers are quarantined by ingest; these functions raise on them and never clip.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._core.i18n import count, fmt_interval, fmt_number, p_is, t
from .._core.plots import BAND_COLOURS, date_axis, error_bars, new_ax
from .._core.stats import cluster_moments, effective_n, two_sided_p, z_value
from .report import group_label

log = logging.getLogger(__name__)

PROMOTER_MIN, PASSIVE_MIN = 9, 7
CATEGORIES = ("detractor", "passive", "promoter")
CATEGORY_COLOURS = {"detractor": BAND_COLOURS["red"], "passive": "#999999", "promoter": BAND_COLOURS["green"]}
METHODS = ("wald", "adjusted")
#: Cells with fewer answers than this are flagged ``small_n`` (a parameter of every table function).
MIN_N = 30
#: The column whose values cluster answers (several users of one account answer alike).
CLUSTER = "account_id"


# ----------------------------------------------------------------------------------------- categories
def _check_scores(s: pd.Series) -> pd.Series:
    s = pd.to_numeric(s, errors="raise").astype(float)
    v = s.to_numpy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(v) & ((v < 0) | (v > 10) | (v != np.floor(v)))
    if bad.any():
        raise ValueError(
            f"{count(int(bad.sum()), '# NPS answer is not a whole number', '# NPS answers are not whole numbers')} "
            f"in 0-10 (e.g. {v[bad][0]:g}): "
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
def nps_interval(promoters, detractors, n, method: str = "adjusted", level: float = 0.95, *, n_eff=None):
    """NPS and its interval from counts (scalars or arrays): ``(nps, low, high)`` on -100..100.

    See the module docstring for the ``wald`` and ``adjusted`` formulas. ``n_eff`` (optional, arrays
    allowed) is the effective number of answers of clustered answers (:func:`nps_table` computes it): the
    interval is then that of ``n_eff`` answers with the same shares, while the estimate stays the plain
    NPS. The interval always contains the estimate; all NaN where ``n`` is 0.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    P, D, n = (np.asarray(x, dtype=float) for x in (promoters, detractors, n))
    z = z_value(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = 100 * (P - D) / n
        if n_eff is not None:
            scale = np.asarray(n_eff, dtype=float) / n
            P, D, n = P * scale, D * scale, n * scale
        if method == "adjusted":
            P, D, n = P + 0.75, D + 0.75, n + 3
        p, d = P / n, D / n
        centre = 100 * (p - d)
        half = z * 100 * np.sqrt(np.maximum(p + d - (p - d) ** 2, 0) / n)
        lo, hi = centre - half, centre + half
        if method == "adjusted":
            # pseudo-counts pull the centre of a tiny group towards 0 far enough to leave the estimate out
            lo, hi = np.minimum(np.clip(lo, -100, 100), est), np.maximum(np.clip(hi, -100, 100), est)
    empty = np.isnan(est)
    return est, np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


def nps_points(scores) -> pd.Series:
    """+1 for a promoter, 0 for a passive, -1 for a detractor (NaN for a missing answer): NPS = 100 x mean."""
    s = _check_scores(pd.Series(scores))
    v = s.to_numpy(float)
    return pd.Series(np.where(np.isnan(v), np.nan, np.select([v >= PROMOTER_MIN, v >= PASSIVE_MIN], [1.0, 0.0], -1.0)),
                     index=s.index)


def _effective(points: pd.Series, clusters, groups=None, level: float = 0.95) -> pd.DataFrame:
    """``accounts`` and ``n_eff`` per group of clustered NPS points (see the module docstring)."""
    mom = cluster_moments(points.to_numpy(float), clusters, groups)
    n_eff = effective_n(mom["n"], mom["clusters"], mom["var_cluster"], mom["var_srs"], mom["sum_m2"], level)
    return pd.DataFrame({"accounts": mom["clusters"].to_numpy(), "n_eff": n_eff}, index=mom.index)


@dataclass(frozen=True)
class NPSEstimate:
    """An NPS with its counts and interval; renders as one escaped line in notebooks.

    ``accounts`` and ``n_eff`` are set when the answers came with their accounts: the interval is then
    that of ``n_eff`` independent answers (see the module docstring).
    """

    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float
    ci_low: float
    ci_high: float
    method: str = "adjusted"
    level: float = 0.95
    accounts: int | None = None
    n_eff: float | None = None

    def text(self, lang: str = "en") -> str:
        """'NPS 12.3 (95% CI ...) · n = 250' in ``lang``; says so in words when there is no answer."""
        if self.n == 0:
            return t("nps.no_answers", lang)
        line = (f"{t('nps', lang)} {fmt_interval(self.nps, self.ci_low, self.ci_high, lang)} · "
                f"{t('n', lang)} = {fmt_number(self.n, lang)}")
        if self.accounts is not None:
            line += " · " + t("nps.accounts", lang, k=fmt_number(self.accounts, lang))
        return line

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.text())}</p>"


def _scores_and_clusters(scores, score: str, cluster: str | None, clusters):
    """0-10 answers and their cluster ids (or None) from scores, or from a table of answers."""
    if isinstance(scores, pd.DataFrame):
        if score not in scores:
            raise ValueError(f"the answers have no {score!r} column (columns: {list(scores.columns)})")
        if clusters is None and cluster and cluster in scores:
            clusters = scores[cluster]
        scores = scores[score]
    s = pd.Series(scores).reset_index(drop=True)
    if clusters is not None:
        clusters = pd.Series(clusters).reset_index(drop=True)
        if len(clusters) != len(s):
            raise ValueError(f"clusters has {count(len(clusters), 'value')} for {count(len(s), 'answer')}")
        if clusters[s.notna()].isna().any():
            no = count(int(clusters[s.notna()].isna().sum()), "# answer has", "# answers have")
            raise ValueError(f"{no} no account (cluster) id")
    return s, clusters


def nps(scores, method: str = "adjusted", level: float = 0.95, *, score: str = "score",
        cluster: str | None = CLUSTER, clusters=None) -> NPSEstimate:
    """NPS of a set of 0-10 answers with its interval.

    ``scores`` is a sequence of answers, or a table of answers (its ``score`` column), in which case the
    interval respects the clustering of answers in its ``cluster`` column (accounts) when that column is
    there; ``clusters`` gives the account of each answer of a plain sequence.

    Examples
    --------
    >>> est = nps([10] * 30 + [7] * 20 + [3] * 50)
    >>> est.nps, est.n
    (-20.0, 100)
    """
    s, clusters = _scores_and_clusters(scores, score, cluster, clusters)
    cat = nps_category(s)
    counts = cat.dropna().value_counts()
    P, Pa, D = (int(counts.get(c, 0)) for c in ("promoter", "passive", "detractor"))
    n = P + Pa + D
    accounts = n_eff = None
    if clusters is not None and n:
        ok = s.notna().to_numpy()
        eff = _effective(nps_points(s)[ok], clusters[ok].to_numpy(), level=level).iloc[0]
        accounts, n_eff = int(eff["accounts"]), float(eff["n_eff"])
    est, lo, hi = nps_interval(P, D, n, method, level, n_eff=n_eff)
    return NPSEstimate(n, P, Pa, D, float(est), float(lo), float(hi), method, level, accounts, n_eff)


def _counts(df: pd.DataFrame, by: list[str], score: str) -> pd.DataFrame:
    cat = nps_category(df[score])
    frame = df[by].assign(_cat=cat.astype(object)).dropna(subset=["_cat"])
    wide = (frame.groupby(by + ["_cat"], observed=True, dropna=False).size().unstack("_cat", fill_value=0)
            .reindex(columns=["promoter", "passive", "detractor"], fill_value=0))
    wide.columns = ["promoters", "passives", "detractors"]
    wide.columns.name = None
    return wide.reset_index()


def nps_table(df: pd.DataFrame, by: str | Sequence[str] | None = None, *, score: str = "score",
              method: str = "adjusted", level: float = 0.95, min_n: int = MIN_N,
              cluster: str | None = CLUSTER) -> pd.DataFrame:
    """NPS per group with the response counts always shown and small cells flagged.

    Parameters
    ----------
    df : DataFrame
        NPS answers: a ``score`` column (0-10) and the grouping columns.
    by : column name(s), optional
        Groups (segment, plan, touch model, period, ...); the whole sample when omitted.
    min_n : int
        Groups with fewer answers are flagged ``small_n`` (their interval is wide; read with care).
    cluster : column name or None
        Answers sharing a value (accounts, by default, when the column is there) are not independent: the
        intervals use the effective number of answers (see the module docstring). ``None``: every answer
        counts as independent.

    Returns
    -------
    DataFrame
        ``by...``, ``n``, ``promoters``, ``passives``, ``detractors``, ``pct_promoters``, ``pct_detractors``,
        ``nps``, ``ci_low``, ``ci_high``, ``small_n``, ``accounts`` (distinct ``cluster`` values; missing
        without clusters) and ``n_eff`` (effective number of answers; ``n`` without clusters); one row per
        group, in group order.
    """
    by = [by] if isinstance(by, str) else list(by or [])
    if not by:
        df = df.assign(_all="all")
    keys = by or ["_all"]
    clustered = bool(cluster) and cluster in df
    counts = _counts(df, keys, score)
    counts.insert(len(keys), "n", counts[["promoters", "passives", "detractors"]].sum(axis=1))
    if clustered:
        pts = nps_points(df[score])
        ok = pts.notna().to_numpy()
        if df.loc[ok, cluster].isna().any():
            no = count(int(df.loc[ok, cluster].isna().sum()), "# answer has", "# answers have")
            raise ValueError(f"{no} no {cluster!r}: "
                             "give every answer its account, or cluster=None to treat answers as independent")
        frame = df.loc[ok, keys]
        codes = frame.groupby(keys, observed=True, dropna=False, sort=True).ngroup().to_numpy()
        eff = _effective(pts[ok], df.loc[ok, cluster].to_numpy(), codes, level)
        if len(eff) != len(counts):  # both follow the sorted group order; a mismatch is a bug
            raise RuntimeError("group order of counts and clusters differ")
        accounts = pd.array(eff["accounts"].to_numpy(), dtype="Int64")
        n_eff = eff["n_eff"].to_numpy()
    else:
        accounts, n_eff = pd.array([pd.NA] * len(counts), dtype="Int64"), counts["n"].to_numpy(float)
    est, lo, hi = nps_interval(counts["promoters"], counts["detractors"], counts["n"], method, level, n_eff=n_eff)
    out = counts.assign(
        pct_promoters=100 * counts["promoters"] / counts["n"], pct_detractors=100 * counts["detractors"] / counts["n"],
        nps=est, ci_low=lo, ci_high=hi, small_n=counts["n"] < min_n, accounts=accounts, n_eff=n_eff,
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


def answers_in_period(df: pd.DataFrame, period, freq: str = "M", *, time: str = "submitted_at") -> pd.DataFrame:
    """The answers of one period of :func:`nps_trend` (``period``: its first day), for the paired wave test."""
    ts = pd.to_datetime(df[time], utc=True).dt.tz_localize(None).dt.to_period(freq)
    return df[(ts == pd.Timestamp(period).tz_localize(None).to_period(freq)).to_numpy()]


def survey_waves(times, *, gap_days: int = 14, max_span_days: int = 92, min_n: int = MIN_N) -> pd.Series | None:
    """The company's survey waves, when its answers come in waves: a label per answer (its wave's first day,
    UTC), or ``None`` when they come in continuously (compare calendar periods then).

    Answers more than ``gap_days`` apart (no answer in between) start a new wave. A wave of fewer than ``min_n``
    answers before the last one (a late answer after a quiet spell) joins the wave before it (the first, the one
    after); the last one stays a wave of its own however small (a campaign that has just begun: the reports say
    it is thin). The answers come in waves when every wave of at least ``min_n`` answers lasted at most
    ``max_span_days``: a company's first campaign is one wave ("the only one so far"), and an always-on survey
    longer than that is not waves. A campaign whose last days fall into the next month or quarter (or do so in
    the company's calendar, a day later than UTC's) stays one wave: compared by calendar periods, its 76 late
    answers made a "latest quarter" set against the 6,223 of the wave itself.
    """
    ts = pd.to_datetime(pd.Series(times), utc=True)
    day = ts.dt.floor("D")
    counts = day.value_counts().sort_index()
    if counts.empty:
        return None
    days = counts.index
    segment = np.r_[0, np.cumsum((days[1:] - days[:-1]) > pd.Timedelta(days=gap_days))]
    seg_n = np.bincount(segment, weights=counts.to_numpy())
    last = len(seg_n) - 1
    kept = [k for k in range(len(seg_n)) if seg_n[k] >= min_n or k == last]
    # each segment joins the kept wave at or before it; segments before the first kept wave join that one
    wave = np.array([max([k for k in kept if k <= j], default=kept[0]) for j in range(len(seg_n))])
    full = [k for k in kept if seg_n[k] >= min_n]
    spans = {k: days[segment == k].max() - days[segment == k].min() for k in full}  # stragglers not counted
    if any(v > pd.Timedelta(days=max_span_days) for v in spans.values()):
        return None
    first = pd.Series(days, index=days).groupby(wave[segment]).transform("min")
    return pd.Series(day.map(first).to_numpy(), index=ts.index, name="wave")


def latest_change(df: pd.DataFrame, freq: str = "M", *, time: str = "submitted_at", min_n: int = MIN_N,
                  method: str = "adjusted", level: float = 0.95, drop_small: bool = False) -> dict | None:
    """The latest survey wave's NPS against the one before, or the latest calendar period's (``freq``) when the
    answers come in continuously (:func:`survey_waves`); ``None`` with fewer than one wave or period.

    Returns ``unit`` (``'wave'`` or ``'period'``), ``freq``, ``latest`` and ``previous`` (rows of
    :func:`nps_table` with ``period``, the wave's or period's first day, and ``end``, its last answer; the
    previous one ``None`` when there is one only) and ``difference`` (a paired :class:`NPSDifference`, accounts
    answering both are not independent; ``None`` without a previous one). ``drop_small``: periods with fewer
    than ``min_n`` answers are not chosen (when any has as many); ``later`` lists those after the chosen latest
    (``period``, ``end``, ``n``: a wave just begun), which the reports name beside what they compare.
    """
    if df.empty:
        return None
    ts = pd.to_datetime(df[time], utc=True)
    waves = survey_waves(ts, min_n=min_n)
    if waves is not None:
        unit, label = "wave", waves
    else:
        unit = "period"
        label = ts.dt.tz_localize(None).dt.to_period(freq).dt.start_time.dt.tz_localize("UTC")
    d = df.assign(period=label.to_numpy(), _t=ts.to_numpy())
    table = nps_table(d, "period", method=method, level=level, min_n=min_n).sort_values("period", ignore_index=True)
    ends = d.groupby("period")["_t"].max()
    table["end"] = table["period"].map(ends)
    every = table
    if drop_small and (table["n"] >= min_n).any():
        table = table[table["n"] >= min_n].reset_index(drop=True)
    if table.empty:
        return None
    latest = table.iloc[-1]
    later = [{"period": r.period, "end": r.end, "n": int(r.n)}
             for r in every[every["period"] > latest["period"]].itertuples()]
    previous = table.iloc[-2] if len(table) > 1 else None
    diff = None
    if previous is not None:
        diff = nps_difference(d[d["period"] == latest["period"]], d[d["period"] == previous["period"]],
                              method=method, level=level)
    return {"unit": unit, "freq": freq, "latest": latest, "previous": previous, "difference": diff, "later": later}


def headline_change(df: pd.DataFrame, *, min_n: int = MIN_N, method: str = "adjusted") -> dict | None:
    """The NPS the executive summary quotes: :func:`latest_change` by quarters (when the answers come in
    continuously), over the waves or quarters with at least ``min_n`` answers, so a wave just begun is not its
    headline. The surveys stage computes it once (:func:`headline_record`, artifact ``nps_headline``): report 03
    says what the summary quotes from it, and the summary stage copies it."""
    return latest_change(df, "Q", min_n=min_n, method=method, drop_small=True)


def headline_record(df: pd.DataFrame, *, min_n: int = MIN_N, method: str = "adjusted") -> dict:
    """:func:`headline_change` as the surveys stage stores it (``nps_headline``; the executive summary's
    ``nps_waves``): ``unit``, ``min_n``, ``latest``, ``previous``, ``later`` and the ``difference`` as a dict."""
    h = headline_change(df, min_n=min_n, method=method)
    if h is None:
        raise ValueError("no NPS answers")
    diff = h["difference"]
    return {"unit": h["unit"], "min_n": min_n, "latest": h["latest"], "previous": h["previous"], "later": h["later"],
            "difference": asdict(diff) if diff is not None else None}


# ----------------------------------------------------------------------------------------- comparisons
def _as_counts(x) -> tuple[float, float, float, float]:
    """``(promoters, detractors, n, n_eff)`` of answers, an :class:`NPSEstimate` or a table row."""
    if isinstance(x, NPSEstimate):
        return x.promoters, x.detractors, x.n, (x.n if x.n_eff is None else x.n_eff)
    if isinstance(x, Mapping | pd.Series) and {"promoters", "detractors", "n"} <= set(x.keys()):
        n = float(x["n"])
        n_eff = x.get("n_eff", n)
        return float(x["promoters"]), float(x["detractors"]), n, (n if pd.isna(n_eff) else float(n_eff))
    e = nps(x)
    return e.promoters, e.detractors, e.n, (e.n if e.n_eff is None else e.n_eff)


def nps_difference_counts(Pa, Da, na, Pb, Db, nb, method: str = "adjusted", level: float = 0.95, *,
                          n_eff_a=None, n_eff_b=None) -> dict:
    """Difference ``NPS_a - NPS_b`` of two independent samples from counts (arrays allowed).

    Returns a dict of ``nps_a``, ``nps_b``, ``difference``, ``ci_low``, ``ci_high``, ``z``, ``p_value``.
    The test uses the pooled trinomial variance (the null hypothesis: one distribution); the interval the
    unpooled variances, with pseudo-counts for ``adjusted`` (see the module docstring). ``n_eff_a`` and
    ``n_eff_b`` (effective numbers of answers of clustered samples, e.g. from :func:`nps_table`) replace
    ``na`` and ``nb`` in the variances, the counts scaled to them; the difference itself is unchanged.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    Pa, Da, na, Pb, Db, nb = (np.asarray(v, dtype=float) for v in (Pa, Da, na, Pb, Db, nb))
    z = z_value(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        a, b = 100 * (Pa - Da) / na, 100 * (Pb - Db) / nb
        if n_eff_a is not None:
            sa = np.asarray(n_eff_a, dtype=float) / na
            Pa, Da, na = Pa * sa, Da * sa, na * sa
        if n_eff_b is not None:
            sb = np.asarray(n_eff_b, dtype=float) / nb
            Pb, Db, nb = Pb * sb, Db * sb, nb * sb
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
        if method == "adjusted":  # inside the scale, and around the estimate however small the samples
            lo, hi = np.minimum(np.clip(lo, -200, 200), a - b), np.maximum(np.clip(hi, -200, 200), a - b)
    return {"nps_a": a, "nps_b": b, "difference": a - b, "ci_low": lo, "ci_high": hi, "z": zstat,
            "p_value": two_sided_p(zstat)}


def nps_difference_clustered(a: pd.DataFrame, b: pd.DataFrame, method: str = "adjusted", level: float = 0.95, *,
                             score: str = "score", cluster: str = CLUSTER) -> dict:
    """``NPS_a - NPS_b`` of two tables of answers whose accounts may answer in both (paired by account).

    The variance is linearised over the accounts of both tables together (see the module docstring), so
    the same accounts answering both waves are not taken for independent samples. The test statistic is
    the difference over the standard error under "no change" (pooled NPS), referred to Student's t with
    ``K - 1`` degrees of freedom (``K`` accounts in all).

    Returns the dict of :func:`nps_difference_counts` plus ``n_a``, ``n_b``, ``accounts`` (``K``),
    ``shared_accounts`` (accounts answering in both) and ``df``. With fewer than two accounts there is no
    test and no interval (NaN).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    ys, cs = [], []
    for name, x in (("a", a), ("b", b)):
        for col in (score, cluster):
            if col not in x:
                raise ValueError(f"the answers of {name} have no {col!r} column (columns: {list(x.columns)})")
        pts = nps_points(x[score]).to_numpy(float)
        ok = ~np.isnan(pts)
        c = x[cluster].to_numpy(dtype=object)[ok]
        if pd.isna(c).any():
            n = int(pd.isna(c).sum())
            raise ValueError(f"{count(n, 'answer')} of {name} {count(n, '=has', '=have')} no {cluster!r}")
        ys.append(pts[ok])
        cs.append(c)
    y = np.concatenate(ys)
    in_a = np.r_[np.ones(len(ys[0]), bool), np.zeros(len(ys[1]), bool)]
    codes = pd.factorize(np.concatenate(cs))[0]
    na, nb = float(in_a.sum()), float((~in_a).sum())
    K = int(codes.max()) + 1 if len(codes) else 0
    Sa, ma = np.bincount(codes, y * in_a, K), np.bincount(codes, in_a.astype(float), K)
    Sb, mb = np.bincount(codes, y * ~in_a, K), np.bincount(codes, (~in_a).astype(float), K)
    Pa, Da = float(((y == 1) & in_a).sum()), float(((y == -1) & in_a).sum())
    Pb, Db = float(((y == 1) & ~in_a).sum()), float(((y == -1) & ~in_a).sum())
    # the counts' own (independent-answers) test and interval: the clustered ones rescale them
    base = nps_difference_counts(Pa, Da, na, Pb, Db, nb, method, level)
    out = {k: float(v) for k, v in base.items()}
    out.update(n_a=int(na), n_b=int(nb), accounts=K, shared_accounts=int(((ma > 0) & (mb > 0)).sum()),
               df=float(K - 1))
    if K < 2 or na == 0 or nb == 0:
        out.update(ci_low=np.nan, ci_high=np.nan, z=np.nan, p_value=np.nan)
        return out
    Ra, Rb, R0 = Sa.sum() / na, Sb.sum() / nb, y.mean()
    f = K / (K - 1)
    var = f * np.sum(((Sa - Ra * ma) / na - (Sb - Rb * mb) / nb) ** 2)
    var0 = f * np.sum(((Sa - R0 * ma) / na - (Sb - R0 * mb) / nb) ** 2)
    diff = Ra - Rb
    tq = float(stats.t.ppf(1 - (1 - level) / 2, K - 1))
    tstat = 0.0 if var0 == 0 else diff / np.sqrt(var0)  # var0 = 0: every answer alike, no evidence
    out["z"], out["p_value"] = float(tstat), float(2 * stats.t.sf(abs(tstat), K - 1))
    if method == "wald":
        half = 100 * tq * np.sqrt(var)
        out["ci_low"], out["ci_high"] = 100 * diff - half, 100 * diff + half
        return out
    # adjusted: the pseudo-count interval, its variance scaled by the design effect of the difference and
    # its quantile by t_{K-1}; an account answering both waves may make the design effect below 1
    with np.errstate(invalid="ignore", divide="ignore"):
        srs = sum(np.var(y[w], ddof=1) / w.sum() if w.sum() > 1 else 0.0 for w in (in_a, ~in_a))
    if np.isfinite(srs) and srs > 0:
        deff = var / srs
    else:  # every answer alike within each wave: assume the worst, answers of one account count once
        deff = max(np.sum(ma**2) / na, np.sum(mb**2) / nb)
    pa, da, pb, db = (Pa + 0.75) / (na + 3), (Da + 0.75) / (na + 3), (Pb + 0.75) / (nb + 3), (Db + 0.75) / (nb + 3)
    va, vb = (pa + da - (pa - da) ** 2) / (na + 3), (pb + db - (pb - db) ** 2) / (nb + 3)
    centre, half = 100 * (pa - da - pb + db), 100 * tq * np.sqrt((va + vb) * deff)
    lo, hi = np.clip(centre - half, -200, 200), np.clip(centre + half, -200, 200)
    out["ci_low"], out["ci_high"] = float(min(lo, 100 * diff)), float(max(hi, 100 * diff))
    return out


@dataclass(frozen=True)
class NPSDifference:
    """The result of :func:`nps_difference`.

    ``accounts`` and ``shared_accounts`` are set when the two samples came with their accounts (the
    paired, clustered comparison): accounts in all, and those answering in both.
    """

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
    accounts: int | None = None
    shared_accounts: int | None = None

    def significant(self, alpha: float = 0.05) -> bool:
        return bool(self.p_value < alpha)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)])

    def text(self, lang: str = "en") -> str:
        if pd.isna(self.p_value):
            return t("nps.difference_untested", lang, diff=fmt_number(self.difference, lang, 1),
                     k=fmt_number(self.accounts if self.accounts is not None else 0, lang))
        diff = fmt_interval(self.difference, self.ci_low, self.ci_high, lang)
        return t("nps.difference", lang, diff=diff, p=p_is(self.p_value))

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.text())}</p>"


def nps_difference(a, b, method: str = "adjusted", level: float = 0.95, *, score: str = "score",
                   cluster: str | None = CLUSTER) -> NPSDifference:
    """Test and interval for ``NPS_a - NPS_b`` (two waves, two segments).

    ``a`` and ``b`` are tables of answers (a ``score`` column), 0-10 answers, :class:`NPSEstimate`
    objects, or rows of :func:`nps_table` (anything with ``promoters``, ``detractors`` and ``n``).

    Two tables that both have the ``cluster`` column (accounts) are compared by
    :func:`nps_difference_clustered`: accounts answering in both are paired, and several users of one
    account are not taken for independent answers. Table rows and estimates that carry ``n_eff`` are
    compared with their effective numbers of answers; plain scores as independent answers.
    """
    if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
        if cluster and cluster in a and cluster in b:
            r = nps_difference_clustered(a, b, method, level, score=score, cluster=cluster)
            return NPSDifference(r["n_a"], r["n_b"], *(float(r[k]) for k in ("nps_a", "nps_b", "difference",
                                                                               "ci_low", "ci_high", "z", "p_value")),
                                 method=method, level=level, accounts=r["accounts"],
                                 shared_accounts=r["shared_accounts"])
        a, b = a[score], b[score]
    (Pa, Da, na, ea), (Pb, Db, nb, eb) = _as_counts(a), _as_counts(b)
    r = nps_difference_counts(Pa, Da, na, Pb, Db, nb, method, level, n_eff_a=ea, n_eff_b=eb)
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
    # instants as datetime64 (UTC), not Timestamp objects: sorting and differencing 270,000 answers as objects
    # took 2.5 s
    tt = pd.to_datetime(df[time], utc=True).to_numpy(dtype="datetime64[ns]")
    order = np.lexsort((tt, df[key].to_numpy()))
    acc = df[key].to_numpy()[order]
    tt = tt[order]
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
    ax.set_ylabel(t("plot.nps_axis", lang))
    ax.set_xlabel("")
    date_axis(ax, lang)
    return ax


def plot_nps_by(table: pd.DataFrame, by: str, ax=None, lang: str = "en"):
    """Forest plot: NPS per group with its interval; small cells drawn hollow and marked in the label."""
    ax = new_ax(ax, figsize=(8, 0.5 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    for yi, (_, r) in zip(y, table.iterrows(), strict=True):
        colour = "#999999" if r["small_n"] else "#0072b2"
        ax.errorbar(r["nps"], yi, xerr=error_bars(r["nps"], r["ci_low"], r["ci_high"]), fmt="o",
                    color=colour, mfc="white" if r["small_n"] else colour, capsize=3)
    labels = [f"{group_label(g, lang)} ({t('n', lang)}={n:,}{', ' + t('small_n', lang) if s else ''})"
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
    ax.set_ylabel(t("plot.share_pct", lang))
    return ax


def plt_patch(colour: str, label: str):
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)
