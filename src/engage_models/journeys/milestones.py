"""Milestones of the customer journey, declared once, and whether reaching them early goes with staying.

A *milestone* is the first moment an account does something that matters on the way to value: its first
login, its first use of each key feature, its first export, the end of its onboarding, its first ticket,
its first community post, the first event it attended. Each is declared once in :data:`MILESTONES`, as the
first row of a processed table that matches some values (``{"event_type": "export"}``), so the reports,
the landmark analysis and your own milestones read the same definition. To add one, append a
:class:`Milestone` to :data:`MILESTONES`, or list it in a YAML file named by the configuration
(``personas.milestones_file``)::

    milestones:
      - name: first_dashboard_shared
        source: events                      # events, tickets, touchpoints or surveys
        match: {event_type: feature_use, feature: sharing}
        label: {en: first dashboard shared, ja: ダッシュボードの初回共有}

Values are compared as text, case-insensitively, and reach the SQL as bound parameters.

Reaching a milestone and staying a customer
-------------------------------------------
Comparing accounts that ever reached a milestone with those that never did flatters the milestone: an
account that leaves in its second month never gets the chance to reach it in its fifth, so "never reached"
fills with early leavers whatever the milestone does (immortal-time bias: the reachers' time before
reaching it is time they could not have left in). The **landmark** comparison avoids it (Anderson, Cain and
Gelber 1983; Dafni 2011): fix a landmark ``N`` days after the start, keep the accounts still customers at
``N``, group them by whether they had reached the milestone *by* ``N``, and follow both groups from ``N`` on.
:func:`naive_frame` builds the biased comparison for contrast (:func:`landmark_frame` the honest one); the
tests build a world in which a milestone does nothing and the naive comparison finds a large effect.

Only accounts whose start lies inside the data (on or after the first event) count: for the others, the
first login and the first export happened before the data begin.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

from .._core.errors import ConfigError, InsufficientData
from .._core.i18n import LANGS, count, t
from .._core.io import parquet_columns, parquet_source
from .._core.stats import benjamini_hochberg, difference_interval, wilson_interval
from .._core.time import DAYS_PER_MONTH, to_utc
from ..survival.kaplan_meier import KaplanMeierGroups
from .reasons import Thin, Why, reason_of, text

log = logging.getLogger(__name__)

#: Tables a milestone may come from, and the column that dates their rows.
SOURCES = {"events": "timestamp", "tickets": "opened_at", "touchpoints": "timestamp", "surveys": "submitted_at"}
GROUPS = ("reached", "not_reached")
#: Accounts a group must still have followed at a tenure for its retention to be read there (as the
#: survival report draws a curve only where this many are at risk).
MIN_AT_RISK = 10


@dataclass(frozen=True)
class Milestone:
    """The first row of ``source`` whose columns equal ``match`` (a value or a list of values each).

    ``per`` names a column whose values each make a milestone of their own (``per="feature"``: the first use
    of each key feature). ``sql`` is an extra predicate for the built-in milestones (a constant, never
    text from a file). ``label`` gives the names in English and Japanese (default: the catalogue's
    ``milestone.<name>``).
    """

    name: str
    source: str
    match: dict = field(default_factory=dict)
    per: str | None = None
    sql: str | None = None
    label: dict | None = None

    def text(self, lang: str = "en") -> str:
        if self.label and lang in self.label:
            return str(self.label[lang])
        return t(f"milestone.{self.name}", lang)


MILESTONES: tuple[Milestone, ...] = (
    Milestone("first_login", "events", {"event_type": "login"}),
    Milestone("first_use", "events", {"event_type": "feature_use"}, per="feature"),
    Milestone("first_export", "events", {"event_type": "export"}),
    Milestone("onboarding_completed", "events", {"event_type": "onboarding_completed"}),
    Milestone("first_ticket", "tickets", {}),
    Milestone("first_community_post", "touchpoints", {"channel": "community"}),
    Milestone("first_event_attended", "touchpoints", {"channel": ["event", "webinar"]}, sql="coalesce(attended, TRUE)"),
)


def load_milestones(path: str | Path) -> list[Milestone]:
    """Milestones of your own from a YAML file (see the module docstring); errors name the file and the entry."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read the milestones file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    entries = data.get("milestones") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a list under 'milestones:'")
    out = []
    for i, e in enumerate(entries):
        where = f"{path.name}: milestones[{i}]"
        if not isinstance(e, dict) or not e.get("name"):
            raise ConfigError(f"{where}: each milestone needs a name")
        unknown = set(e) - {"name", "source", "match", "per", "label"}
        if unknown:
            raise ConfigError(f"{where} ({e['name']}): {count(len(unknown), '=unknown key', '=unknown keys')} "
                              f"{', '.join(sorted(unknown))} "
                              "(a milestone has name, source, match, per, label)")
        if e.get("source") not in SOURCES:
            raise ConfigError(f"{where} ({e['name']}): source must be one of {', '.join(SOURCES)}, "
                              f"not {e.get('source')!r}")
        match = e.get("match") or {}
        if not isinstance(match, dict):
            raise ConfigError(f"{where} ({e['name']}): match must map columns to values")
        label = e.get("label")
        if label is not None and not isinstance(label, dict):
            raise ConfigError(f"{where} ({e['name']}): label must map languages to names ({{en: ..., ja: ...}})")
        out.append(Milestone(str(e["name"]), e["source"], {str(k): v for k, v in match.items()}, e.get("per"),
                             None, label))
    return out


def registry(extra=None, milestones_file: str | Path | None = None) -> list[Milestone]:
    """The built-in milestones, then those of ``milestones_file``, then ``extra``; a later one replaces an
    earlier one of the same name."""
    found = {m.name: m for m in MILESTONES}
    for m in [*(load_milestones(milestones_file) if milestones_file else []), *(extra or [])]:
        found[m.name] = m
    return list(found.values())


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def key_features(processed: str | Path, n: int = 5, until=None) -> list[str]:
    """The ``n`` features used by the most accounts (ties by name), in lower case: milestones match values
    case-insensitively, so ``Sharing`` and ``sharing`` are one feature."""
    path = Path(processed) / "events.parquet"
    if not path.exists() or "feature" not in parquet_columns(path):
        return []
    until = to_utc(until) if until is not None else pd.Timestamp.max.tz_localize("UTC")
    with duckdb.connect() as con:
        rows = con.execute("SELECT lower(feature) AS f, count(DISTINCT account_id) AS n FROM read_parquet($p,"
                           " hive_partitioning = false) "
                           "WHERE feature IS NOT NULL AND timestamp < $u GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $n",
                           {"p": parquet_source(path), "u": until, "n": int(n)}).fetchall()
    return [r[0] for r in rows]


def expand(milestones, features=()) -> list[Milestone]:
    """Milestones with ``per`` replaced by one milestone per value (``first_use`` -> ``first_use_dashboards``
    for each of ``features``, the only ``per`` column the package knows values of)."""
    out = []
    for m in milestones:
        if m.per is None:
            out.append(m)
            continue
        if m.per != "feature":
            raise ConfigError(f"milestone {m.name}: per={m.per!r} is not supported (per: feature)")
        for f in features:
            label = m.label or {lang: t(f"milestone.{m.name}", lang, feature=f) for lang in ("en", "ja")}
            label = {k: str(v).format(feature=f) for k, v in label.items()}
            out.append(replace(m, name=f"{m.name}_{f}", match={**m.match, m.per: f}, per=None, label=label))
    return out


def milestone_times(processed: str | Path, milestones, until) -> tuple[pd.DataFrame, dict[str, str]]:
    """When each account first reached each milestone (before ``until``).

    Returns
    -------
    (DataFrame, dict)
        ``account_id``, ``milestone``, ``reached_at`` (one row per account and milestone it reached), and the
        milestones that could not be computed with the reason (a missing table or column).
    """
    processed = Path(processed)
    until = to_utc(until)
    skipped: dict[str, str] = {}
    frames = []
    by_source: dict[str, list[Milestone]] = {}
    for m in milestones:
        by_source.setdefault(m.source, []).append(m)
    for source, ms in by_source.items():
        path = processed / f"{source}.parquet"
        if source not in SOURCES:
            for m in ms:
                skipped[m.name] = Why("pj.why.unknown_source", source=source)
            continue
        if not path.exists():
            for m in ms:
                skipped[m.name] = Why("pj.why.no_table", source=source)
            continue
        schema = parquet_columns(path)
        ts = SOURCES[source]
        params: dict = {"p": parquet_source(path), "until": until}
        cases = []
        for i, m in enumerate(ms):
            absent = [c for c in m.match if c not in schema]
            if absent:
                skipped[m.name] = Why("pj.why.no_column", source=source, cols=", ".join(absent))
                continue
            conds = []
            for j, (col, value) in enumerate(m.match.items()):
                values = value if isinstance(value, list | tuple) else [value]
                names = []
                for v_i, v in enumerate(values):
                    params[f"v{i}_{j}_{v_i}"] = str(v).lower()
                    names.append(f"$v{i}_{j}_{v_i}")
                conds.append(f"lower(CAST({_ident(col)} AS VARCHAR)) IN ({', '.join(names)})")
            if m.sql:
                conds.append(f"({m.sql})")
            cond = " AND ".join(conds) or "TRUE"
            cases.append(f"min(CASE WHEN {cond} THEN {_ident(ts)} END) AS {_ident(m.name)}")
        if not cases:
            continue
        sql = (f"SELECT account_id, {', '.join(cases)} FROM read_parquet($p,"
               f" hive_partitioning = false) WHERE {_ident(ts)} < $until "
               "GROUP BY account_id")
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")  # a milestone's own SQL sees UTC days, not the machine's
            wide = con.execute(sql, params).df()
        long = wide.melt(id_vars="account_id", var_name="milestone", value_name="reached_at").dropna()
        frames.append(long)
    cols = ["account_id", "milestone", "reached_at"]
    frames = [f for f in frames if not f.empty]  # pandas warns of (and will change) empty frames in a concat
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    out["reached_at"] = pd.to_datetime(out["reached_at"], utc=True)
    never = [m.name for m in milestones if m.name not in skipped and not (out["milestone"] == m.name).any()]
    for name in never:
        skipped[name] = Why("pj.why.never_reached")
    return out[cols].sort_values(["milestone", "account_id"], kind="stable").reset_index(drop=True), skipped


# ------------------------------------------------------------------------------------------ landmark
def observed_accounts(accounts: pd.DataFrame, data_start, as_of) -> pd.DataFrame:
    """Accounts whose start lies in the data (``data_start`` <= start < ``as_of``), with ``tenure_end`` (months
    from the start to the churn date or ``as_of``) and ``churned`` (left by ``as_of``)."""
    a = accounts[["account_id", "start_date", "end_date"]].copy()
    a["start_date"] = pd.to_datetime(a["start_date"], utc=True)
    a["end_date"] = pd.to_datetime(a["end_date"], utc=True)
    as_of, data_start = to_utc(as_of), to_utc(data_start).normalize()
    a = a[(a["start_date"] >= data_start) & (a["start_date"] < as_of)].copy()
    a["churned"] = a["end_date"].notna() & (a["end_date"] <= as_of)
    stop = a["end_date"].where(a["churned"], as_of)
    a["tenure_end"] = (stop - a["start_date"]).dt.total_seconds() / 86_400 / DAYS_PER_MONTH
    return a.reset_index(drop=True)


def _days(times: pd.DataFrame, accounts: pd.DataFrame, milestone: str) -> pd.Series:
    """Days from each account's start to its first ``milestone`` (NaN: not reached), indexed like ``accounts``."""
    m = times[times["milestone"] == milestone].set_index("account_id")["reached_at"]
    at = accounts["account_id"].map(m)
    return (pd.to_datetime(at, utc=True) - accounts["start_date"]).dt.total_seconds() / 86_400


def landmark_frame(times: pd.DataFrame, accounts: pd.DataFrame, milestone: str, landmark_days: float,
                   as_of) -> pd.DataFrame:
    """The landmark comparison's accounts: started at least ``landmark_days`` before ``as_of``, still customers
    then, grouped by whether they reached ``milestone`` within ``landmark_days``, followed from the landmark.

    ``accounts`` come from :func:`observed_accounts`. Columns: ``account_id``, ``group`` (reached /
    not_reached), ``entry`` (the landmark, in months of tenure), ``duration`` (months), ``event``.
    """
    as_of = to_utc(as_of)
    landmark = accounts["start_date"] + pd.to_timedelta(landmark_days, unit="D")
    alive = (landmark <= as_of) & ~(accounts["churned"] & (accounts["end_date"] <= landmark))
    a = accounts[alive]
    days = _days(times, a, milestone)
    return pd.DataFrame({"account_id": a["account_id"].to_numpy(),
                         "group": np.where(days.le(landmark_days).to_numpy(), "reached", "not_reached"),
                         "entry": landmark_days / DAYS_PER_MONTH, "duration": a["tenure_end"].to_numpy(),
                         "event": a["churned"].astype(int).to_numpy()})


def naive_frame(times: pd.DataFrame, accounts: pd.DataFrame, milestone: str) -> pd.DataFrame:
    """The biased comparison, for contrast: every account from its start, grouped by whether it *ever* reached
    ``milestone`` (before leaving or the observation date). Same columns as :func:`landmark_frame`."""
    days = _days(times, accounts, milestone)
    reached = days.notna() & (days / DAYS_PER_MONTH <= accounts["tenure_end"])
    return pd.DataFrame({"account_id": accounts["account_id"].to_numpy(),
                         "group": np.where(reached.to_numpy(), "reached", "not_reached"), "entry": 0.0,
                         "duration": accounts["tenure_end"].to_numpy(),
                         "event": accounts["churned"].astype(int).to_numpy()})


def fit_groups(frame: pd.DataFrame, min_group: int = 10, naive: bool = False) -> KaplanMeierGroups:
    """Kaplan-Meier of the two groups of a comparison frame; :class:`Thin` when a group has fewer than
    ``min_group`` accounts (``naive``: the groups of a :func:`naive_frame`, named so in the reason)."""
    counts = frame["group"].value_counts()
    small = [g for g in GROUPS if counts.get(g, 0) < min_group]
    name = "journey.naive." if naive else "journey."
    if small:
        if len(small) == 1:
            raise Thin("pj.why.small_group", n=int(counts.get(small[0], 0)), group=Why(f"{name}{small[0]}"),
                       min=min_group)
        g1, g2 = small
        raise Thin("pj.why.small_groups", n1=int(counts.get(g1, 0)), group1=Why(f"{name}{g1}"),
                   n2=int(counts.get(g2, 0)), group2=Why(f"{name}{g2}"), min=min_group)
    return KaplanMeierGroups("group", entry_col="entry", min_accounts=1, order=list(GROUPS)).fit(frame)


def fit_naive(times: pd.DataFrame, accounts: pd.DataFrame, milestone: str, min_group: int = 10) -> KaplanMeierGroups:
    """:func:`fit_groups` of :func:`naive_frame`, its groups named as what they are ("never reached it"): the
    stage called ``fit_groups`` without ``naive``, and report 07 said "7 accounts had not reached it by the
    landmark" beside a milestone table counting 16 (the 7 had never reached it)."""
    return fit_groups(naive_frame(times, accounts, milestone), min_group, naive=True)


def readable(km: KaplanMeierGroups, at_months: float, min_at_risk: int = MIN_AT_RISK) -> bool:
    """Whether both groups' curves can be read at ``at_months``: each has at least ``min_at_risk`` accounts still
    followed then (entered and neither left nor censored by then): a group whose 15 accounts are all followed to
    6.05 months after its last churn at 3.3 months can be read at 6 months."""
    if any(g not in km.fitters_ for g in GROUPS):
        return False
    n = km.at_risk([at_months]).iloc[0]
    return all(int(n[g]) >= min_at_risk for g in GROUPS)


def _read(km: KaplanMeierGroups, frame: pd.DataFrame, at_months: float, min_at_risk: int) -> dict:
    """Retention of each group at ``at_months`` with its interval, the difference with its interval, or the
    reason they cannot be read (``why``)."""
    counts = frame["group"].value_counts()
    row = {"accounts": int(len(frame)), "reached": int(counts.get("reached", 0)),
           "churned": int(frame["event"].sum()), "p_value": km.logrank_["p"], "chi2": km.logrank_["test_statistic"],
           "at_months": float(at_months)}
    at_risk = km.at_risk([at_months]).iloc[0]
    for g in GROUPS:
        row[f"{g}_at_risk"] = int(at_risk.get(g, 0))
    keys = [f"{g}_{col}" for g in GROUPS for col in ("survival", "ci_low", "ci_high")]
    row.update(dict.fromkeys([*keys, "difference", "difference_low", "difference_high"], np.nan))
    if not readable(km, at_months, min_at_risk):
        row["why"] = Why("pj.why.few_followed", m=f"{at_months:g}", n1=row["reached_at_risk"],
                         n2=row["not_reached_at_risk"], min=min_at_risk)
        return row
    row["why"] = None
    sa = km.survival_at([at_months]).set_index("group")
    for g in GROUPS:
        s, lo, hi = (float(sa.loc[g, c]) for c in ("survival", "ci_low", "ci_high"))  # no churn: Wilson's
        row.update({f"{g}_survival": s, f"{g}_ci_low": lo, f"{g}_ci_high": hi})
    row["difference"] = row["reached_survival"] - row["not_reached_survival"]
    row["difference_low"], row["difference_high"] = difference_interval(
        *(row[f"{g}_{c}"] for g in GROUPS for c in ("survival", "ci_low", "ci_high")))
    return row


def compare(frame: pd.DataFrame, at_months: float, min_group: int = 10,
            min_at_risk: int = MIN_AT_RISK) -> tuple[dict, KaplanMeierGroups]:
    """Kaplan-Meier of the two groups of a :func:`landmark_frame` (or :func:`naive_frame`), the log-rank test,
    and retention at ``at_months`` of tenure in each group with its interval, their ``difference`` with its
    interval (:func:`~engage_models._core.stats.difference_interval`), and the accounts still followed then.

    Retention is read only where both groups still have ``min_at_risk`` accounts followed; otherwise the
    retention and difference are NaN and ``why`` says so (a group with no churn by then gets the Wilson
    interval of its accounts still followed, not Greenwood's zero-width one). Raises
    :class:`InsufficientData` when a group has fewer than ``min_group`` accounts.
    """
    km = fit_groups(frame, min_group)
    return _read(km, frame, at_months, min_at_risk), km


def candidate_months(landmark_days: float, preferred: float = 12.0) -> list[float]:
    """The tenures retention may be compared at, longest first: ``preferred`` when it lies after the landmark, then
    every whole month below it that lies at least a month after the landmark (a comparison a few days after it
    says nothing)."""
    lm = landmark_days / DAYS_PER_MONTH
    months = [float(m) for m in range(int(np.ceil(preferred)) - 1, int(np.ceil(lm + 1)) - 1, -1) if m < preferred]
    # the preferred tenure too must lie past the landmark (a landmark at 335 days and 12 months did not)
    return [float(preferred)] * (preferred > lm) + months


def retention_months(km: KaplanMeierGroups, landmark_days: float, preferred: float = 12.0,
                     min_at_risk: int = MIN_AT_RISK) -> float | None:
    """The tenure at which one milestone's groups are compared: the longest of :func:`candidate_months` at which
    both groups still have ``min_at_risk`` accounts followed (None: none has)."""
    return next((m for m in candidate_months(landmark_days, preferred) if readable(km, m, min_at_risk)), None)


def landmark_analysis(times: pd.DataFrame, accounts: pd.DataFrame, milestones, landmark_days: float, as_of,
                      at_months: float = 12.0, min_group: int = 10, min_at_risk: int = MIN_AT_RISK):
    """The landmark comparison for each milestone, with the naive one beside it.

    Each milestone is compared at its own tenure (:func:`retention_months`): ``at_months`` when both of its
    groups still have ``min_at_risk`` accounts followed then, else the longest whole month at which they do.
    Where no tenure qualifies, its retention and difference are NaN and ``why_en``/``why_ja`` say why (the
    log-rank test is still computed on the whole curves, but a report shows no q-value without a difference).

    Returns
    -------
    (DataFrame, dict, dict)
        One row per milestone that could be compared (``milestone``, ``label_en``, ``label_ja``, accounts,
        reached, share reached with its Wilson interval, ``at_months``, accounts still followed then in each
        group, retention of each group with its interval, their ``difference`` with its interval, the log-rank
        ``p_value``, its Benjamini-Hochberg ``q_value`` over the milestones, the naive comparison's
        ``naive_difference`` with its interval and ``naive_p_value`` at the same tenure, and the reasons a
        difference is missing, ``why_*`` and ``naive_why_*``, in each language); the fitted Kaplan-Meier per
        milestone; the milestones left out with the reason.
    """
    rows, kms, skipped = [], {}, {}
    for m in milestones:
        frame = landmark_frame(times, accounts, m.name, landmark_days, as_of)
        try:
            km = fit_groups(frame, min_group)
        except InsufficientData as exc:
            skipped[m.name] = reason_of(exc)
            continue
        nframe = naive_frame(times, accounts, m.name)
        try:
            nkm, naive_thin = fit_groups(nframe, min_group, naive=True), None
        except InsufficientData as exc:
            nkm, naive_thin = None, reason_of(exc)
        # the landmark comparison's tenure; the naive one is read at the same tenure (a contrast at another
        # tenure would say nothing), or says why it cannot be (its "never reached" often ends sooner)
        month = retention_months(km, landmark_days, at_months, min_at_risk)
        # no tenure to read: the row says so at the shortest candidate (how many were still followed there)
        shortest = (candidate_months(landmark_days, at_months)
                    or [float(np.ceil(landmark_days / DAYS_PER_MONTH + 1))])[-1]
        row = _read(km, frame, month if month is not None else shortest, min_at_risk)
        naive = {"difference": np.nan, "difference_low": np.nan, "difference_high": np.nan, "p_value": np.nan,
                 "why": row["why"] if month is None else naive_thin}
        if month is not None and nkm is not None:
            naive = _read(nkm, nframe, month, min_at_risk)
        for k in ("difference", "difference_low", "difference_high", "p_value"):
            row[f"naive_{k}"] = naive[k]
        if month is None:
            row["at_months"] = np.nan
        for key, why in (("why", row.pop("why")), ("naive_why", naive["why"])):
            row.update({f"{key}_{lang}": text(why, lang) if why else "" for lang in LANGS})
        lo, hi = wilson_interval(row["reached"], row["accounts"])
        rows.append({"milestone": m.name, "label_en": m.text("en"), "label_ja": m.text("ja"), **row,
                     "share": row["reached"] / row["accounts"], "share_low": float(lo), "share_high": float(hi)})
        kms[m.name] = km
    table = pd.DataFrame(rows)
    if len(table):
        table["q_value"] = benjamini_hochberg(table["p_value"].to_numpy(float))
        table["landmark_days"] = landmark_days
    return table, kms, skipped


# ------------------------------------------------------------------------------------- time to value
def time_to_value(times: pd.DataFrame, accounts: pd.DataFrame, milestone: str, as_of,
                  within=(7, 30, 90)) -> pd.DataFrame:
    """Share of accounts that reached ``milestone`` within each number of days of their start, among those
    started at least that long before ``as_of`` (an account that left first counts as not reaching it), with
    Wilson intervals; ``attrs`` hold the median and quartiles of the days among those that reached it."""
    as_of = to_utc(as_of)
    days = _days(times, accounts, milestone)
    rows = []
    for d in within:
        seen = accounts["start_date"] + pd.Timedelta(days=d) <= as_of
        k, n = int((days[seen] <= d).sum()), int(seen.sum())
        lo, hi = wilson_interval(k, n)
        rows.append({"within_days": int(d), "accounts": n, "reached": k, "share": k / n if n else np.nan,
                     "ci_low": float(lo), "ci_high": float(hi)})
    out = pd.DataFrame(rows)
    got = days.dropna()
    got = got[got >= 0]
    out.attrs.update({"milestone": milestone, "accounts": int(len(accounts)), "reached": int(len(got)),
                      "median_days": float(got.median()) if len(got) else None,
                      "q1_days": float(got.quantile(0.25)) if len(got) else None,
                      "q3_days": float(got.quantile(0.75)) if len(got) else None})
    return out


def time_to_value_by_cohort(times: pd.DataFrame, accounts: pd.DataFrame, milestone: str, as_of,
                            within: int = 30, freq: str = "Q") -> pd.DataFrame:
    """Per start cohort (quarter): accounts started at least ``within`` days before ``as_of``, share reaching
    ``milestone`` within ``within`` days (Wilson interval) and the median days among those that reached it."""
    as_of = to_utc(as_of)
    a = accounts[accounts["start_date"] + pd.Timedelta(days=within) <= as_of].copy()
    if a.empty:
        return pd.DataFrame(columns=["cohort", "accounts", "reached", "share", "ci_low", "ci_high", "median_days"])
    a["days"] = _days(times, a, milestone)
    a["cohort"] = a["start_date"].dt.tz_localize(None).dt.to_period(freq).dt.start_time.dt.tz_localize("UTC")
    rows = []
    for cohort, g in a.groupby("cohort", sort=True):
        k, n = int((g["days"] <= within).sum()), len(g)
        lo, hi = wilson_interval(k, n)
        med = g.loc[g["days"] >= 0, "days"].median()
        rows.append({"cohort": cohort, "accounts": n, "reached": k, "share": k / n, "ci_low": float(lo),
                     "ci_high": float(hi), "median_days": float(med) if pd.notna(med) else np.nan})
    return pd.DataFrame(rows)
