"""Kaplan-Meier retention curves by group, with at-risk counts, medians and log-rank tests.

Product-limit estimate of the share still a customer at tenure ``t``:

.. math:: \\hat S(t) = \\prod_{t_j \\le t} \\left(1 - \\frac{d_j}{n_j}\\right)

``d_j`` churns at tenure ``t_j`` and ``n_j`` accounts at risk just before it (entered before ``t_j``, not yet
churned or censored): left-truncated accounts join the risk set at their ``entry`` tenure. Confidence bands
are lifelines' (exponential Greenwood). Any categorical column can group the curves: segment, plan, start
cohort, NPS category, health band...

The log-rank test compares observed and expected churns per group at every churn time; with ``k`` groups
it is the multivariate (k - 1 degrees of freedom) test. It is computed here on the same risk sets as the
curves, so it accepts left truncation (lifelines' tests do not):

.. math:: U_g = \\sum_j (d_{gj} - d_j n_{gj} / n_j), \\quad
          V_{gh} = \\sum_j d_j \\frac{n_j - d_j}{n_j - 1} \\frac{n_{gj}}{n_j}(1_{g=h} - \\frac{n_{hj}}{n_j}),
          \\quad \\chi^2 = U^\\top V^{-} U .
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times
from scipy import stats

from .._core.i18n import LANGS, catalogue, count, p_is, t
from .._core.plots import BAND_COLOURS, new_ax
from .._core.reasons import Thin, Why, text
from .._core.stats import wilson_interval

log = logging.getLogger(__name__)

_AT_RISK_MIN = 10


def _most_at_risk(entry: np.ndarray, duration: np.ndarray) -> int:
    """The most accounts at risk at once (entered at or before a time, still a customer after it), in
    O(n log n): every account has ``entry < duration``, so one that left by a time had entered by it."""
    if not len(duration):
        return 0
    grid = np.unique(np.r_[0.0, entry, duration])
    entered = np.searchsorted(np.sort(entry), grid, side="right")
    left = np.searchsorted(np.sort(duration), grid, side="right")
    return int((entered - left).max())


def logrank(duration, event, groups, entry=None) -> dict:
    """Multivariate log-rank test between the groups (left truncation through ``entry``).

    Returns ``{"test_statistic", "df", "p", "observed", "expected"}`` (the last two per group); ``df`` 0 and no
    statistic with a single group or without any churn (no test: a report shows none).
    """
    d = np.asarray(duration, float)
    e = np.asarray(event).astype(bool)
    g = np.asarray(groups).astype(str)
    a = np.zeros(len(d)) if entry is None else np.asarray(entry, float)
    labels = sorted(set(g))
    times = np.unique(d[e])
    # n_gj: at risk in group g at time t_j (entry < t <= duration); d_gj: churns at t_j
    n = np.stack([((a[g == lab][None, :] < times[:, None]) & (d[g == lab][None, :] >= times[:, None])).sum(1)
                  for lab in labels], axis=1).astype(float)
    dd = np.stack([np.searchsorted(np.sort(d[(g == lab) & e]), times, side="right")
                   - np.searchsorted(np.sort(d[(g == lab) & e]), times, side="left") for lab in labels], axis=1)
    n_tot, d_tot = n.sum(1), dd.sum(1)
    ok = n_tot > 0
    n, dd, n_tot, d_tot = n[ok], dd[ok], n_tot[ok], d_tot[ok]
    expected = (d_tot[:, None] * n / n_tot[:, None])
    U = (dd - expected).sum(0)
    factor = np.where(n_tot > 1, d_tot * (n_tot - d_tot) / np.maximum(n_tot - 1, 1), 0.0)
    share = n / n_tot[:, None]
    V = np.einsum("j,jg,gh->gh", factor, share, np.eye(len(labels))) - np.einsum("j,jg,jh->gh", factor, share, share)
    k = len(labels)
    if k < 2 or not d_tot.sum():  # one group, or no churn at all: nothing to test (it read "p = 1.000")
        return {"test_statistic": np.nan, "df": 0, "p": np.nan, "observed": {}, "expected": {}}
    stat = float(U[:-1] @ np.linalg.pinv(V[:-1, :-1]) @ U[:-1])
    return {"test_statistic": stat, "df": k - 1, "p": float(stats.chi2.sf(stat, k - 1)),
            "observed": dict(zip(labels, dd.sum(0).astype(int).tolist(), strict=True)),
            "expected": dict(zip(labels, expected.sum(0).tolist(), strict=True))}


class KaplanMeierGroups:
    """Kaplan-Meier curves of one table split by a categorical column (or none).

    Parameters
    ----------
    by : str, optional
        Grouping column (``None``: one curve for all).
    duration_col, event_col, entry_col : str
        Tenure in months, churn indicator, entry tenure (left truncation; ``None`` for none).
    min_accounts : int
        Groups with fewer accounts are pooled into "other"; with ``order`` (named categories: NPS answers, health
        bands) they are left out with the reason instead, as pooling would mix categories that mean opposite
        things (passives with promoters) under a name that says none of them.
    min_at_risk : int
        A curve is shown (and read off) only over the tenures where at least this many accounts are at
        risk: from where enough have entered (a group made only of left-truncated accounts starts late, and
        its curve is then conditional on having reached that tenure) to where too few remain.
    require_at_risk : bool
        Leave out (with the reason) a group that never has ``min_at_risk`` accounts at risk at once, as the
        survival report does: otherwise such a group gets a curve no report would draw from.
    order : list, optional
        The groups' order (default: sorted); a value of ``by`` not in it comes after, sorted (it is not dropped).

    Attributes
    ----------
    fitters_ : dict
        Group label -> fitted lifelines ``KaplanMeierFitter``.
    logrank_ : dict
        :func:`logrank` between the groups.
    """

    def __init__(self, by: str | None = None, duration_col: str = "duration", event_col: str = "event",
                 entry_col: str | None = "entry", min_accounts: int = 10, min_at_risk: int = _AT_RISK_MIN,
                 order=None, require_at_risk: bool = False):
        self.by = by
        self.require_at_risk = require_at_risk
        self.min_at_risk = min_at_risk
        self.duration_col = duration_col
        self.event_col = event_col
        self.entry_col = entry_col
        self.min_accounts = min_accounts
        self.order = order

    def _groups(self, df: pd.DataFrame) -> pd.Series:
        if self.by is None:
            return pd.Series("all", index=df.index)
        g = df[self.by].astype("string").fillna("(missing)")
        if self.order is not None:  # named categories are not pooled: a small one is left out, with the reason
            return g
        counts = g.value_counts()
        small = counts[counts < self.min_accounts].index
        if len(small) and len(counts) > len(small):
            g = g.where(~g.isin(small), "other")
        return g

    def fit(self, df: pd.DataFrame) -> KaplanMeierGroups:
        entry = self.entry_col if self.entry_col and self.entry_col in df else None
        at_risk = df[self.duration_col] > (df[entry] if entry else 0)
        data = df[at_risk]
        # rows whose follow-up ends at or before it starts (churned before the data begin, or before the entry of
        # their group, e.g. an NPS answer): in no curve, counted and said, not dropped in silence
        gone = df[~at_risk]
        self.no_time_at_risk_ = ({"accounts": len(gone), "churned": int(gone[self.event_col].sum())}
                                 if len(gone) else {})
        if len(gone):
            log.info("%s with no time at risk (%s <= %s) left out of the Kaplan-Meier curves", count(len(gone), "row"),
                     self.duration_col, entry or 0)
        groups = self._groups(data)
        present = set(groups.unique())
        # every group found is fitted or left out with its reason: a value missing from ``order`` came after it
        # (the groups of 10 accounts pooled into "other" were neither fitted nor listed: they vanished)
        labels = [lab for lab in (() if self.order is None else self.order) if lab in present]
        labels += sorted(present - set(labels), key=str)
        self.fitters_ = {}
        self.data_ = {}
        self.conditional_ = {}  # group -> tenure its curve is conditional on (see _fit_group)
        self.left_out_ = {}  # group -> why it has no curve
        used = []
        for lab in labels:
            d = data[groups == lab]
            if self.order is not None and len(d) < self.min_accounts:
                self.left_out_[lab] = {"accounts": len(d), "churned": int(d[self.event_col].sum()),
                                       "min_at_risk": self.min_at_risk, "min_accounts": self.min_accounts,
                                       "reason": Why("reason.km_few_accounts", n=self.min_accounts)}
                continue
            fitted = self._fit_group(lab, d, entry)
            if fitted is not None:
                used.append(fitted.index)
        self.labels_ = [lab for lab in labels if lab in self.fitters_]
        if not self.labels_:
            # the grouping column by its name in the catalogue (a reason read "by nps_category" in both languages)
            by = Why.of({lang: t(self.by, lang) if self.by in catalogue() else self.by for lang in LANGS})
            what = Why("reason.km_by", by=by) if self.by else Why("reason.km_all")
            if not self.left_out_:
                raise Thin("reason.km_no_time", what=what)
            def group(k, lang):  # the whole population's curve is "all accounts", not its key "all"
                return t("all", lang) if not self.by else (t(k, lang) if str(k) in catalogue() else str(k))
            why = Why.of({lang: t("sep.list", lang).join(t("sep.label_value", lang, what=group(k, lang),
                                                             value=text(v["reason"], lang))
                                                           for k, v in self.left_out_.items())
                          for lang in LANGS})
            raise Thin("reason.km_no_group", what=what, why=why)
        kept = data.loc[np.concatenate(used)] if used else data.iloc[0:0]
        kept_entry = None
        if entry:
            kept_entry = kept[entry].copy()
            for lab, t0 in self.conditional_.items():
                mask = groups.loc[kept.index] == lab
                kept_entry[mask] = np.maximum(kept_entry[mask], t0)
        self.logrank_ = logrank(kept[self.duration_col], kept[self.event_col], groups.loc[kept.index], kept_entry)
        return self

    def _fit_group(self, lab, d: pd.DataFrame, entry: str | None) -> pd.DataFrame | None:
        """Fit one group's curve; returns the rows it used (None: the group is left out, with the reason).

        With left truncation the risk set can empty early in tenure (the few accounts that entered first all
        churn while later ones have not entered yet): the product-limit estimate is then 0 from there on and
        lifelines refuses ("too few early truncation times"). Such a group's curve is estimated conditional on
        having reached the first tenure with ``min_at_risk`` accounts at risk, which is where the report starts
        drawing it anyway (:meth:`span`); a group that never reaches that many is left out.
        """
        from lifelines.exceptions import StatError

        dur, ev = d[self.duration_col].to_numpy(float), d[self.event_col].to_numpy(int)
        a = d[entry].to_numpy(float) if entry else np.zeros(len(d))
        if self.require_at_risk and _most_at_risk(a, dur) < self.min_at_risk:
            # the report draws a curve where it has min_at_risk accounts at risk: a group that never has them
            # had a curve of 4 accounts (median 11.3, interval 11.3 to 11.3) beside a group of 3 left out
            self.left_out_[lab] = {"accounts": len(d), "churned": int(ev.sum()), "min_at_risk": self.min_at_risk,
                                   "reason": Why("reason.km_never_at_risk", n=self.min_at_risk)}
            return None
        kmf = KaplanMeierFitter(label=str(lab))
        try:
            kmf.fit(dur, ev, entry=a if entry else None)
        except StatError:
            grid = np.unique(np.r_[0.0, a, dur])
            at_risk = ((a[None, :] <= grid[:, None]) & (dur[None, :] > grid[:, None])).sum(1)
            ok = np.flatnonzero(at_risk >= self.min_at_risk)
            left_out = {"accounts": len(d), "churned": int(ev.sum()), "min_at_risk": self.min_at_risk}
            if not len(ok):
                self.left_out_[lab] = {**left_out, "reason": Why("reason.km_never_at_risk", n=self.min_at_risk)}
                return None
            t0 = float(grid[ok[0]])
            keep = dur > t0
            d, dur, ev, a = d[keep], dur[keep], ev[keep], np.maximum(a[keep], t0)
            try:
                kmf.fit(dur, ev, entry=a)
            except StatError:
                self.left_out_[lab] = {**left_out, "reason": Why("reason.km_left_before", t0=f"{t0:.1f}")}
                return None
            self.conditional_[lab] = t0
        self.fitters_[lab] = kmf
        self.data_[lab] = (dur, ev, a)
        return d

    # -------------------------------------------------------------------------------------- results
    def at_risk(self, times) -> pd.DataFrame:
        """Accounts at risk at each time (entered at or before it, still a customer after it), per group."""
        times = np.asarray(times, float)
        out = {}
        for lab, (d, _, a) in self.data_.items():
            out[lab] = ((a[None, :] <= times[:, None]) & (d[None, :] > times[:, None])).sum(1)
        return pd.DataFrame(out, index=pd.Index(times, name="time"))

    def survival_at(self, times) -> pd.DataFrame:
        """Survival with its 95% interval at the given times, one row per group and time.

        Where a group has had no churn by then, Greenwood's interval is the point 1 to 1 (its variance is 0):
        the interval is then Wilson's for no churn among the accounts still followed at that time (a group of 60
        accounts with a true 97% retention shows 100% one time in six; "100% (100% to 100%)" covered the truth 82%
        of the time for a nominal 95%)."""
        rows = []
        for lab, kmf in self.fitters_.items():
            ci = kmf.confidence_interval_survival_function_
            for tm in np.atleast_1d(times):
                s = float(kmf.survival_function_at_times(tm).iloc[0])
                k = np.searchsorted(ci.index.to_numpy(float), tm, side="right") - 1
                lo, hi = ci.iloc[k].to_numpy(float) if k >= 0 else (1.0, 1.0)
                if s >= 1.0 and lo >= 1.0:
                    n = int(self.at_risk([tm])[lab].iloc[0])
                    if n > 0:
                        lo, hi = (float(v) for v in wilson_interval(n, n))
                rows.append({"group": lab, "time": float(tm), "survival": s, "ci_low": lo, "ci_high": hi})
        return pd.DataFrame(rows)

    def span(self, label, min_at_risk: int | None = None) -> tuple[float, float]:
        """First and last tenure of the curve estimated with at least ``min_at_risk`` accounts at risk: from the
        first time that many are at risk, to the time their number falls below it (the estimate there is made
        with the accounts at risk just before: the last it is made with enough)."""
        n_min = self.min_at_risk if min_at_risk is None else min_at_risk
        d, _, a = self.data_[label]
        grid = np.unique(np.r_[0.0, a, d])
        n = self.at_risk(grid)[label].to_numpy()
        ok = np.flatnonzero(n >= n_min)
        if not len(ok):
            return float("nan"), float("nan")
        # at_risk counts the accounts still there after a time; a curve's value at the next time is made with
        # those (a 12-month retention between two churn times with 10 at risk was "fewer than 10 at risk")
        return float(grid[ok[0]]), float(grid[min(ok[-1] + 1, len(grid) - 1)])

    @property
    def summary(self) -> pd.DataFrame:
        """Per group: accounts, churned, tenure the curve starts at, median lifetime (months) with its 95%
        interval, retention at 12 and 24 months with theirs (``retention_12m_low``/``_high``; empty outside the
        curve's span, where fewer than ``min_at_risk`` accounts are at risk)."""
        rows = []
        for lab, kmf in self.fitters_.items():
            d, e, _ = self.data_[lab]
            first, last = self.span(lab)
            med = kmf.median_survival_time_
            ci = median_survival_times(kmf.confidence_interval_)
            lo, hi = (float(ci.iloc[0, 0]), float(ci.iloc[0, 1])) if len(ci) else (np.nan, np.nan)
            row = {"group": lab, "accounts": len(d), "churned": int(e.sum()), "from_months": first,
                   "median_months": float(med), "median_low": lo, "median_high": hi}
            for tm in (12, 24):
                s = self.survival_at([tm])
                s = s[s["group"] == lab].iloc[0]
                inside = first <= tm <= last
                row[f"retention_{tm}m"] = s["survival"] if inside else np.nan
                row[f"retention_{tm}m_low"] = s["ci_low"] if inside else np.nan
                row[f"retention_{tm}m_high"] = s["ci_high"] if inside else np.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def result(self, min_at_risk: int | None = None, ticks=None) -> KaplanMeierResult:
        """The curves as drawn (each over its :meth:`span`), at-risk counts at the ticks, summary and log-rank
        test: everything a report shows, as tables (:meth:`KaplanMeierResult.to_tables` stores them)."""
        rows, t_end = [], 0.0
        for lab in self.labels_:
            kmf = self.fitters_[lab]
            first, last = self.span(lab, min_at_risk)
            if not np.isfinite(first):
                continue
            sf = kmf.survival_function_.iloc[:, 0]
            band = kmf.confidence_interval_survival_function_
            keep = (sf.index >= first) & (sf.index <= last)
            t_end = max(t_end, last)
            rows.append(pd.DataFrame({"group": str(lab), "time": sf.index[keep].to_numpy(float),
                                      "survival": sf.to_numpy()[keep], "ci_low": band.iloc[:, 0].to_numpy()[keep],
                                      "ci_high": band.iloc[:, 1].to_numpy()[keep]}))
        curves = (pd.concat(rows, ignore_index=True) if rows else
                  pd.DataFrame(columns=["group", "time", "survival", "ci_low", "ci_high"]))
        ticks = np.asarray(ticks if ticks is not None else _ticks(t_end), float)
        counts = self.at_risk(ticks)
        counts.columns = [str(c) for c in counts.columns]
        return KaplanMeierResult(by=self.by, labels=[str(lab) for lab in self.labels_],
                                 n={str(lab): int(len(self.data_[lab][0])) for lab in self.labels_},
                                 curves=curves, at_risk=counts.reset_index(), summary=self.summary.assign(
                                     group=lambda d: d["group"].astype(str)),
                                 logrank=self.logrank_, t_end=float(t_end),
                                 left_out={str(k): v for k, v in self.left_out_.items()},
                                 min_at_risk=self.min_at_risk if min_at_risk is None else min_at_risk,
                                 no_time_at_risk=dict(self.no_time_at_risk_))

    def plot(self, ax=None, lang: str = "en", ci: bool = True, at_risk: bool = True, ticks=None,
             min_at_risk: int | None = None, colors=None):
        """Curves with confidence bands and at-risk counts under the axis, each drawn over :meth:`span`
        (an estimate from a handful of accounts is noise). See :meth:`KaplanMeierResult.plot`."""
        return self.result(min_at_risk, ticks).plot(ax=ax, lang=lang, ci=ci, at_risk=at_risk, colors=colors)

    def logrank_text(self, lang: str = "en") -> str:
        """One sentence: do the groups' curves differ?"""
        return self.result().logrank_text(lang)

    def to_tables(self) -> tuple[dict[str, pd.DataFrame], dict]:
        return self.result().to_tables()


@dataclass
class KaplanMeierResult:
    """Kaplan-Meier curves by group as tables: what a report draws and tabulates, without the fitted objects.

    ``curves``: group, time, survival, ci_low, ci_high (each group over the tenures with enough accounts at
    risk); ``at_risk``: accounts at risk per group at the axis ticks; ``summary``: per group accounts, churned,
    median lifetime with its interval, retention at 12 and 24 months; ``logrank``: the test between groups.
    """

    by: str | None
    labels: list[str]
    n: dict[str, int]
    curves: pd.DataFrame
    at_risk: pd.DataFrame
    summary: pd.DataFrame
    logrank: dict
    t_end: float
    left_out: dict = field(default_factory=dict)  # group -> accounts, churned, reason: groups without a curve
    min_at_risk: int | None = None  # a curve is drawn (and read) where at least this many accounts are at risk
    #: rows left out with no time at risk (duration at or below entry): ``{"accounts", "churned"}``, empty if none
    no_time_at_risk: dict = field(default_factory=dict)

    def to_tables(self) -> tuple[dict[str, pd.DataFrame], dict]:
        """``({"curves", "at_risk", "summary"}: DataFrame, info)``: Parquet-ready tables and JSON-ready info."""
        info = {"by": self.by, "labels": self.labels, "n": self.n, "logrank": self.logrank, "t_end": self.t_end,
                "left_out": self.left_out, "min_at_risk": self.min_at_risk, "no_time_at_risk": self.no_time_at_risk,
                "tables": ["curves", "at_risk", "summary"]}
        return {"curves": self.curves, "at_risk": self.at_risk, "summary": self.summary}, info

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame], info: dict) -> KaplanMeierResult:
        return cls(by=info["by"], labels=list(info["labels"]), n=dict(info["n"]), curves=tables["curves"],
                   at_risk=tables["at_risk"], summary=tables["summary"], logrank=info["logrank"],
                   t_end=float(info["t_end"]), left_out=dict(info.get("left_out") or {}),
                   min_at_risk=info.get("min_at_risk"), no_time_at_risk=dict(info.get("no_time_at_risk") or {}))

    def plot(self, ax=None, lang: str = "en", ci: bool = True, at_risk: bool = True, colors=None, names=None,
             xlabel: str | None = None):
        """Curves with confidence bands, and the accounts at risk under the axis; returns the ``ax``.

        ``colors`` and ``names`` map a group to its colour and legend name (default: the catalogue's word);
        ``xlabel`` replaces "tenure (months)" when time is another clock.
        """
        import matplotlib.pyplot as plt

        ax = new_ax(ax, figsize=(9, 4.5 + 0.25 * len(self.labels) * at_risk))
        cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, lab in enumerate(self.labels):
            g = self.curves[self.curves["group"] == lab]
            if g.empty:
                continue
            colour = (colors or {}).get(lab) or BAND_COLOURS.get(lab) or cycle[i % len(cycle)]
            name = (names or {}).get(lab) or (t(lab, lang) if self.by else t("accounts", lang))
            ax.step(g["time"], g["survival"], where="post", color=colour,
                    label=t("legend.accounts", lang, name=name, n=f"{self.n[lab]:,}"))
            if ci:
                ax.fill_between(g["time"], g["ci_low"], g["ci_high"], step="post", color=colour, alpha=0.15)
        ax.set_xlim(0, self.t_end)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel or t("tenure_months", lang))
        ax.set_ylabel(t("survival", lang))
        ax.legend(loc="best", fontsize=9)
        if at_risk:
            ticks = self.at_risk["time"].to_numpy(float)
            ax.set_xticks(ticks)
            # the table sits below the tick labels and the axis label, in points so any figure size works
            top, step = -46, 12
            ax.annotate(t("at_risk", lang), xy=(0, 0), xycoords="axes fraction", xytext=(-14, top),
                        textcoords="offset points", ha="right", va="top", fontsize=9)
            for r, lab in enumerate(self.labels):
                y = top - step * (r + 1)
                name = (names or {}).get(lab) or (t(lab, lang) if self.by else t("accounts", lang))
                ax.annotate(name, xy=(0, 0), xycoords="axes fraction", xytext=(-14, y), textcoords="offset points",
                            ha="right", va="top", fontsize=8)
                for tk, c in zip(ticks, self.at_risk[lab], strict=True):
                    ax.annotate(f"{int(c):,}", xy=(tk, 0), xycoords=("data", "axes fraction"), xytext=(0, y),
                                textcoords="offset points", ha="center", va="top", fontsize=8)
        return ax

    def logrank_text(self, lang: str = "en") -> str:
        """One sentence: do the groups' curves differ?"""
        lr = self.logrank
        if not lr["df"]:
            return ""
        key = "surv.logrank_differ" if lr["p"] < 0.05 else "surv.logrank_same"
        return t(key, lang, by=t(self.by or "", lang), stat=f"{lr['test_statistic']:.1f}", df=lr["df"],
                 p=p_is(lr["p"]))


def _ticks(t_end: float) -> np.ndarray:
    step = next((s for s in (1, 2, 3, 6, 12, 24, 30, 60, 90, 180, 365, 730) if t_end / s <= 10), t_end / 10 or 1)
    return np.arange(0, t_end + 1e-9, step)
