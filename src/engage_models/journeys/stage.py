"""The ``personas`` stage of the pipeline: personas and journeys computed from the run's tables.

:func:`compute` receives the pipeline's context (``ctx.config``, ``ctx.input(stage)``, ``ctx.out``,
``ctx.section``) and writes, each part as a section that records why when the data are too thin:

==========================  ===========================================================================
artifact                    what it holds
==========================  ===========================================================================
``persona_selection``       silhouette and bootstrap stability of each number of personas tried
``persona_table``           per persona: size, MRR, churn within the horizon and NPS with intervals, words
``persona_profile``         per persona and metric: median, everyone's median, mean z-score
``persona_assignments``     the persona of every account at every observation date
``persona_sizes``           accounts per persona and date; ``persona_moves``: from the comparison date to now
``personas`` (JSON)         the fit, the names matched to the registry, growth, switching rate
``user_persona_*``          user personas (where events carry a user): ``_selection``, ``_profile``, ``_table``,
                            ``_mix`` (users per account and user persona, inactive users counted),
                            ``_by_account_persona``; ``user_personas`` (JSON) the fit
``milestones``              when each account (started inside the data) reached each milestone
``milestone_summary``       landmark comparison per milestone (and the naive one), ``km_<milestone>`` curves
``time_to_value``           share reaching the first-value milestone within 7/30/90 days, by cohort too
``touches``, ``device_mix`` touches by phase, channel and device; product events by device
``channel_outcomes``        churn and expansion after each exposure (channels, devices)
``stage_paths``             the most common lifecycle paths; ``stage_transitions`` for the flow diagram
                            (needs the health stage's scores; the health stage is optional)
``reasons`` (JSON)          why each missing section is missing, in English and Japanese (report 07)
``churn_stop`` (JSON)       where the accounts' churn stops before the data end: where the churn above was read
                            (:func:`churn_stop_record`; the labels end at the stop, as the health stage's)
==========================  ===========================================================================

Persona names survive from run to run through the registry file (``personas.registry``, by default
``<data_dir>/artifacts/personas/registry.json``): it lives beside the stage's artifacts but outside any of
them, because the artifact folders are a cache (pruned to the last few, keyed by inputs) while the names
must outlive any one of them, and because a run on other data or with other parameters should still be
named after every persona seen before, not only the most recent artifact's. Its content (not its log of runs:
:func:`registry_digest`) is one of the stage's parameters, so an edited registry reruns the stage and the
same registry gives the same run; what the stage writes there itself is sealed as standing for the registry
it read, so a second run with nothing changed is read back.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.errors import InsufficientData
from .._core.i18n import LANGS
from .._core.io import read_json, write_json
from .._core.reasons import date_of, text
from .._core.sampling import stratified_accounts
from .._core.stats import cluster_moments, effective_n, wilson_interval
from .._core.time import to_utc
from ..health.history import history_steps
from ..pipeline.store import NOT_RECORDED
from . import channels as CH
from . import flows as FL
from . import milestones as MS
from . import personas as PS
from . import users as US
from .reasons import Thin, Why, reason_of

log = logging.getLogger(__name__)

ARTIFACTS = "artifacts"
#: Retention of a milestone's groups is compared at this tenure (months), or the longest below it both can be read at.
MAX_MONTHS = 12.0
STAGE = "personas"


def registry_path(config) -> Path:
    """Where the persona registry of a run lives (see the module docstring)."""
    pc = config.personas
    return Path(pc.registry) if pc.registry else Path(config.data_dir) / ARTIFACTS / STAGE / "registry.json"


def registry_digest(config) -> str | None:
    """The registry as an input of the stage's key: None without a file; the hash of what it says about the
    personas (numbers, centroids, dates, words; not the log of runs) when it was edited since the stage last
    wrote it; and, when it is exactly as the stage left it, the value this function gave for the registry
    that run read (the seal :func:`seal_registry` writes). So an edited registry makes the stage run again,
    while the names a run writes for itself are not a new input (a second run with nothing changed is read
    back, not computed)."""
    path = registry_path(config)
    if not path.is_file():
        return None
    digest = PS.PersonaRegistry.digest_of(path)
    seal = read_json(path).get("written") or {}
    return seal.get("input") if seal.get("output") == digest else digest


def seal_registry(config, digest_in: str | None) -> None:
    """Record in the registry which input it stands for (``digest_in``: :func:`registry_digest` before the run)
    and the hash of what the run left, so that :func:`registry_digest` knows the stage's own writes."""
    path = registry_path(config)
    if not path.is_file():
        return
    data = read_json(path)
    data["written"] = {"input": digest_in, "output": PS.PersonaRegistry.digest_of(path)}
    write_json(path, data)


def _read(processed: Path, name: str) -> pd.DataFrame | None:
    path = processed / f"{name}.parquet"
    return pd.read_parquet(path) if path.exists() else None


def fit_dates(dates, months: int) -> list[pd.Timestamp]:
    """The observation dates the personas are fitted on: the latest and every third one before it, within
    ``months`` months of the latest (quarterly snapshots of the last year by default)."""
    dates = sorted(pd.to_datetime(pd.Series(dates), utc=True).unique())
    if not dates:
        return []
    last = dates[-1]
    keep = [d for d in dates if d > last - pd.DateOffset(months=months)]
    return sorted(keep[::-1][::3])


def compute(ctx) -> None:
    c, out = ctx.config, ctx.out
    pc = c.personas
    processed = ctx.paths.processed
    from ..pipeline.stages import label_end, panel_labels

    # churn labels end where the accounts' churn stops (the persona table's and the channels' landmark with them)
    pnl = panel_labels(ctx)
    dates = ctx.input("ingest").json("dates")
    as_of, data_start = ctx.as_of, to_utc(dates["first_event"])
    outcome_end = label_end(dates, as_of)  # the last day an outcome after a start may reach
    accounts = pd.read_parquet(processed / "accounts.parquet")
    subscriptions = _read(processed, "subscriptions")
    registry_in = registry_digest(c)  # the registry this run reads (its key's), sealed into what it writes
    found: dict = {}  # what a section hands to a later one (the account personas to the user personas)
    # a section that cannot be computed is skipped with its reason, in every language (the manifest keeps them)
    ctx.section(("personas", "persona_selection", "persona_profile", "persona_table", "persona_sizes",
                 "persona_moves"), lambda: found.update(assign=personas_section(ctx, pnl, accounts, as_of)))
    if pc.users:
        ctx.section(("user_personas", "user_persona_selection", "user_persona_profile", "user_persona_table",
                     "user_persona_mix", "user_persona_by_account_persona"),
                    lambda: user_personas_section(ctx, pnl, processed, found.get("assign")))
    ctx.section(("milestones", "milestone_summary", "time_to_value"),
                lambda: milestones_section(ctx, accounts, data_start, as_of, outcome_end))
    ctx.section("touches", lambda: out.frame("touches", CH.touch_summary(processed, accounts, data_start, as_of,
                                                                         pc.lookback_days)))

    def devices():
        mix = CH.device_mix(processed, as_of - pd.Timedelta(days=pc.lookback_days), as_of)
        if mix.empty:  # data the company does not record: said in the report, not a section missed
            out.skip("device_mix", Why("pj.why.no_device", days=pc.lookback_days), kind=NOT_RECORDED)
        else:
            out.frame("device_mix", mix)

    ctx.section("device_mix", devices)

    def channel_outcomes():
        table = CH.outcomes_by_exposure(processed, accounts, subscriptions, pnl, data_start, as_of, c.horizon_days,
                                        pc.lookback_days, pc.prepurchase_outcome_days, outcome_end=outcome_end)
        if table.empty:
            raise Thin("pj.why.no_channel")
        out.frame("channel_outcomes", table)

    ctx.section("channel_outcomes", channel_outcomes)
    ctx.section(("stage_flow", "stage_paths", "stage_transitions"), lambda: stage_flow_section(ctx, pnl, accounts))
    if pnl.attrs.get("churn_stop"):  # report 07 says where the churn it shows was read
        out.json("churn_stop", churn_stop_record(ctx.input("panel").frame("panel"), pnl, accounts, data_start, as_of,
                                                 outcome_end, c.horizon_days, pc.lookback_days,
                                                 pc.prepurchase_outcome_days))
    seal_registry(c, registry_in)


def landmark(pnl: pd.DataFrame, horizon_days: int):
    """The latest observation date whose churn label is known for the whole horizon (the persona table's and the
    channels' landmark after the start); None when none is."""
    d = pd.to_datetime(pnl["as_of"], utc=True)
    known = pnl["churned_within_h"].notna() & (d + pd.Timedelta(days=horizon_days) <= d.max())
    return d[known].max() if known.any() else None


def churn_stop_record(raw: pd.DataFrame, pnl: pd.DataFrame, accounts: pd.DataFrame, data_start, as_of, outcome_end,
                      horizon_days: int, lookback_days: int, outcome_days: int) -> dict:
    """Where the churn of report 07 was read at a churn stop: ``stop``, the ``landmark`` of the persona table and
    the channels (the latest date whose window ends by the stop, ``pnl`` being
    :func:`~engage_models.pipeline.stages.known_labels`'s) and the one the panel's own labels (``raw``) gave
    (``landmark_without``), and the accounts of the before-start comparison whose first ``outcome_days`` end after
    the stop, by ``as_of`` (``cohort_left_out``: left out, :func:`~.channels.before_start_cohort`)."""
    left = len(CH.before_start_cohort(accounts, data_start, as_of, lookback_days, outcome_days)) - len(
        CH.before_start_cohort(accounts, data_start, outcome_end, lookback_days, outcome_days))
    lm, without = landmark(pnl, horizon_days), landmark(raw, horizon_days)
    return {"stop": pnl.attrs["churn_stop"]["stop"], "horizon_days": horizon_days, "outcome_days": outcome_days,
            "landmark": lm.date().isoformat() if lm is not None else None,
            "landmark_without": without.date().isoformat() if without is not None else None,
            "cohort_left_out": left}


# ------------------------------------------------------------------------------------------- personas
def personas_section(ctx, pnl: pd.DataFrame, accounts: pd.DataFrame, as_of) -> pd.DataFrame:
    c, out, pc = ctx.config, ctx.out, ctx.config.personas
    processed = ctx.paths.processed
    metrics = list(pc.metrics) if pc.metrics else PS.metric_columns(PS.DEFAULT_METRICS, c.windows)
    absent = [m for m in metrics if m not in pnl.columns]
    if absent:
        raise Thin("pj.why.no_metric", cols=", ".join(absent))
    pnl = pnl.assign(as_of=pd.to_datetime(pnl["as_of"], utc=True))
    chosen = fit_dates(pnl["as_of"], pc.fit_months)
    rows = pnl[pnl["as_of"].isin(chosen) & (pnl["tenure_days"] >= pc.min_tenure_days)]
    n_acc = rows["account_id"].nunique()
    if n_acc < pc.min_accounts:
        raise Thin("pj.why.few_accounts", n=int(n_acc), days=pc.min_tenure_days, need=pc.min_accounts)
    # a large company: the rows of whole accounts drawn at random (one stratum: no outcome to balance here)
    picked = stratified_accounts(rows["account_id"], np.zeros(len(rows)), pc.max_fit_accounts or None, c.seed)
    fit = rows if picked is None else rows[rows["account_id"].isin(set(picked))]
    registry = PS.PersonaRegistry(registry_path(c))
    model = PS.PersonaModel(metrics=metrics, k_range=(pc.k_min, pc.k_max), n_bootstrap=pc.n_bootstrap,
                            min_stability=pc.min_stability, previous_k=registry.previous_k(pnl["as_of"].max()),
                            keep_within=pc.keep_k_within, random_state=c.seed).fit(fit, groups=fit["account_id"])
    labels = model.predict(rows[metrics]) if len(fit) < len(rows) else model.labels_
    matches = registry.match(model, np.bincount(labels, minlength=model.n_personas_), pc.max_match_distance)
    number = dict(zip(matches["cluster"], matches["persona"], strict=True))
    assign = pnl[["account_id", "as_of"]].copy()
    assign["persona"] = pd.Series(model.predict(pnl[metrics]), index=pnl.index).map(number).astype(int)
    out.frame("persona_selection", model.selection_)
    out.frame("persona_assignments", assign)
    latest = assign["as_of"].max()
    now = pnl[pnl["as_of"] == latest].merge(assign, on=["account_id", "as_of"])
    mob = CH.mobile_share(processed, latest - pd.Timedelta(days=pc.lookback_days), latest)
    now["mobile_share"] = now["account_id"].map(mob)
    prof = PS.profile(now, now["persona"], PS.metric_columns(PS.PROFILE_METRICS, c.windows))
    out.frame("persona_profile", prof)
    words = {p: {lang: PS.words(PS.distinctive(prof, p), lang) for lang in ("en", "ja")}
             for p in sorted(now["persona"].unique())}
    known = len(registry.personas)
    # recorded first, so the table's first sightings are the registry's after this run (a backfill moves them back)
    recorded = registry.update(model, matches, latest, {p: w["en"] for p, w in words.items()})
    table = persona_table(now, assign, pnl, accounts, processed, as_of, c.horizon_days, matches, registry, words,
                          c.surveys.min_n, max(c.windows))
    out.frame("persona_table", table)
    sizes = assign.groupby(["as_of", "persona"]).size().rename("accounts").reset_index()
    sizes["share"] = sizes["accounts"] / sizes.groupby("as_of")["accounts"].transform("sum")
    out.frame("persona_sizes", sizes)
    previous = comparison_date(assign["as_of"], pc.compare_months)
    info = {"as_of": latest, "k": model.n_personas_, "criterion": model.criterion_, "best_k": model.best_k_,
            "keep_k_within": pc.keep_k_within, "metrics": metrics,
            "fit_dates": chosen, "fit_rows": len(fit), "fit_accounts": int(fit["account_id"].nunique()),
            "eligible_accounts": int(n_acc),
            "min_tenure_days": pc.min_tenure_days, "min_stability": pc.min_stability,
            "matches": matches.to_dict("records"), "registry_known": known, "registry": recorded,
            "switching": switching_rate(assign), "previous": previous}
    if previous is not None:
        out.frame("persona_moves", moves(assign, previous, latest))
        info["growth"] = growth(sizes, previous, latest, words, c.surveys.min_n)
    else:
        ctx.out.skip("persona_moves", Why("pj.why.no_compare_date", months=pc.compare_months))
    out.json("personas", info)
    return assign


def user_personas_section(ctx, pnl: pd.DataFrame, processed: Path, assign: pd.DataFrame | None) -> None:
    """User personas (:mod:`engage_models.journeys.users`): the users of the customers at the latest date,
    clustered on their own use over the longest window, and each account's mix of them (and, with the account
    personas ``assign``, the mix of each account persona)."""
    c, out, pc = ctx.config, ctx.out, ctx.config.personas
    days = max(c.windows)
    latest = pd.to_datetime(pnl["as_of"], utc=True).max()
    customers = pnl.loc[pd.to_datetime(pnl["as_of"], utc=True) == latest, "account_id"].unique()
    users = US.user_metrics(processed, latest, days, accounts=customers)
    metrics = [m for m in US.USER_METRICS if users[m].notna().any()]
    if len(users) < pc.min_users:
        raise Thin("pj.why.few_users", n=len(users), days=days, need=pc.min_users)
    fit = US.sample_accounts(users, pc.max_fit_users, c.seed)
    registry = PS.PersonaRegistry(registry_path(c), section="user_personas")
    model = PS.PersonaModel(metrics=metrics, k_range=(pc.k_min, pc.k_max), n_bootstrap=pc.n_bootstrap,
                            min_stability=pc.min_stability, previous_k=registry.previous_k(latest),
                            keep_within=pc.keep_k_within, random_state=c.seed).fit(fit, groups=fit["account_id"])
    labels = model.predict(users) if len(fit) < len(users) else model.labels_
    sizes = np.bincount(labels, minlength=model.n_personas_)
    matches = registry.match(model, sizes, pc.max_match_distance)
    number = dict(zip(matches["cluster"], matches["persona"], strict=True))
    persona = pd.Series(labels, index=users.index).map(number).astype(int)
    prof = PS.profile(users, persona, [m for m in US.USER_PROFILE if m in users])
    words = {p: {lang: PS.words(PS.distinctive(prof, p), lang) for lang in ("en", "ja")}
             for p in sorted(persona.unique())}
    recorded = registry.update(model, matches, latest, {p: w["en"] for p, w in words.items()})  # before the table
    seated = US.seated_users(processed, latest, customers)
    user_mix = US.mix(users, persona, seated)
    status = dict(zip(matches["persona"], matches["status"], strict=True))
    table = pd.DataFrame([{"user_persona": int(p), "status": status.get(p, "kept"),
                           "first_seen": registry.personas.get(str(p), {}).get("first_seen"),
                           "users": int((persona == p).sum()), "share": float((persona == p).mean()),
                           "accounts": int(users.loc[persona == p, "account_id"].nunique()),
                           "description_en": words[p]["en"], "description_ja": words[p]["ja"]}
                          for p in sorted(persona.unique())])
    out.frame("user_persona_selection", model.selection_)
    out.frame("user_persona_profile", prof)
    out.frame("user_persona_table", table)
    out.frame("user_persona_mix", user_mix)
    inactive = int(user_mix.loc[user_mix["user_persona"] == US.INACTIVE, "users"].sum())
    info = {"as_of": latest, "days": days, "k": model.n_personas_, "criterion": model.criterion_,
            "best_k": model.best_k_, "keep_k_within": pc.keep_k_within,
            "metrics": metrics, "users": len(users), "accounts": int(users["account_id"].nunique()),
            "fit_users": len(fit), "fit_accounts": int(fit["account_id"].nunique()),
            "inactive": inactive, "matches": matches.to_dict("records"), "min_stability": pc.min_stability,
            "words": {str(p): w for p, w in words.items()}}
    if assign is not None:
        now = assign[pd.to_datetime(assign["as_of"], utc=True) == latest].set_index("account_id")["persona"]
        out.frame("user_persona_by_account_persona", US.by_account_persona(user_mix, now))
    else:
        ctx.out.skip("user_persona_by_account_persona", Why("pj.why.no_account_personas"))
    info["registry"] = recorded
    out.json("user_personas", info)


def persona_table(now, assign, pnl, accounts, processed, as_of, horizon_days, matches, registry, words,
                  min_n: int = 30, window_days: int = 90) -> pd.DataFrame:
    """Per persona at the latest date: accounts, share, MRR, churn within the horizon at the landmark date
    (Wilson interval, one row per account), NPS of the last year's answers given while in the persona
    (:func:`persona_nps`), and where a churn or NPS cell cannot be computed, why (``churn_why_*``,
    ``nps_why_*``, in each language).

    A persona of fewer than ``min_n`` accounts today is flagged ``few_accounts`` (``min_accounts`` holds the
    threshold): the rule and threshold that flag a survey group of fewer than ``surveys.min_n`` answers as
    *small n*, so its profile, words and rates are read with the same care."""
    rows = []
    mrr = now["mrr"].astype(float) if "mrr" in now else pd.Series(np.nan, index=now.index)
    total_mrr = float(mrr.sum())
    lm = landmark(pnl, horizon_days)  # at a churn stop, the latest whose window ends by it (known_labels)
    at_l = (pnl[(pnl["as_of"] == lm) & pnl["churned_within_h"].notna()].merge(assign, on=["account_id", "as_of"])
            if lm is not None else None)
    nps, nps_why = persona_nps(processed, assign, as_of, min_n, window_days=window_days)
    # no date's window ended by the data's end, or (known_labels) by the day the accounts' churn stops: said which
    stop = (pnl.attrs.get("churn_stop") or {}).get("stop")
    no_outcome = (Why("pj.why.no_churn_outcome_stop", h=horizon_days, stop=date_of(to_utc(stop))) if stop
                  else Why("pj.why.no_churn_outcome", h=horizon_days))
    status = dict(zip(matches["persona"], matches["status"], strict=True))
    for p in sorted(set(now["persona"]) | set(status)):
        sel = now["persona"] == p
        row = {"persona": int(p), "status": status.get(p, "kept"),
               "first_seen": registry.personas.get(str(p), {}).get("first_seen"), "accounts": int(sel.sum()),
               "share": float(sel.mean()), "mrr": float(mrr[sel].sum()),
               "mrr_share": float(mrr[sel].sum() / total_mrr) if total_mrr else np.nan,
               "mrr_median": float(mrr[sel].median()) if sel.any() else np.nan,
               "few_accounts": bool(sel.sum() < min_n), "min_accounts": int(min_n),
               "description_en": words.get(p, {}).get("en", ""), "description_ja": words.get(p, {}).get("ja", "")}
        churn_why = no_outcome if at_l is None else None
        if at_l is not None:
            g = at_l[at_l["persona"] == p]
            k, n = int(g["churned_within_h"].sum()), len(g)
            lo, hi = wilson_interval(k, n)
            row.update({"churn_accounts": n, "churned": k, "churn_rate": k / n if n else np.nan,
                        "churn_low": float(lo), "churn_high": float(hi), "churn_landmark": lm})
            if not n:
                churn_why = Why("pj.why.persona_not_at", date=date_of(lm))
        why = nps_why
        if nps is not None and p in nps.index:
            r = nps.loc[p]
            row.update({"nps": float(r["nps"]), "nps_low": float(r["ci_low"]), "nps_high": float(r["ci_high"]),
                        "nps_answers": int(r["n"]), "nps_small_n": bool(r["small_n"])})
        elif nps is not None:
            why = Why("pj.why.persona_no_nps", days=365)
        for key, reason in (("churn_why", churn_why), ("nps_why", None if "nps" in row else why)):
            row.update({f"{key}_{lang}": text(reason, lang) if reason else "" for lang in LANGS})
        rows.append(row)
    return pd.DataFrame(rows)


def persona_nps(processed: Path, assign: pd.DataFrame, as_of, min_n: int = 30, days: int = 365,
                window_days: int = 90):
    """NPS per persona of the answers of the last ``days`` days (intervals clustered by account), each answer
    counted in the persona whose window holds it: a persona at an observation date is found from the account's
    use over the ``window_days`` before that date, so an answer belongs to the first observation date after it,
    if that date is at most ``window_days`` later.

    (Until 5 Dec 2026 an answer was counted in the persona of the latest date *before* it, whose window ended before
    the answer: every answer given before the first observation date was dropped, which in a world of six
    months, whose panel starts in its fourth, left no NPS at all beside a persona described as critical.)

    Returns
    -------
    (DataFrame or None, Why or None)
        The :func:`~engage_models.surveys.nps_table` by persona, or None and the reason.
    """
    from ..surveys import nps_table

    surveys = _read(processed, "surveys")
    if surveys is None:
        return None, Why("pj.why.no_table", source="surveys")
    s = surveys[(surveys["survey_type"] == "nps") & surveys["score"].notna()].copy()
    s["submitted_at"] = pd.to_datetime(s["submitted_at"], utc=True).astype("datetime64[ns, UTC]")
    s = s[(s["submitted_at"] < as_of) & (s["submitted_at"] >= as_of - pd.Timedelta(days=days))]
    if s.empty:
        return None, Why("pj.why.no_nps_answers", days=days)
    a = assign.sort_values("as_of", kind="stable").astype({"as_of": "datetime64[ns, UTC]"})
    s = pd.merge_asof(s.sort_values("submitted_at", kind="stable"), a, left_on="submitted_at", right_on="as_of",
                      by="account_id", direction="forward", allow_exact_matches=False,
                      tolerance=pd.Timedelta(days=window_days)).dropna(subset=["persona"])
    if s.empty:
        return None, Why("pj.why.nps_outside_windows", days=days, window=window_days)
    s["persona"] = s["persona"].astype(int)
    return nps_table(s, "persona", min_n=min_n).set_index("persona"), None


def comparison_date(dates, months: int):
    """The latest observation date at least ``months`` months before the latest one (None: none)."""
    d = sorted(pd.to_datetime(pd.Series(dates), utc=True).unique())
    if len(d) < 2:
        return None
    before = [x for x in d if x <= d[-1] - pd.DateOffset(months=months)]
    return before[-1] if before else d[0]


def moves(assign: pd.DataFrame, before, after) -> pd.DataFrame:
    """Accounts by persona at ``before`` (or ``new``) and at ``after`` (or ``left``): ``from``, ``to``,
    ``accounts``."""
    a = assign[assign["as_of"] == before].set_index("account_id")["persona"]
    b = assign[assign["as_of"] == after].set_index("account_id")["persona"]
    both = pd.concat([a.rename("from"), b.rename("to")], axis=1)
    both["from"] = both["from"].map(lambda v: "new" if pd.isna(v) else str(int(v)))
    both["to"] = both["to"].map(lambda v: "left" if pd.isna(v) else str(int(v)))
    g = both.groupby(["from", "to"]).size().rename("accounts").reset_index()
    g.attrs.update({"previous": pd.Timestamp(before).isoformat(), "as_of": pd.Timestamp(after).isoformat()})
    return g


def switching_rate(assign: pd.DataFrame) -> dict:
    """Share of accounts whose persona changed from one observation date to the next (pooled over the
    dates). An account gives one pair per pair of dates, so the Wilson interval is computed on the effective
    number of pairs of the clustered mean (clusters: accounts; :func:`~engage_models._core.stats.effective_n`)."""
    a = assign.sort_values(["account_id", "as_of"], kind="stable")
    prev = a.groupby("account_id")["persona"].shift(1)
    ok = prev.notna()
    changed = (a.loc[ok, "persona"] != prev[ok]).astype(float)
    k, n = int(changed.sum()), int(ok.sum())
    if not n:
        return {"changed": 0, "pairs": 0, "accounts": 0, "rate": None, "low": None, "high": None}
    m = cluster_moments(changed.to_numpy(), a.loc[ok, "account_id"].to_numpy()).iloc[0]
    n_eff = float(effective_n(m["n"], m["clusters"], m["var_cluster"], m["var_srs"], m["sum_m2"]))
    lo, hi = wilson_interval(k / n * n_eff, n_eff)
    return {"changed": k, "pairs": n, "accounts": int(m["clusters"]), "rate": k / n, "low": float(lo),
            "high": float(hi)}


def growth(sizes: pd.DataFrame, before, after, words: dict, min_n: int = 30) -> dict:
    """Per persona the change in its share of customers from ``before`` to ``after``, and the persona whose
    share grew or shrank the most (in percentage points), flagged ``few_accounts`` when it has fewer than
    ``min_n`` accounts now (as :func:`persona_table` flags it)."""
    a = sizes[sizes["as_of"] == before].set_index("persona")
    b = sizes[sizes["as_of"] == after].set_index("persona")
    ids = sorted(set(a.index) | set(b.index))
    rows = []
    for p in ids:
        s0 = float(a["share"].get(p, 0.0))
        s1 = float(b["share"].get(p, 0.0))
        rows.append({"persona": int(p), "accounts_before": int(a["accounts"].get(p, 0)),
                     "accounts_now": int(b["accounts"].get(p, 0)), "share_before": s0, "share_now": s1,
                     "change_pp": 100 * (s1 - s0)})
    top = max(rows, key=lambda r: (abs(r["change_pp"]), -r["persona"]))
    return {"previous": before, "as_of": after, "personas": rows, "top": {
        **top, "description_en": words.get(top["persona"], {}).get("en", ""),
        "description_ja": words.get(top["persona"], {}).get("ja", ""),
        "few_accounts": top["accounts_now"] < min_n, "min_accounts": int(min_n)}}


# ------------------------------------------------------------------------------------------ milestones
def milestones_section(ctx, accounts: pd.DataFrame, data_start, as_of, outcome_end=None) -> None:
    """The milestones of new accounts: when each was reached (to ``as_of``), the share reaching first value, and
    the retention of those that reached each early against those that did not. Retention is churn: it is followed
    to ``outcome_end`` (the day the accounts' churn stops, :func:`~engage_models.pipeline.stages.label_end`), not
    past it, where every account looks retained; the accounts started after it are left out of those curves, and
    the stage's ``milestones`` record says so (``churn_stop``)."""
    out, pc = ctx.out, ctx.config.personas
    outcome_end = to_utc(outcome_end) if outcome_end is not None else to_utc(as_of)
    processed = ctx.paths.processed
    features = list(pc.key_features) if pc.key_features is not None else MS.key_features(
        processed, pc.n_key_features, until=as_of)
    declared = MS.expand(MS.registry(milestones_file=pc.milestones_file), features)
    obs = MS.observed_accounts(accounts, data_start, as_of)
    if obs.empty:
        raise Thin("pj.why.no_new_accounts")
    times, skipped = MS.milestone_times(processed, declared, as_of)
    times = times[times["account_id"].isin(obs["account_id"])].merge(obs[["account_id", "start_date"]],
                                                                      on="account_id")
    times["days"] = (times["reached_at"] - times["start_date"]).dt.total_seconds() / 86_400
    out.frame("milestones", times.drop(columns="start_date"))
    usable = [m for m in declared if m.name not in skipped]
    # the retention curves end where churn is known: at a churn stop, the accounts started by then, to that day
    stopped = outcome_end < to_utc(as_of)
    followed = MS.observed_accounts(accounts, data_start, outcome_end) if stopped else obs
    seen = times[times["reached_at"] <= outcome_end] if stopped else times
    table, kms, left_out = MS.landmark_analysis(seen, followed, usable, pc.landmark_days, outcome_end, MAX_MONTHS)
    skipped.update(left_out)
    if len(table):
        out.frame("milestone_summary", table)
    else:
        ctx.out.skip("milestone_summary", Why("pj.why.no_milestone_compared"))
    for name, km in kms.items():
        _write_km(out, f"km_{name}", km)
    if pc.first_value not in kms:  # the report's curves of first value say why they are missing
        why = skipped.get(pc.first_value) or Why("pj.why.few_sides")
        ctx.out.skip(f"km_{pc.first_value}", why)
        ctx.out.skip(f"km_naive_{pc.first_value}", why)
    labels = {m.name: {lang: m.text(lang) for lang in ("en", "ja")} for m in declared}
    info = {"landmark_days": pc.landmark_days, "max_months": MAX_MONTHS, "min_at_risk": MS.MIN_AT_RISK,
            "observed_accounts": len(obs),
            "data_start": data_start, "key_features": features, "first_value": pc.first_value,
            "skipped": skipped, "labels": labels, "order": [m.name for m in declared]}
    if stopped:  # report 07 says where the curves end and whom they leave out
        info["churn_stop"] = {"stop": (ctx.input("ingest").json("dates").get("churn_stop") or {}).get("stop"),
                              "followed_until": outcome_end.date().isoformat(),
                              "accounts_left_out": len(obs) - len(followed)}
    value = next((m for m in declared if m.name == pc.first_value), None)
    if value is None or value.name in skipped:
        reason = skipped.get(pc.first_value) or Why("pj.why.no_milestone_named", name=pc.first_value)
        ctx.out.skip("time_to_value", Why("pj.why.first_value", name=pc.first_value, reason=reason))
    else:
        ttv = MS.time_to_value(times, obs, value.name, as_of)
        out.frame("time_to_value", ttv)
        info["time_to_value"] = dict(ttv.attrs)
        out.frame("time_to_value_by_cohort", MS.time_to_value_by_cohort(times, obs, value.name, as_of,
                                                                         within=pc.landmark_days))
        if value.name in kms:  # the biased comparison beside the landmark one, to show what the landmark avoids
            try:
                naive = MS.fit_naive(seen, followed, value.name)
                _write_km(out, f"km_naive_{value.name}", naive)
            except InsufficientData as exc:
                ctx.out.skip(f"km_naive_{value.name}", reason_of(exc))
    out.json("milestones", info)


def _write_km(out, name: str, km) -> None:
    """A fitted Kaplan-Meier as its tables (read back with ``Run.km``)."""
    frames, info = km.result().to_tables()
    for part, df in frames.items():
        out.frame(f"{name}.{part}", df)
    out.json(name, info)


# ------------------------------------------------------------------------------------------ stage flow
def stage_flow_section(ctx, pnl: pd.DataFrame, accounts: pd.DataFrame) -> None:
    out, pc = ctx.out, ctx.config.personas
    if not ctx.has("health", "scores"):  # health is optional: without scores, no lifecycle stages
        raise Thin("pj.why.no_health", reason=ctx.why_missing("health", "scores"))
    scores = ctx.input("health").frame("scores")
    scores["as_of"] = pd.to_datetime(scores["as_of"], utc=True)
    dates = history_steps(scores["as_of"].unique())  # not a one-day step from a month start to the run's date
    if len(dates) < 2:
        raise Thin("pj.why.one_date")
    dates, stopped = path_dates(dates, (pnl.attrs.get("churn_stop") or {}).get("stop"))
    stages = FL.lifecycle_stages(scores, pnl, ctx.config.actions.playbook, ctx.config.currency)
    paths = FL.stage_paths(stages, accounts, dates)
    out.frame("stage_paths", FL.common_paths(paths, n=pc.top_paths))
    out.frame("stage_transitions", FL.transitions(paths))
    out.json("stage_flow", {"dates": list(dates), "cohort": len(paths), "paths": int(paths["path"].nunique()),
                            **stopped})


def path_dates(dates: list, stop=None) -> tuple[list, dict]:
    """The scored ``dates`` the lifecycle paths step through, and what a churn stop left out. Past the day the
    accounts' churn stops (``stop``), an account that left unrecorded stays in a stage and no path reaches
    "churned", so the paths end at the last date on or before it; fewer than two such dates leave no path
    (:class:`Thin`, naming the stop). Returns the dates and ``{"churn_stop": {"stop", "dates_left_out"}}`` when a
    stop left any out, else ``{}``.

    >>> d = [pd.Timestamp(x, tz="UTC") for x in ("2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01")]
    >>> kept, said = path_dates(d, "2024-08-23")
    >>> [x.strftime("%b") for x in kept], said
    (['Jun', 'Jul', 'Aug'], {'churn_stop': {'stop': '2024-08-23', 'dates_left_out': 1}})
    >>> path_dates(d, None)[1], path_dates(d, "2025-01-01")[1]
    ({}, {})
    """
    if not stop:
        return list(dates), {}
    known = [d for d in dates if d <= to_utc(stop)]
    if len(known) == len(dates):
        return list(dates), {}
    if len(known) < 2:
        raise Thin("pj.why.paths_stop", stop=date_of(to_utc(stop)), n=len(dates) - len(known))
    return known, {"churn_stop": {"stop": str(stop), "dates_left_out": len(dates) - len(known)}}
