"""Behavioural personas: clusters of accounts by how they use the product, named the same from run to run.

A *persona* here is a group of accounts that behave alike over a trailing window: how many of their seats
are in use, how many features they touch, how long and how much each active user works and exports, how
much of the content the company sends they read, how much they post in the community. The measures are per
active user or per seat, so a persona says *how* an account uses the product, not how big it is (size,
revenue, tickets, NPS and devices describe the personas afterwards).

1. **Scaling.** The panel columns of :data:`DEFAULT_METRICS` (the longest window) go through the health
   score's skew-aware scaler (:class:`~engage_models.health.scaling.SkewScaler`: median imputation, log1p
   for fat-tailed counts, z-scores), fitted on the accounts with at least ``min_tenure_days`` of tenure
   (an account in its first months has partial windows) at the observation dates of the last year.
2. **How many personas.** k-means for each ``k`` of ``k_range``. For each ``k``: the silhouette (mean over
   a fixed sample of rows; Rousseeuw 1987) and the *stability*: the median adjusted Rand index between the
   clustering of all rows and that of ``n_bootstrap`` resamples of accounts (an account's rows are drawn
   together), each refitted and applied to all rows (Hennig 2007; Lange et al. 2004). The chosen ``k`` has
   the highest silhouette among those whose stability is at least ``min_stability``; when none is, the
   most stable one. The previous run's number (``previous_k``, from the registry) is kept while it is still
   stable and its silhouette is within ``keep_within`` (0.02) of the best: on a 250-account world the chosen
   ``k``'s silhouette moved by up to 0.011 from week to week on the same accounts, while the best two stable
   ``k`` were 0.010-0.016 apart, so a weekly run could say 3, 4, 3 personas on noise
   (``benchmarks/persona_k_weekly.py``).
3. **Names that stay.** :class:`PersonaRegistry` keeps each persona's centroid in the metrics' own units in
   a small JSON file. A new fit is matched to it by the Hungarian assignment (``scipy.optimize.
   linear_sum_assignment``) on the root-mean-square distance between centroids in the new fit's z-scores;
   a pair closer than ``max_distance`` keeps the registered name ("persona 2"), any other cluster gets the
   next free number. Persona numbers are never reused.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"a": np.r_[rng.normal(0, 0.3, 60), rng.normal(3, 0.3, 60)],
...                   "b": np.r_[rng.normal(0, 0.3, 60), rng.normal(-3, 0.3, 60)]})
>>> model = PersonaModel(metrics=["a", "b"], k_range=(2, 3), n_bootstrap=5).fit(X)
>>> model.n_personas_, sorted(np.bincount(model.labels_).tolist())
(2, [60, 60])
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._core.i18n import t
from .._core.io import jsonable, read_json, write_json
from .._core.time import to_utc
from ..features import metrics as M
from ..health.scaling import SkewScaler
from .reasons import Thin

log = logging.getLogger(__name__)

#: Panel columns the personas are fitted on (``{w}``: the panel's longest window): behaviour, not size.
DEFAULT_METRICS = ("active_user_ratio{w}", "feature_breadth{w}", "usage_hours_per_user{w}", "exports_per_user{w}",
                   "content_views_per_user{w}", "community_posts_per_user{w}")
#: Columns that describe the personas once found (those of the fit, and size, revenue, support, sentiment).
PROFILE_METRICS = ("seats", "active_user_ratio{w}", "feature_breadth{w}", "dau_mau", "usage_hours_per_user{w}",
                   "exports_per_user{w}", "content_views_per_user{w}", "community_posts_per_user{w}",
                   "events_attended{w}", "tickets{w}", "nps_latest", "mrr", "tenure_days", "mobile_share")
#: A persona is described by the profile metrics whose mean z-score is at least this far from 0 (at most 3).
DESCRIBE_Z = 0.5


def metric_columns(names, windows=(28, 90)) -> list[str]:
    """``names`` with ``{w}`` replaced by the longest window (``exports_per_user{w}`` -> ``exports_per_user_90d``)."""
    w = f"_{max(windows)}d"
    return [n.replace("{w}", w) for n in names]


def _bootstrap_rows(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a resample of whole groups (accounts), drawn with replacement."""
    codes, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(codes)))
    ends = np.r_[starts[1:], len(order)]
    pick = rng.integers(0, len(codes), len(codes))
    return np.concatenate([order[starts[g]:ends[g]] for g in pick])


class PersonaModel(ClusterMixin, BaseEstimator):
    """k-means personas on skew-aware scaled metrics, ``k`` chosen by silhouette among stable solutions.

    Parameters
    ----------
    metrics : list of str, optional
        Columns to cluster on (default :data:`DEFAULT_METRICS` with the 90-day window).
    k_range : (int, int)
        Smallest and largest number of personas tried.
    n_bootstrap : int
        Resamples of accounts for the stability of each ``k`` (0: stability not measured, silhouette alone).
    min_stability : float
        Median adjusted Rand index a ``k`` needs to be chosen on its silhouette.
    silhouette_sample : int
        Rows the silhouette is computed on (a fixed random sample; all rows when fewer).
    previous_k : int, optional
        The number of personas of the previous run: kept while stable and within ``keep_within`` of the best
        silhouette (``criterion_`` then says so).
    keep_within : float
        Silhouette the previous run's number may lose against the best before it changes (0: never kept).
    random_state : int

    Attributes
    ----------
    scaler_ : SkewScaler
    selection_ : DataFrame
        ``k``, ``silhouette``, ``stability`` (median ARI), ``stability_low`` (its 10th percentile), ``chosen``.
    n_personas_ : int
    kmeans_ : KMeans
    labels_ : ndarray
        Cluster of each row of the training data (0-based, in k-means' own order).
    centroids_ : DataFrame
        One row per cluster: the centroid in the metrics' own units (the inverse of the scaling).
    """

    def __init__(self, metrics=None, k_range=(2, 6), n_bootstrap: int = 20, min_stability: float = 0.8,
                 silhouette_sample: int = 2000, previous_k: int | None = None, keep_within: float = 0.02,
                 random_state: int = 0):
        self.metrics = metrics
        self.previous_k = previous_k
        self.keep_within = keep_within
        self.k_range = k_range
        self.n_bootstrap = n_bootstrap
        self.min_stability = min_stability
        self.silhouette_sample = silhouette_sample
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y=None, groups=None):
        """Choose ``k`` and fit. ``groups`` (e.g. the account of each row) makes the bootstrap resample whole
        groups; without it rows are resampled one by one.

        The many small k-means fits run on one thread: OpenMP's thread team costs more than it saves on a few
        thousand rows, and far more on a busy machine (25x measured with two cores under load).
        """
        with threadpool_limits(1):
            return self._fit(pd.DataFrame(X), groups)

    def _fit(self, X: pd.DataFrame, groups):
        self.metrics_ = list(self.metrics) if self.metrics is not None else metric_columns(DEFAULT_METRICS)
        missing = [c for c in self.metrics_ if c not in X.columns]
        if missing:
            raise KeyError(f"persona metrics missing from the data: {missing}")
        self.scaler_ = SkewScaler(missing_indicators=False).fit(X[self.metrics_])
        Z = self.scaler_.transform(X[self.metrics_]).to_numpy(float)
        n = len(Z)
        lo, hi = self.k_range
        ks = [k for k in range(max(2, lo), hi + 1) if k < n]
        if not ks:
            raise Thin("pj.why.too_few_rows", n=n, lo=lo, hi=hi)
        groups = np.arange(n) if groups is None else np.asarray(groups)
        rng = np.random.default_rng(self.random_state)
        sample = min(n, self.silhouette_sample)
        rows, fits = [], {}
        for k in ks:
            km = KMeans(k, n_init=10, random_state=self.random_state).fit(Z)
            fits[k] = km
            sil = float(silhouette_score(Z, km.labels_, sample_size=sample, random_state=self.random_state)) \
                if len(np.unique(km.labels_)) > 1 else np.nan
            aris = []
            for b in range(self.n_bootstrap):
                idx = _bootstrap_rows(groups, rng)
                kb = KMeans(k, n_init=3, random_state=self.random_state + 1 + b).fit(Z[idx])
                aris.append(adjusted_rand_score(km.labels_, kb.predict(Z)))
            rows.append({"k": k, "silhouette": sil,
                         "stability": float(np.median(aris)) if aris else np.nan,
                         "stability_low": float(np.quantile(aris, 0.1)) if aris else np.nan})
        sel = pd.DataFrame(rows)
        self.best_k_ = None
        stable = sel[sel["stability"] >= self.min_stability] if self.n_bootstrap else sel
        if len(stable) and stable["silhouette"].notna().any():
            k = int(stable.loc[stable["silhouette"].idxmax(), "k"])
            self.criterion_ = "silhouette among stable" if self.n_bootstrap else "silhouette"
            prev = stable[stable["k"] == self.previous_k]
            best = float(stable["silhouette"].max())
            if self.previous_k not in (None, k) and len(prev) and self.keep_within > 0 \
                    and float(prev["silhouette"].iloc[0]) >= best - self.keep_within:
                self.best_k_, k = k, int(self.previous_k)  # the best by a margin within week-to-week noise
                self.criterion_ = "previous number kept"
        else:
            k = int(sel.loc[sel["stability"].fillna(-1).idxmax(), "k"])
            self.criterion_ = "most stable"
        sel["chosen"] = sel["k"] == k
        self.selection_ = sel
        self.n_personas_ = k
        self.kmeans_ = fits[k]
        self.labels_ = self.kmeans_.labels_.copy()
        self.centroids_ = self.raw_centroids(self.kmeans_.cluster_centers_)
        return self

    def raw_centroids(self, centers: np.ndarray) -> pd.DataFrame:
        """Centroids given in z-scores, in the metrics' own units."""
        return pd.DataFrame({c: self.scaler_.inverse_column(c, centers[:, j]) for j, c in enumerate(self.metrics_)})

    def transform(self, X) -> pd.DataFrame:
        check_is_fitted(self, "kmeans_")
        return self.scaler_.transform(pd.DataFrame(X)[self.metrics_])

    def predict(self, X) -> np.ndarray:
        """The nearest persona centroid of each row (0-based cluster numbers, as ``labels_``)."""
        Z = self.transform(X).to_numpy(float)
        with threadpool_limits(1):
            return self.kmeans_.predict(Z)

    def distances(self, centroids: pd.DataFrame) -> np.ndarray:
        """Root-mean-square distance (z units of this fit) from each cluster to each row of ``centroids`` (given
        in the metrics' own units), over the metrics both have; NaN when they share none."""
        common = [c for c in self.metrics_ if c in centroids.columns]
        if not common or centroids.empty:
            return np.full((self.n_personas_, len(centroids)), np.nan)
        full = pd.DataFrame({c: centroids[c] if c in common else np.nan for c in self.metrics_})
        z_old = self.scaler_.transform(full)[common].to_numpy(float)
        cols = [self.metrics_.index(c) for c in common]
        z_new = self.kmeans_.cluster_centers_[:, cols]
        return np.sqrt(((z_new[:, None, :] - z_old[None, :, :]) ** 2).mean(axis=2))


# --------------------------------------------------------------------------------------------- names
class PersonaRegistry:
    """Persona names that stay the same across runs (see the module docstring).

    The file (JSON) holds, per persona number, its centroid in the metrics' own units, the first and last
    observation date it was seen, and its description when last seen; and one line per run. A missing file
    is an empty registry (the first run numbers the personas by size, largest first). ``section`` names the
    kind of persona (``personas``: accounts; ``user_personas``: users): each kind is numbered on its own in
    the same file.
    """

    def __init__(self, path: str | Path | None = None, section: str = "personas"):
        self.path = Path(path) if path is not None else None
        self.section = section
        data = self._read()
        self.personas: dict[str, dict] = dict(data.get(section, {}))
        self.runs: list[dict] = list(data.get(self._runs_key, []))

    @property
    def _runs_key(self) -> str:
        return "runs" if self.section == "personas" else f"{self.section}_runs"

    def _read(self) -> dict:
        return read_json(self.path) if self.path is not None and self.path.is_file() else {}

    @staticmethod
    def digest_of(path: str | Path) -> str:
        """SHA-256 of the personas a registry file records (every section but the logs of runs and the stage's
        seal), canonical JSON."""
        data = read_json(Path(path))
        content = {k: v for k, v in data.items() if k not in ("runs", "written") and not k.endswith("_runs")}
        return hashlib.sha256(json.dumps(jsonable(content), sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    @property
    def centroids(self) -> pd.DataFrame:
        """One row per registered persona (index: its number)."""
        if not self.personas:
            return pd.DataFrame()
        return pd.DataFrame({int(k): v["centroid"] for k, v in self.personas.items()}).T.sort_index()

    def match(self, model: PersonaModel, sizes, max_distance: float = 0.5) -> pd.DataFrame:
        """The persona number of each cluster of ``model``: one row per cluster with ``persona``, ``status``
        (``kept``: matched to a registered persona; ``new``), ``distance`` to the registered centroid.

        ``sizes`` (rows per cluster) orders the new personas' numbers, largest first.
        """
        old = self.centroids
        k = model.n_personas_
        persona = np.zeros(k, dtype=int)
        distance = np.full(k, np.nan)
        matched = np.zeros(k, dtype=bool)
        if len(old):
            d = model.distances(old)
            if np.isfinite(d).any():
                cost = np.where(np.isfinite(d), d, 1e6)
                rows, cols = linear_sum_assignment(cost)
                for r, c in zip(rows, cols, strict=True):
                    if d[r, c] <= max_distance:
                        persona[r], distance[r], matched[r] = int(old.index[c]), d[r, c], True
        used = {int(p) for p in self.personas}
        nxt = max(used, default=0) + 1
        for r in sorted(np.flatnonzero(~matched), key=lambda i: (-int(np.asarray(sizes)[i]), i)):
            persona[r] = nxt
            nxt += 1
        return pd.DataFrame({"cluster": np.arange(k), "persona": persona,
                             "status": np.where(matched, "kept", "new"), "distance": distance})

    def previous_k(self, as_of) -> int | None:
        """The number of personas of the latest run recorded before ``as_of`` (None: no such run)."""
        earlier = [r for r in self.runs if r.get("as_of") and to_utc(r["as_of"]) < to_utc(as_of)]
        if not earlier:
            return None
        last = max(earlier, key=lambda r: to_utc(r["as_of"]))
        return len(last.get("personas") or {}) or None

    def latest_seen(self) -> pd.Timestamp | None:
        """The latest observation date the registry records (a run's, or a persona's last sighting)."""
        dates = [r.get("as_of") for r in self.runs] + [p.get("last_seen") for p in self.personas.values()]
        dates = [to_utc(d) for d in dates if d]
        return max(dates) if dates else None

    def update(self, model: PersonaModel, matches: pd.DataFrame, as_of, descriptions: dict | None = None) -> str:
        """Record this fit under its persona numbers (and the run), and write the file. Returns ``latest``, or
        ``backfill`` for a fit for a date more than a day before the latest the registry records.

        A backfill records what it learned about the past and changes nothing of the present: a persona it
        finds that the registry lacks is registered (seen on that date only, so no later run gives its number to
        another persona), a registered one it finds was first seen no later than then; the centroids, last
        sightings and words of later runs stay (a backfill of June replaced July's centroids, and a later run
        matched its personas against them). A day's tolerance: a run of the same date under another time zone is
        not a backfill.
        """
        when = to_utc(as_of)
        later = self.latest_seen()
        backfill = later is not None and when < later - pd.Timedelta(days=1)
        iso = when.isoformat()
        for r in matches.itertuples():
            key = str(int(r.persona))
            centroid = {c: float(v) for c, v in model.centroids_.iloc[int(r.cluster)].items()}
            words = descriptions.get(int(r.persona)) if descriptions else None
            entry = self.personas.get(key)
            if entry is None:
                entry = {"first_seen": iso, "centroid": centroid, "last_seen": iso}
                if words is not None:
                    entry["description"] = words
            elif backfill:
                if entry.get("first_seen") is None or to_utc(entry["first_seen"]) > when:
                    entry["first_seen"] = iso
            else:
                entry.update({"centroid": centroid, "last_seen": iso})
                if words is not None:
                    entry["description"] = words
            self.personas[key] = entry
        self.runs.append({"as_of": iso, "metrics": list(model.metrics_),
                          "personas": {str(int(r.persona)): r.status for r in matches.itertuples()},
                          **({"backfill": True} if backfill else {})})
        self.runs = self.runs[-50:]
        if backfill:
            log.info("persona registry: a backfill for %s (the latest recorded is %s): new personas registered, "
                     "later centroids kept", f"{when:%Y-%m-%d}", f"{later:%Y-%m-%d}")
        if self.path is not None:  # the other sections (account and user personas share the file) as they are
            data = {"version": 1, **self._read(), self.section: self.personas, self._runs_key: self.runs}
            write_json(self.path, jsonable(data))
        return "backfill" if backfill else "latest"


# --------------------------------------------------------------------------------------------- words
def profile(frame: pd.DataFrame, persona: pd.Series, columns: list[str]) -> pd.DataFrame:
    """Per persona and metric: the persona's median, everyone's median, and the persona's mean z-score
    (skew-aware scaling fitted on ``frame``: the accounts described). One row per (persona, metric)."""
    cols = [c for c in columns if c in frame.columns and frame[c].notna().any()]
    if not cols:
        return pd.DataFrame(columns=["persona", "metric", "median", "overall_median", "z"])
    X = frame[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    z = SkewScaler(missing_indicators=False).fit(X).transform(X)
    z = z.where(X.notna())  # an account without a value (no NPS answer) does not count
    g = pd.Series(np.asarray(persona), index=frame.index)
    rows = []
    for p in sorted(g.unique()):
        sel = g == p
        for c in cols:
            rows.append({"persona": int(p), "metric": c, "median": _median(X.loc[sel, c]),
                         "overall_median": _median(X[c]), "z": float(z.loc[sel, c].mean())})
    return pd.DataFrame(rows)


def _median(x: pd.Series) -> float:
    """The median of the values ``x`` has; NaN when it has none (pandas' median of a column without a value
    asks numpy for the mean of an empty slice, a RuntimeWarning: a persona with no NPS answer on a thin world).

    >>> _median(pd.Series([1.0, np.nan, 3.0])), _median(pd.Series([np.nan]))
    (2.0, nan)
    """
    x = x.dropna()
    return float(x.median()) if len(x) else float("nan")


def distinctive(prof: pd.DataFrame, persona: int, k: int = 3, threshold: float = DESCRIBE_Z) -> list[dict]:
    """The ``k`` metrics that set ``persona`` apart most (mean z-score at least ``threshold`` from 0)."""
    p = prof[(prof["persona"] == persona) & prof["z"].abs().ge(threshold)]
    p = p.reindex(p["z"].abs().sort_values(ascending=False, kind="stable").index).head(k)
    return [{"metric": r.metric, "direction": "high" if r.z > 0 else "low", "z": float(r.z)} for r in p.itertuples()]


def _base(metric: str) -> str:
    """A column without its window suffix (``exports_per_user_90d`` -> ``exports_per_user``)."""
    return re.sub(r"_\d+d$", "", metric)


def metric_label(metric: str, lang: str = "en") -> str:
    """A profile metric's name: the registry's, else the catalogue's."""
    return M.label(metric, lang) if metric in M.REGISTRY_COLUMNS else t(metric, lang)


def words(items: list[dict], lang: str = "en") -> str:
    """A persona in words from :func:`distinctive` ("many seats, few of the seats in use, heavy exports")."""
    if not items:
        return t("persona.typical", lang)
    out = []
    for d in items:
        key = f"persona.word.{_base(d['metric'])}.{d['direction']}"
        text = t(key, lang)
        out.append(text if text != key else t(f"persona.{d['direction']}", lang, label=metric_label(d["metric"], lang)))
    return t("sep.comma", lang).join(out)


def persona_name(persona: int, lang: str = "en") -> str:
    return t("persona.name", lang, n=int(persona))
