"""The stages of a run, in order; each a plain function from its inputs to the tables it writes.

=========  ===========================  =================================================================
stage      reads (in brackets: if made) writes
=========  ===========================  =================================================================
ingest     raw files                    ``processed/`` tables (the contract's place), the ingest report, the
                                        data's first and last event
quality    ingest                       date coverage, events per day, survey answers per month, quarantine
                                        samples
panel      ingest                       the account x period panel (monthly, plus the observation date)
kpis       ingest, (panel)              KPI summary, churn, revenue retention, MRR bridge, cohorts, activity,
                                        engagement ranking
surveys    ingest, (panel)              NPS and CSAT with intervals by group and period, drivers, churn by NPS
                                        category, accounts to call, themes and comments
health     ingest, panel                backtest of the learned, hand-weighted and boosted scores; the final
                                        model (skops), its scorecard and band thresholds; scores, bands and
                                        drivers of every account over the last dates (labels end at a churn
                                        stop: :func:`known_labels`)
personas   ingest, panel, (health)      behavioural personas and their names across runs, milestones with the
                                        landmark comparison, touches by channel and device, lifecycle paths
survival   ingest, (panel, health)      Kaplan-Meier curves (health band included), Cox models with their
                                        checks, out-of-time evaluation, remaining lifetime, LTV, revenue at risk
actions    panel, health, (survival)    touch model, stage and play per account with its randomised holdout
                                        (the CRM exports: the list, HubSpot's and Salesforce's import files),
                                        the holdout design, score alerts, detractors at high-touch accounts,
                                        band movement, the accounts with most MRR at risk; the alerts and
                                        tasks the folder's earlier runs sent are kept aside and counted
effects    ingest, panel, health        the effect of each play in the play log on churn and on the health score:
                                        randomised (CUPED) and observational (doubly robust beside naive)
monitoring ingest, panel, health        the health model against today's panel: population stability of every
                                        metric and of the score over time, its calibration and ROC-AUC on the
                                        labels matured since training, the retraining recommendation with its
                                        reasons, and a new model against the old one when the run retrained
summary    ingest, (kpis, surveys,      the executive summary's headline figures
           health, survival, actions,
           personas, effects,
           monitoring)
=========  ===========================  =================================================================

Data move forward only: a stage reads the artifacts of the stages it names and never what a later one writes.
A stage that cannot compute a section on thin data records why (:meth:`Output.skip`) and writes the rest. An
input in brackets is read when it was computed; without it the stage records the sections it feeds as skipped,
with that input's reason, and writes the others (a run with no churn still gets its survival curves).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.errors import InsufficientData
from .._core.i18n import LANGS, t
from .._core.io import read_json, write_json
from .._core.reasons import Thin, Why, date_of, reason_of, section_name, stage_name, stored, text
from .._core.time import to_utc
from .config import RunConfig
from .store import NOT_DUE, Artifact, Output, fingerprint

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a stage function gets: the configuration, the artifacts it reads, and where it writes."""

    config: RunConfig
    inputs: dict[str, Artifact]
    out: Output
    absent: dict[str, str] = dataclasses.field(default_factory=dict)  # inputs it can do without -> why missing
    # the actions stage: the score alerts and CRM tasks earlier runs of the data folder sent (``alerts``, ``tasks``;
    # see engage_models.actions.repeats.sent_before), left out of this run's as repeats; None: nothing known
    sent: dict | None = None

    @property
    def paths(self):
        return self.config.paths

    @property
    def as_of(self) -> pd.Timestamp:
        """The run's observation date (the configured one, else the midnight after the last event)."""
        return to_utc(self.inputs["ingest"].json("dates")["as_of"])

    def input(self, stage: str) -> Artifact:
        return self.inputs[stage]

    def has(self, stage: str, name: str | None = None) -> bool:
        """Whether the input ``stage`` was computed (and wrote ``name``)."""
        return stage in self.inputs and (name is None or self.inputs[stage].has(name))

    def why_missing(self, stage: str, name: str | None = None) -> Why:
        """Why the input ``stage`` (or its section ``name``) is not there, in words (every language it has)."""
        if stage not in self.inputs:
            return self.absent.get(stage) or Why("reason.stage_was_not_run", stage=stage_name(stage))
        return (name and self.inputs[stage].why(name)) or Why("reason.section_not_computed", stage=stage_name(stage),
                                                              section=section_name(name or ""))

    def section(self, name: str | tuple[str, ...], compute: Callable[[], None]) -> bool:
        """Run ``compute`` (which writes one section); on :class:`InsufficientData` record why and go on.

        ``name`` is the artifact a report asks for (or several, when ``compute`` writes several): the report
        shows the recorded reason in place of each."""
        try:
            compute()
            return True
        except InsufficientData as exc:
            for n in (name,) if isinstance(name, str) else name:
                self.out.skip(n, exc)
            return False


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Context], None]
    needs: tuple[str, ...]
    params: Callable[[RunConfig], dict]
    title: str
    uses: tuple[str, ...] = ()  # inputs read when computed; without them the stage skips the sections they feed


# ------------------------------------------------------------------------------------------------ ingest
def run_date_end(config: RunConfig) -> pd.Timestamp:
    """Ingest's "now": the end of the run date on the run's calendar (timestamps after it are after the run date, and
    set aside), a
    wall-clock time as ingest stores times (see :mod:`engage_models._core.time`)."""
    from .._core.time import parse_run_date

    return to_utc(parse_run_date(config.run_date, config.zone)) + pd.Timedelta(days=1)


def _ingest_params(c: RunConfig) -> dict:
    # runs without a named zone keep the keys they had; a named one (UTC too: ingest's warnings differ) is a key
    zone = {"timezone": c.timezone} if c.timezone is not None else {}
    return {"csat_scale": c.csat_scale, "now": run_date_end(c).isoformat(), "as_of": c.as_of, **zone,
            "raw": fingerprint(c.paths.raw, content=True,
                               digests=Path(c.data_dir) / "artifacts" / "ingest" / RAW_DIGESTS),
            "databases": database_fingerprints(c.paths.raw)}


#: The raw files' content digests, kept with the times and inode they were read at (see store.fingerprint).
RAW_DIGESTS = ".raw_digests.json"


def database_fingerprints(raw: Path) -> dict[str, dict]:
    """What the database tables of ``raw/sources.yaml`` are now (see :func:`engage_models.ingest.database.fingerprint`):
    a database changes between runs without any file changing, so ingest's key covers it too. A table with an
    ``updated_column`` is keyed on its row count and that column's maximum; one without is read on every run."""
    from ..ingest.database import fingerprint as db_fingerprint
    from ..ingest.sources import database_tables

    return {table: db_fingerprint(db, table=table) for table, db in database_tables(raw).items()}


def _nothing_kept(report, warnings: list[str] = ()) -> Why | None:
    """Why no event is left when events were read: the tables whose every row was quarantined, with their
    main reasons (every account quarantined takes every event with it), and what else ingest warned about
    (``warnings``: its advice on date and number formats; report 01 has no ingest report to show them from when
    nothing was kept)."""
    empty = [r for r in report.tables.values() if r.rows_read and not r.rows_kept]
    events = report.tables.get("events")
    if not empty or events is None or events.rows_kept:
        return None

    from ..ingest.quality import translate_reason

    def why(r) -> Why:
        top = sorted(r.by_reason.items(), key=lambda kv: -kv[1])[:2]
        return Why("reason.table_quarantined", table=r.table, n=f"{r.rows_read:,}",
                   why=Why.of({lang: t("sep.list", lang).join(
                       t("sep.label_value", lang, what=translate_reason(k, lang), value=f"{n:,}") for k, n in top)
                       for lang in LANGS}))

    tables = Why.of({lang: t("sep.comma", lang).join(w.text(lang) for w in map(why, empty)) for lang in LANGS})
    if warnings:
        return Why("reason.nothing_kept_warned", tables=tables,
                   warnings=Why.of({lang: t("sep.list", lang).join(text(w, lang) for w in warnings) for lang in LANGS}))
    return Why("reason.nothing_kept", tables=tables)


def ingest(ctx: Context) -> None:
    """Validate the raw tables into ``processed/`` (see :func:`engage_models.ingest.ingest`)."""
    from ..ingest import ingest as run_ingest
    from ..ingest.quality import data_dates

    c = ctx.config
    report = run_ingest(c.paths.raw, c.paths.processed, now=run_date_end(c).tz_localize(None),
                        csat_scale=c.csat_scale, timezone=c.timezone)
    path = ctx.out.file("ingest_report.json")
    report.to_json(path)
    data = read_json(path)  # sources by their place in the raw folder: no machine path in a run's folder
    named = {}  # each source as ingest's warnings name it -> as the run's folder does
    for table in data.get("tables", {}).values():
        for key, folder in (("source", c.paths.raw), ("processed", c.paths.root), ("quarantine", c.paths.root),
                            ("values", c.paths.root)):
            if table.get(key):
                shown = _relative(table[key], folder)
                named[table[key]] = shown
                table[key] = shown
    for old in sorted(named, key=len, reverse=True):  # the longest first: no path is cut inside another
        data["warnings"] = [w.replace(old, named[old]) for w in data.get("warnings", [])]
        data["warning_texts"] = [tx and {lang: w.replace(old, named[old]) for lang, w in tx.items()}
                                 for tx in data.get("warning_texts") or [None] * len(data["warnings"])]
    write_json(path, data)
    if not _events_file_empty(report):  # events were read and none kept: why (a header-only file is no error)
        # ingest's warnings as the run's folder names their sources, but those of a table that lost every row: the
        # reason says those tables itself
        said = [stored(w, tx) for w, tx, live in zip(data["warnings"], data.get("warning_texts") or [None] * len(
            data["warnings"]), report.warnings or (), strict=True)
            if getattr(live, "key", None) != "ingest.warn.all_quarantined"]
        nothing = _nothing_kept(report, said)
        if nothing is not None:
            raise Thin.of(nothing)
    ctx.out.json("dates", data_dates(c.paths.processed, c.as_of))
    ctx.out.json("processed", fingerprint(c.paths.processed, "*.parquet"))


def _events_file_empty(report) -> bool:
    """The events table read no row (a header-only file) while accounts were kept: the accounts and subscriptions
    still give the KPIs, the surveys and the summary (a purchase log's header-only events file stopped the whole
    run); the panel and every stage that needs it are not computed, each with its reason."""
    events, accounts = report.tables.get("events"), report.tables.get("accounts")
    return events is not None and not events.rows_read and accounts is not None and bool(accounts.rows_kept)


def _relative(path: str, folder: Path) -> str:
    if "://" in path:  # a database table's label (no password in it): kept as it is
        return path
    try:
        return str(Path(path).resolve().relative_to(Path(folder).resolve()))
    except ValueError:
        return Path(path).name


def ingest_is_current(artifact: Artifact, config: RunConfig) -> bool:
    """The processed tables are still those this ingest wrote (nobody re-ingested or edited them since)."""
    return artifact.json("processed") == fingerprint(config.paths.processed, "*.parquet")


# ------------------------------------------------------------------------------------------------ quality
def quality(ctx: Context) -> None:
    from ..ingest import quality as Q
    from ..ingest.contracts import CONTRACTS

    p = ctx.paths.processed
    ctx.out.frame("coverage", Q.date_coverage(p))
    daily = Q.events_per_day(p)
    if len(daily):
        ctx.out.frame("events_per_day", daily)
    else:  # a header-only events file: report 01's chart of none stopped the report
        ctx.out.skip("events_per_day", Why("reason.no_events"))
    per_month = Q.monthly_counts(p, "surveys", "submitted_at", by="trigger")
    if len(per_month):
        ctx.out.frame("surveys_per_month", per_month)
    else:
        ctx.out.skip("surveys_per_month", Why("reason.no_survey_answer"))
    for table in CONTRACTS:
        sample = Q.quarantine_sample(p, table)
        if len(sample):
            ctx.out.frame(f"quarantine.{table}", sample)


# ------------------------------------------------------------------------------------------------ panel
def _engine_settings(c: RunConfig) -> dict:
    if c.engine == "spark":
        return {"engine": "spark", "spark_master": c.spark_master, "spark_driver_memory": c.spark_driver_memory}
    return {}


def panel(ctx: Context) -> None:
    from ..features.panel import default_panel

    c = ctx.config
    if ctx.input("ingest").json("dates").get("no_events"):  # said without the file's path (a run folder holds none)
        raise Thin("reason.panel_no_events")
    df = default_panel(ctx.paths.processed, ctx.as_of, horizon_days=c.horizon_days, windows=c.windows,
                       **_engine_settings(c))
    if df.empty:
        raise Thin("reason.empty_panel")
    ctx.out.frame("panel", df)
    dates = sorted(df["as_of"].unique())
    ctx.out.json("info", {"until": ctx.as_of, "horizon_days": c.horizon_days, "windows": list(c.windows),
                          "dates": [pd.Timestamp(d) for d in dates], "rows": len(df),
                          "accounts": int(df["account_id"].nunique())})


# ------------------------------------------------------------------------------------------------ kpis
def kpis(ctx: Context) -> None:
    from .. import kpis as K
    from ..kpis import engagement

    c, out = ctx.config, ctx.out
    accounts, subscriptions = K.load_tables(ctx.paths.processed)
    pnl = ctx.input("panel").frame("panel") if ctx.has("panel") else None
    as_of = ctx.as_of
    # where the KPI months begin, and the rows dated long before the rest that were set aside to find it (report 02
    # says them: one subscription month mistyped as 1924 had stretched every monthly table back a century)
    first, said = K.kpi_start(accounts, subscriptions)
    info = {"observed_from": first, "set_aside": [said] if said else []}
    # at a churn stop the monthly KPIs end with the last month closed before it (report 02 says so): past it a
    # month counted the accounts that left unrecorded as customers, with no churn
    stop = (ctx.input("ingest").json("dates").get("churn_stop") or {}).get("stop")
    months_as_of = K.months_until(as_of, stop)
    if stop:
        last, full = (to_utc(d).tz_localize(None).to_period("M") - 1 for d in (months_as_of, as_of))
        info["churn_stop"] = {"stop": stop, "last_month": last.to_timestamp().date().isoformat(),
                              "months_left_out": max(0, (full - last).n)}
    out.json("info", info)
    ctx.section("summary", lambda: out.frame("summary", K.kpi_summary(accounts, subscriptions, pnl, as_of=as_of,
                                                                      churn_until=stop)))

    def monthly(name: str, compute: Callable[..., pd.DataFrame]) -> None:
        def write():
            df = compute(accounts, subscriptions, as_of=months_as_of)
            if df.empty:
                raise Thin("reason.no_closed_month")
            out.frame(name, df)

        ctx.section(name, write)

    for name, compute in (("logo_churn", K.logo_churn), ("revenue_retention", K.revenue_retention),
                          ("mrr_bridge", K.mrr_bridge), ("cohorts", K.cohort_retention)):
        monthly(name, compute)
    if pnl is None:
        for name in ("engagement_over_time", "most_engaged", "least_engaged"):
            out.skip(name, ctx.why_missing("panel"))
        return
    out.frame("engagement_over_time", K.engagement_over_time(pnl))
    top, bottom = engagement.ranking(pnl, n=c.actions.top_n, accounts=accounts)
    out.frame("most_engaged", top)
    out.frame("least_engaged", bottom)
    out.json("ranking_info", engagement.ranking_info(pnl))


# ------------------------------------------------------------------------------------------------ surveys
def surveys(ctx: Context) -> None:
    from .. import surveys as sv
    from ..surveys import csat as cs
    from ..surveys import drivers as dr
    from ..surveys import net_promoter as npsm
    from ..surveys import themes as th

    c, out, v = ctx.config, ctx.out, ctx.config.surveys
    data = sv.load_survey_data(ctx.paths.processed, ctx.as_of)
    out.frame("nps_answers", data.nps)
    out.frame("csat_answers", data.csat)
    # the first and last NPS answer: report 03's overall NPS counts every answer between them, the executive
    # summary's the latest wave only (a reader saw two NPS figures with no word why)
    first, last = sv.answer_span(data.nps)
    # a ticket's CSAT from a survey answer naming it, else from the ticket's own csat column: a company that keeps
    # CSAT on its tickets only (surveys of NPS alone) had its ticket CSAT ignored
    from_tickets = "csat" in data.tickets and data.tickets["csat"].notna().any()
    tickets_csat = sv.ticket_csat(data.tickets, data.csat) if len(data.csat) or from_tickets else data.csat.iloc[:0]
    # report 03's header counts the tickets' own scores beside the survey answers (it said "0 CSAT answers" above
    # a section of 147 tickets' scores)
    own = int((tickets_csat["source"] == "ticket").sum()) if len(tickets_csat) else 0
    out.json("info", {"attributes": data.attributes, "answers": len(data.nps), "csat_answers": len(data.csat),
                      "csat_ticket_scores": own, "accounts": int(data.nps["account_id"].nunique()), "min_n": v.min_n,
                      "first_answer": first, "last_answer": last})
    no_nps = Why("reason.no_nps")
    if data.nps.empty:
        for name in ("nps_overall", "nps_trend", "nps_headline", *NPS_SECTIONS):  # the names the reports ask for
            out.skip(name, no_nps)
    else:
        overall = sv.nps(data.nps, method=v.ci_method)  # a table: the interval counts accounts
        out.json("nps_overall", dataclasses.asdict(overall))
        trend = sv.nps_trend(data.nps, v.trend_freq, method=v.ci_method, min_n=v.min_n)
        out.frame("nps_trend", trend)
        change = npsm.latest_change(data.nps, v.trend_freq, min_n=v.min_n, method=v.ci_method)
        if change is not None and change["previous"] is not None:
            # survey waves when the answers come in waves, else calendar periods; paired by account
            a, b = change["previous"], change["latest"]
            out.json("nps_wave_change", {"unit": change["unit"], "a": a["period"], "b": b["period"],
                                         "a_end": a["end"], "b_end": b["end"], "nps_a": a["nps"],
                                         "nps_b": b["nps"], "n_a": int(a["n"]), "n_b": int(b["n"]),
                                         "min_n": v.min_n, "difference": dataclasses.asdict(change["difference"])})
        else:
            out.skip("nps_wave_change", Why("reason.one_survey_period"))
        # what the executive summary quotes (quarters, thin waves passed over), computed here once: report 03
        # says which wave that is, and a wave just begun made its sentence wrong when computed in the summary only
        out.json("nps_headline", npsm.headline_record(data.nps, min_n=v.min_n, method=v.ci_method))
        for attr in data.attributes:
            out.frame(f"nps_by_{attr}", sv.nps_table(data.nps, attr, method=v.ci_method, min_n=v.min_n))
    if len(data.csat):
        out.frame("csat_by_trigger", sv.csat_table(data.csat, "trigger", min_n=v.min_n))
        out.frame("csat_by_trigger_segment", sv.csat_table(data.csat, ["trigger", "segment"], min_n=v.min_n))
        out.frame("csat_trend", sv.csat_trend(data.csat, v.trend_freq, min_n=v.min_n))
    else:
        for name in ("csat_by_trigger", "csat_trend"):
            out.skip(name, Why("reason.no_csat"))
    if len(tickets_csat):
        out.frame("tickets_csat", tickets_csat)
        out.frame("csat_by_priority", sv.csat_table(tickets_csat, "priority", min_n=v.min_n))
        out.frame("csat_by_close_time", cs.ticket_csat_by_close_time(tickets_csat, min_n=v.min_n))
        corr = cs.close_time_correlation(tickets_csat)
        if corr["accounts"] is not None and corr["accounts"] < cs.MIN_CORRELATION_ACCOUNTS:
            out.skip("close_time_correlation", Why("reason.few_accounts_correlation", n=corr["accounts"],
                                                   min=cs.MIN_CORRELATION_ACCOUNTS))
        else:
            out.json("close_time_correlation", corr)
    else:
        for name in ("csat_by_priority", "csat_by_close_time"):
            out.skip(name, Why("reason.no_ticket_csat" if len(data.csat) or from_tickets else "reason.no_csat"))
    if data.nps.empty:
        return
    pnl = ctx.input("panel").frame("panel") if ctx.has("panel") else None

    def drivers():
        if pnl is None:
            raise Thin.of(ctx.why_missing("panel"))
        from .._core.sampling import sample_note, stratified_accounts

        cols = dr.candidate_drivers(pnl.columns)
        joined, indicators = dr.one_hot(dr.attach_panel(data.nps, pnl, cols, max_age_days=45), data.attributes)
        # a large company's drivers come from the answers of a sample of its accounts (a simple random one:
        # one stratum); the account bootstrap's intervals are those of the sample, so honest and a little wider
        sample = stratified_accounts(joined["account_id"], np.zeros(len(joined), int), v.max_driver_accounts, c.seed)
        out.json("drivers_sample", sample_note(sample, joined["account_id"].nunique()))
        if sample is not None:
            joined = joined[joined["account_id"].isin(pd.Index(sample))]
        out.frame("drivers", dr.driver_correlations(joined, cols + indicators, ci="bootstrap",
                                                    n_boot=v.driver_bootstrap, seed=c.seed, n_jobs=v.n_jobs))

    ctx.section("drivers", drivers)
    waves = sv.account_waves(data.nps)
    # churn is known up to the day the accounts' churn stops (label_end): the landmark is one horizon before it,
    # and the curves by category follow each answer to it only
    dates = ctx.input("ingest").json("dates")
    end = label_end(dates, ctx.as_of)
    churn = sv.churn_by_category(waves, data.accounts, c.horizon_days, end)
    out.frame("churn_by_category", churn)
    out.json("churn_by_category", {**{k: churn.attrs.get(k) for k in ("risk_ratio", "rr_low", "rr_high", "chi2_p",
                                                                      "horizon_days")},
                                   **_survey_stop(waves, data.accounts, dates, end, churn.attrs["at"])})
    surv = sv.survival_frame(waves, data.accounts, end)
    if len(surv):
        ctx.section("km_by_category", lambda: _write_km(out, "km_by_category", dr.km_by_category(surv)))
    else:
        out.skip("km_by_category", Why("reason.no_followed_nps"))
    current = data.accounts[data.accounts["end_date"].isna() | (data.accounts["end_date"] > ctx.as_of)]
    view = sv.account_nps(data.nps).merge(current[["account_id", "name", "segment"]], on="account_id")
    out.frame("accounts_to_call", sv.accounts_to_call(view, n=v.watch_list))
    out.frame("split_respondents", sv.split_respondents(data.nps, view))
    themes = sv.theme_table(data.nps)
    if len(themes):
        out.frame("themes", themes)
    terms = sv.key_terms(data.nps)
    # terms that set a group apart beyond chance (z of 1.96: the 5% level, each term alone), not the 8 largest z
    # whatever they are (a Japanese team was shown terms at z 0.3)
    out.frame("key_terms", th.top_terms(terms, n=8, min_z=KEY_TERM_Z))
    out.frame("representative_comments", sv.representative_comments(data.nps, k=1, terms=terms))
    out.frame("latest_detractor_comments", sv.latest_comments(data.nps, "detractor", 10))


def _survey_stop(waves: pd.DataFrame, accounts: pd.DataFrame, dates: dict, end, at) -> dict:
    """At a churn stop, what churn by NPS category left out (report 03 says it: ``surveys.report.churn_stop_text``):
    ``stop``, the landmark ``at`` (one horizon before it) and the accounts answered (before the observation date)
    whose first answer came on or after it, so the curves by category do not take them (``after_stop``); nothing
    without a stop."""
    stop = (dates.get("churn_stop") or {}).get("stop")
    if not stop:
        return {}
    from ..surveys.drivers import survival_frame

    followed = survival_frame(waves, accounts, dates["as_of"])["account_id"].nunique()
    return {"churn_stop": {"stop": stop, "label_end": end.date().isoformat(), "at": at.date().isoformat(),
                           "after_stop": int(followed - survival_frame(waves, accounts, end)["account_id"].nunique())}}


#: The smallest log-odds z of a key term shown (see :func:`engage_models.surveys.themes.key_terms`).
KEY_TERM_Z = 1.96

#: Sections of the surveys stage that read the NPS answers (each skipped, with the reason, when there are none).
NPS_SECTIONS = ("drivers", "churn_by_category", "km_by_category", "accounts_to_call", "split_respondents",
                "key_terms", "representative_comments", "latest_detractor_comments")


def _write_km(out: Output, name: str, km) -> None:
    """A fitted :class:`~engage_models.survival.KaplanMeierGroups` as its tables (see ``to_tables``)."""
    frames, info = km.to_tables()
    for part, df in frames.items():
        out.frame(f"{name}.{part}", df)
    out.json(name, info)


def read_km(artifact: Artifact, name: str):
    """The Kaplan-Meier result ``name`` of ``artifact`` (see :func:`_write_km`)."""
    from ..survival.kaplan_meier import KaplanMeierResult

    info = artifact.json(name)
    return KaplanMeierResult.from_tables({p: artifact.frame(f"{name}.{p}") for p in info["tables"]}, info)


# ------------------------------------------------------------------------------------------------ health
LABELS = ("churned_within_h", "duration_days", "event")


def label_end(dates: dict, panel_end) -> pd.Timestamp:
    """The last day a churn label may reach: the panel's last date, or the day the accounts' churn stops when that
    is earlier (``churn_stop`` of the run's dates, :func:`engage_models.ingest.quality.churn_stop`: churn dated when
    it happened but known only later, so the months after the stop hold none and every account there looks as if
    it never churns)."""
    end = to_utc(panel_end)
    stop = (dates.get("churn_stop") or {}).get("stop")
    return min(end, to_utc(stop)) if stop else end


def known_labels(panel: pd.DataFrame, dates: dict, horizon_days: int) -> pd.DataFrame:
    """``panel`` with ``churned_within_h`` missing where its window (``as_of`` + ``horizon_days``) runs past
    :func:`label_end`: the one rule by which the health stage, its backtest and score history, the monitoring of
    matured labels and the retrain policy read labels (scoring reads no label and scores every date as before).

    Without a churn stop the panel is returned as it is (its labels already end at its last date). Otherwise a
    copy, whose ``attrs["churn_stop"]`` holds ``stop`` (ISO day), ``label_end`` (ISO day), ``rows`` (the rows whose
    label was left out for the stop), ``accounts`` and the first and last ``as_of`` of those rows (``first``,
    ``last``; None when none)."""
    stop = (dates.get("churn_stop") or {}).get("stop")
    if not stop or panel.empty:
        return panel
    end = label_end(dates, panel["as_of"].max())
    past = (pd.to_datetime(panel["as_of"], utc=True) + pd.Timedelta(days=int(horizon_days)) > end).to_numpy()
    dropped = past & panel["churned_within_h"].notna().to_numpy()
    out = panel.copy()
    out.loc[past, "churned_within_h"] = pd.NA
    when = pd.to_datetime(panel.loc[dropped, "as_of"], utc=True)
    out.attrs["churn_stop"] = {"stop": str(stop), "label_end": end.date().isoformat(), "rows": int(dropped.sum()),
                               "accounts": int(panel.loc[dropped, "account_id"].nunique()),
                               "first": when.min().date().isoformat() if len(when) else None,
                               "last": when.max().date().isoformat() if len(when) else None}
    return out


#: The stages whose outcomes end at a churn stop (:func:`panel_labels`, :func:`label_end`, the KPIs'
#: :func:`engage_models.kpis.months_until`): the stop is part of their keys and named in their manifests.
LABEL_STAGES = ("kpis", "surveys", "health", "survival", "personas", "effects", "monitoring")


def panel_labels(ctx: Context) -> pd.DataFrame:
    """The panel as the stages that learn from or judge by labels read it (:func:`known_labels`)."""
    return known_labels(ctx.input("panel").frame("panel"), ctx.input("ingest").json("dates"), ctx.config.horizon_days)


#: Folder of a stage's artifact holding files made for people and other tools (the runner publishes them).
EXPORT_DIR = "export"


def health_models(config: RunConfig, memory=None) -> dict[str, Callable[[], object]]:
    """The models of the backtest, each a factory of an unfitted estimator; the learned score's gap between
    training and validation dates is the run's horizon, by construction. ``memory``: where the shape card keeps
    its fits (see :func:`health`)."""
    from ..health import ChurnGBM, HandWeightedScore

    c = config
    models = {"learned": lambda: _learned("linear", c, 0), "shape": lambda: _learned("shape", c, 0, memory),
              "hand": lambda: HandWeightedScore(c.health.hand_scorecard),
              "gbm": lambda: ChurnGBM(random_state=c.seed)}
    if c.health.score != "auto":  # the card is fixed: no backtest of the other form
        models.pop("shape" if c.health.score == "linear" else "learned")
    return models


#: the backtest's name of each form of the learned card
FORM_MODEL = {"linear": "learned", "shape": "shape"}


def _learned(form: str, c: RunConfig, n_bootstrap: int, memory=None):
    """The learned card of ``form``: 'linear' (weights on transformed metrics) or 'shape' (ranges and points)."""
    from ..health import HealthScore, ShapeScore

    if form == "shape":
        return ShapeScore(gap_days=c.horizon_days, n_bootstrap=n_bootstrap, cost_ratios=c.health.cost_ratios,
                          random_state=c.seed, n_jobs=c.health.n_jobs, memory=memory)
    return HealthScore(gap_days=c.horizon_days, n_bootstrap=n_bootstrap, cost_ratios=c.health.cost_ratios,
                       random_state=c.seed)


def choose_form(summary: pd.DataFrame | None, setting: str = "auto") -> dict:
    """Which learned card the run uses: the configured one, or (``auto``) the one
    :func:`~engage_models.health.evaluation.choose_card` keeps on the out-of-time backtest (the shape card only
    when it leads beyond the paired 95% interval). Returns ``form``, ``by`` and the AUCs."""
    if setting != "auto":
        return {"form": setting, "by": "setting"}
    if summary is None:
        return {"form": "linear", "by": "no backtest to choose by: the linear card"}
    from ..health.evaluation import choose_card

    chosen = choose_card(summary, "shape", "learned")
    return {"form": chosen["form"], "by": "backtest ROC-AUC", "auc": chosen["auc"],
            "shape_lead_within_noise": chosen["shape_lead_within_noise"]}


def health(ctx: Context) -> None:
    """The backtest, the final card, its scores and drivers (a frozen model: its scores only).

    The shape card's fits are kept in a folder for the stage's length (:class:`~engage_models.health.ShapeScore`'s
    ``memory``): the backtest's cutoffs, their cross-validation folds, the final card and the score history all
    train on the rows of earlier dates of one panel (and one sample of accounts), and the same dates recur; a fit
    already made is read back (at 16,000 accounts 13 distinct of the backtest's 22)."""
    import tempfile

    if ctx.config.model:  # a frozen model: score with it, fit nothing (engage score / run --model)
        from ..lifecycle.stage import score_frozen

        return score_frozen(ctx)
    with tempfile.TemporaryDirectory(prefix="engage-health-fits-") as fits:
        _train_health(ctx, fits)


def _train_health(ctx: Context, fits: str) -> None:
    from .._core.sampling import sample_note, stratified_accounts
    from ..health import evaluation, history
    from ..health.model_io import save_model

    c, out, h = ctx.config, ctx.out, ctx.config.health
    # labels whose window runs past a churn stop are missing: the training rows, the backtest and the score
    # history leave them out (they had every account of the stop's months retained)
    pnl = panel_labels(ctx)
    stopped = pnl.attrs.get("churn_stop")
    accounts = pd.read_parquet(ctx.paths.processed / "accounts.parquet")
    labelled = pnl[pnl["churned_within_h"].notna() & (pnl["as_of"] + pd.Timedelta(days=c.horizon_days)
                                                     <= pnl["as_of"].max())]
    # the thin reasons say the stop when it took labels away
    stop = {"stop": date_of(to_utc(stopped["stop"])), "n": stopped["rows"]} if stopped and stopped["rows"] else None
    if labelled.empty or labelled["churned_within_h"].nunique() < 2:
        if stop:
            raise Thin("reason.no_matured_labels_stop", days=c.horizon_days, **stop)
        raise Thin("reason.no_matured_labels", days=c.horizon_days)
    churners = int(labelled.loc[labelled["churned_within_h"] == 1, "account_id"].nunique())
    if churners < h.min_churners:  # a card fitted to one or three churners published thresholds of 100%
        raise Thin("reason.few_churners_stop" if stop else "reason.few_churners", churners=churners,
                   need=h.min_churners, accounts=int(labelled["account_id"].nunique()), days=c.horizon_days,
                   **(stop or {}))

    chosen: dict = {}
    # a large company's models are fitted on a stratified sample of its accounts; every account is scored
    sample = stratified_accounts(labelled["account_id"], labelled["churned_within_h"], h.max_fit_accounts, c.seed)
    fit_note = sample_note(sample, labelled["account_id"].nunique())
    tested: dict = {}

    def backtest():
        models = health_models(c, fits)
        # with auto, the shape card is the alternative: should it fail on odd data, the linear card carries on
        # the hand card is a yardstick: a card naming a metric the panel lacks is left out, not the backtest
        bt = evaluation.backtest(pnl, models, horizon_days=c.horizon_days, n_cutoffs=h.n_cutoffs, n_jobs=h.n_jobs,
                                 train_accounts=sample, optional=("shape", "hand") if h.score == "auto" else ("hand",))
        for name, why in bt.failed.items():
            if name == "hand":  # the team's own card naming a metric the panel lacks: their input, not a bug
                out.skip("backtest_hand", Why("reason.hand_left_out", why=why.split(": ", 1)[-1]), kind="skipped")
            else:
                out.skip(f"backtest_{name}", f"left out of the backtest: it failed ({why})", kind="error")
        summary = bt.summary(n_boot=h.metric_bootstrap, seed=c.seed, n_jobs=h.n_jobs)
        chosen.update(choose_form(summary, h.score))
        if bt.failed:
            chosen["failed"] = dict(bt.failed)
        learned = FORM_MODEL[chosen["form"]]
        paired = {m for m in summary["model"] if evaluation.paired(summary, m)}  # not of one value, has draws
        if {"learned", "shape"} <= paired:
            chosen["shape_vs_linear"] = evaluation.paired_difference(summary, "shape", "learned")
        out.frame("backtest_predictions", bt.predictions)
        out.frame("backtest_metrics", summary)
        tested["metrics"] = summary
        out.frame("band_performance", evaluation.band_table(*bt.bands_of(learned)))
        out.json("backtest", {"cutoffs": bt.cutoffs, "rows": summary.attrs["n"], "churned": summary.attrs["churned"],
                              "seconds": bt.seconds, "learned_model": learned, "fit_sample": fit_note,
                              "calibration": bt.calibration_reference(learned, seed=c.seed),
                              "learned_vs_hand": evaluation.paired_difference(summary, learned, "hand")
                              if {learned, "hand"} <= paired else None,
                              "one_value": summary.attrs["one_value"]})

    if not ctx.section(("backtest_metrics", "band_performance"), backtest):
        chosen.update(choose_form(None, h.score))
    form = chosen["form"]
    fit_rows = labelled if sample is None else labelled[labelled["account_id"].isin(sample)]
    X = fit_rows.drop(columns=list(LABELS))
    final = _learned(form, c, h.n_bootstrap if form == "linear" else h.shape_bootstrap, fits).fit(
        X, fit_rows["churned_within_h"].astype(int))
    if form == "shape":
        final.set_params(memory=None)  # the model saved names no folder of this machine
    save_model(final, out.file("model.skops"))  # loads back without pickle (health/model_io.py)
    card = final.scorecard("en")
    card["label_ja"] = final.scorecard("ja").set_index("feature").loc[card["feature"], "label"].to_numpy()
    card = card.rename(columns={"label": "label_en"})
    out.frame("scorecard", card)
    yellow, red = final.thresholds_
    model_info = {"form": form, "chosen_by": chosen, "thresholds": {"yellow": yellow, "red": red},
                  "cost_ratios": h.cost_ratios, "cv": final.cv_kind_, "calibration": final.calibration_,
                  "calibration_floor": final.calibration_floor_,
                  "calibration_shift": float(getattr(final, "calibration_shift_", 0.0)),
                  "n_train": final.n_train_, "trained_until": labelled["as_of"].max(), "cutoff": ctx.as_of,
                  "fit_sample": fit_note}
    if stopped:  # the labels ended at the churn stop: the rows left out of training and the backtest, said
        model_info["churn_stop"] = {**stopped, "horizon_days": c.horizon_days}
    if form == "linear":
        model_info.update({"C": final.C_, "n_bootstrap": h.n_bootstrap})
    else:
        _shape_artifacts(final, out)
        model_info.update({"n_bootstrap": h.shape_bootstrap, "interval_mc_se": final.interval_mc_se_,
                           "terms": final.term_names_})
    from ..lifecycle.stage import freeze  # the model folder, named by its content (engage_models.lifecycle)

    why_untested = next((s.reason for s in out.skipped if s.section == "backtest_metrics"), None)
    model_info["model_id"] = freeze(ctx, final, fit_rows, model_info, tested.get("metrics"), card,
                                    backtest_reason=None if tested else why_untested)
    if form == "linear":  # report 04 names the metrics behind "logins_30d and 2 related metrics"
        from ..health.tables import grouped_metrics

        model_info["grouped_metrics"] = grouped_metrics(final.fitted_.design)
    out.json("model", model_info)
    scores, fitted = history.rolling_scores(
        pnl, lambda: _learned(form, c, 0, fits),
        horizon_days=c.horizon_days, n_dates=h.history_dates, prefit={labelled["as_of"].max(): final},
        train_accounts=sample)
    latest_date = scores["as_of"].max()
    latest = pnl[pnl["as_of"] == latest_date]
    drivers = history.drivers_in_words(fitted[latest_date], latest.drop(columns=list(LABELS)))
    scores = scores.merge(drivers.assign(account_id=latest["account_id"].to_numpy(), as_of=latest_date),
                          on=["account_id", "as_of"], how="left")
    out.frame("scores", history.with_context(scores, pnl, accounts).assign(model_id=model_info["model_id"]))


def _shape_artifacts(final, out) -> None:
    """The shape card as ranges and points (both languages), its pairwise tables and its shapes for report 04."""
    from ..health import cards

    en, ja = final.card("en"), final.card("ja")
    out.frame("card", en.rename(columns={"label": "label_en", "range": "range_en"}).assign(
        label_ja=ja["label"].to_numpy(), range_ja=ja["range"].to_numpy()))
    out.json("pair_tables", {lang: {name: {"index": [str(i) for i in tb.index], "columns": [str(x) for x in tb.columns],
                                           "row_label": tb.index.name, "column_label": tb.columns.name,
                                           "points": np.round(tb.to_numpy(dtype=float), 3).tolist()}
                                    for name, tb in final.pair_tables(lang).items()} for lang in ("en", "ja")})
    try:
        cards.card_config(final)
    except cards.NothingToExport:  # every shape flat, or pairwise only: the card's tables hold it, said
        out.skip("learned_scorecard", Why("reason.card_not_exportable"))
        return
    cards.write_card_yaml(final, out.file(f"{EXPORT_DIR}/learned_scorecard.yaml"))


# ------------------------------------------------------------------------------------------------ personas
def personas(ctx: Context) -> None:
    """Personas and journeys (see :mod:`engage_models.journeys.stage`)."""
    from ..journeys.stage import compute

    compute(ctx)


def _personas_params(c: RunConfig) -> dict:
    """The personas section, and the registry's content (persona names from earlier runs: an input too)."""
    from ..journeys.stage import registry_digest

    return {**_params_of("personas", keys=("horizon_days", "seed", "windows"))(c), "playbook": c.actions.playbook,
            "currency": c.currency,  # a stage rule may compare with an amount the playbook names per currency
            "min_n": c.surveys.min_n, "registry_digest": registry_digest(c)}


# ------------------------------------------------------------------------------------------------ survival
def survival(ctx: Context) -> None:
    from ..survival import (
        CoxModel,
        DiscreteTimeHazard,
        KaplanMeierGroups,
        TimeVaryingCox,
        analysis,
        bootstrap_values,
        simple_ltv,
    )
    from ..survival.report import account_curve_table, example_accounts

    c, out, s = ctx.config, ctx.out, ctx.config.survival
    # today's accounts: the customers valued, their tenure and MRR at the observation date
    adata = analysis.account_table(c.data_dir, ctx.as_of)
    # at a churn stop the follow-up ends there, censored: past it the accounts that left unrecorded would count as
    # months without churn (curves too flat, hazards too low). The curves, the models and their backtests take
    # the lifetimes cut at the stop; the values still score the customers of the observation date (report 05)
    dates = ctx.input("ingest").json("dates")
    stop, end = (dates.get("churn_stop") or {}).get("stop"), label_end(dates, adata.as_of)
    if end < adata.as_of:
        try:  # the reason names the stop, not the observation date ("no account started before 1 Jan 2000")
            fdata = analysis.account_table(c.data_dir, end)
        except InsufficientData:
            raise Thin("reason.no_lifetime_stop", stop=date_of(end)) from None
        # a stop on or before the data begin: no day of the data has its churn known, nothing is followed
        if fdata.observed_from is not None and end <= to_utc(fdata.observed_from):
            raise Thin("reason.stop_before_data", stop=date_of(end), since=date_of(to_utc(fdata.observed_from)))
    else:
        fdata = adata
    lt = fdata.lifetimes
    if lt.empty:
        raise Thin("reason.no_time_observed")
    out.frame("lifetimes", lt)
    out.json("info", {"as_of": adata.as_of, "observed_from": fdata.observed_from, "accounts": len(lt),
                      "churned": int(lt["event"].sum()), "left_truncated": int(lt["left_truncated"].sum()),
                      "covariates": fdata.covariates, "set_aside": adata.set_aside, "churn_stop": stop,
                      **({"followed_until": end.date().isoformat(), "customers": len(adata.active),
                          "started_after_stop": int((to_utc(adata.lifetimes["start_date"]) >= end).sum()),
                          # today's customers past the longest tenure followed: valued on the tail hazard alone
                          "longest_followed": round(float(lt["duration"].max()), 1),
                          "beyond_followed": int((adata.active["duration"] > lt["duration"].max()).sum())}
                         if fdata is not adata else {})})
    # a group the report could never draw (never 10 accounts at risk at once) is left out, with the reason
    groups = {"km_all": KaplanMeierGroups(require_at_risk=True),
              "km_segment": KaplanMeierGroups("segment", require_at_risk=True),
              "km_plan": KaplanMeierGroups("plan", require_at_risk=True),
              "km_start_year": KaplanMeierGroups("start_year", require_at_risk=True),
              "km_nps": KaplanMeierGroups("nps_category", entry_col="nps_entry", require_at_risk=True,
                                          order=["promoter", "passive", "detractor", "no_answer"])}
    for name, km in groups.items():
        if km.by is None or km.by in lt:
            ctx.section(name, lambda km=km, name=name: _write_km(out, name, km.fit(lt)))
    if ctx.has("health", "scores"):
        from ..health.history import band_followup

        def km_band():  # followed from the earliest scored date to the churn stop, if any
            scores = ctx.input("health").frame("scores")
            first = to_utc(scores["as_of"]).min()
            if stop and first >= end:
                raise Thin("reason.bands_after_stop", first=date_of(first), stop=date_of(end))
            by_band = band_followup(scores, adata.accounts, end)
            _write_km(out, "km_band", KaplanMeierGroups("band", entry_col=None, require_at_risk=True,
                                                         order=["green", "yellow", "red"]).fit(by_band))

        ctx.section("km_band", km_band)
    else:
        out.skip("km_band", ctx.why_missing("health", "scores"))

    def cox():
        model = CoxModel(covariates=fdata.covariates, entry_col="entry", random_state=c.seed,
                         max_cv_accounts=s.max_cv_accounts, n_jobs=s.n_jobs).fit(lt)
        out.frame("cox_summary", model.summary.reset_index(names="term"))
        if model.cv_results_ is not None:
            out.frame("cox_penalizer", model.cv_results_)
        for name, df in (("cox_ph_before", model.ph_test_), ("cox_ph_after", model.ph_test_after_)):
            if df is not None:
                out.frame(name, df)
        out.json("cox", {"penalizer": model.penalizer_, "penalizer_sample": model.penalizer_sample_,
                         "remedies": model.remedies_,
                         "assumptions": {lang: model.assumptions_text(lang) for lang in ("en", "ja")}})
        return model

    cutoff, no_cutoff = None, None
    try:
        model = cox()
    except InsufficientData as exc:
        model, no_cutoff = None, Why("reason.cox_not_fitted", why=reason_of(exc))
        for name in ("cox_summary", "oot_account"):  # the names the report asks for
            out.skip(name, exc)
    if model is not None:
        try:
            oot = analysis.out_of_time(fdata, model)
            out.json("oot_account", oot.result)
            cutoff = oot.cutoff
        except InsufficientData as exc:
            out.skip("oot_account", exc)
            no_cutoff = reason_of(exc)
    if not ctx.has("panel"):
        for name in ("tv_summary", "oot_panel", "values"):
            out.skip(name, ctx.why_missing("panel"))
        return
    pnl = ctx.input("panel").frame("panel")
    first = to_utc(pnl["as_of"]).min() if not pnl.empty else None
    if fdata is not adata and first is not None and first >= end:
        # the panel is as long as its windows allow; the stop before its first date is why no month is followed
        why = Why("reason.panel_after_stop", model=Why(TimeVaryingCox.label), first=date_of(first), stop=date_of(end))
        for name in ("tv_summary", "oot_panel", "values"):
            out.skip(name, why)
        return
    pdata = analysis.panel_table(fdata, panel=pnl)
    try:
        tv = TimeVaryingCox(covariates=pdata.covariates, random_state=c.seed,
                            max_cv_accounts=s.max_cv_accounts, n_jobs=s.n_jobs).fit(pdata.start_stop)
    except InsufficientData as exc:
        for name in ("tv_summary", "oot_panel", "values"):  # the per-account values come from this model
            out.skip(name, exc)
        return
    out.frame("tv_summary", tv.summary_per_sd().reset_index(names="term"))

    def discrete():  # the cross-check, on the same penalty scale (lifelines': per row)
        model = DiscreteTimeHazard(covariates=pdata.covariates, penalizer=tv.penalizer_).fit(pdata.start_stop)
        out.frame("discrete_summary", model.summary_per_sd().reset_index(names="term"))

    ctx.section("discrete_summary", discrete)
    if tv.cv_results_ is not None:
        out.frame("tv_penalizer", tv.cv_results_)
    out.json("time_varying", {"penalizer": tv.penalizer_, "penalizer_sample": tv.penalizer_sample_})
    if cutoff is not None:
        ctx.section("oot_panel", lambda: out.json("oot_panel", analysis.out_of_time_panel(pdata, tv, cutoff).result))
    else:  # the panel model is tested at the account model's cutoff
        out.skip("oot_panel", no_cutoff)
    # the customers of the observation date, each at its tenure and MRR then (at a churn stop, beyond the follow-up)
    current = pdata.current if fdata is adata else analysis.panel_table(adata, panel=pnl).current
    if current.empty:
        out.skip("values", Why("reason.no_customer"))
        return
    values, portfolio = bootstrap_values(
        tv, pdata.start_stop, current, current["t0"], current["mrr"], n_boot=s.n_boot, random_state=c.seed,
        cluster="account_id", n_jobs=s.n_jobs, max_resample=s.max_resample, margin=s.margin,
        annual_discount_rate=s.annual_discount_rate, horizon=s.ltv_horizon_months)
    out.json("intervals", {"refits": values.attrs.get("n_boot", 0), "asked": s.n_boot,
                           "resampled_accounts": values.attrs.get("resampled"),
                           "accounts": values.attrs.get("clusters"),
                           "unseen_levels": values.attrs.get("unseen_level_refits", [])})
    values = values.rename_axis("account_id").reset_index()
    values["name"] = current.loc[values["account_id"], "name"].astype(str).to_numpy()
    out.frame("values", values)
    out.frame("revenue_at_risk", portfolio)
    by_account = values.set_index("account_id")
    examples = example_accounts(by_account)
    out.frame("example_curves", account_curve_table(tv.predict_curves(current.loc[list(examples)]),
                                                    by_account.loc[list(examples), "tenure_months"], examples,
                                                    horizon=s.ltv_horizon_months))
    # its churn rate is the follow-up's; its ARPA the customers' MRR at the run's date, as the values' (the
    # lifetimes' is at entry)
    active = adata.active
    out.json("simple_ltv", simple_ltv(lt, margin=s.margin,
                                      active=active.assign(mrr=active["account_id"].map(adata.mrr_now()))))


# ------------------------------------------------------------------------------------------------ actions
def actions(ctx: Context) -> None:
    from .. import actions as A
    from ..health import history
    from ..reports import summary as S

    c, out, a = ctx.config, ctx.out, ctx.config.actions
    scored = ctx.input("health").frame("scores")
    if ctx.has("survival", "values"):
        scored = scored.merge(ctx.input("survival").frame("values")[["account_id", "ltv"]], on="account_id",
                              how="left")
    else:
        out.skip("ltv", ctx.why_missing("survival", "values"))
    pnl = ctx.input("panel").frame("panel")
    metrics = [col for col in pnl.columns if col not in scored.columns or col in ("account_id", "as_of")]
    scored = scored.merge(pnl[metrics], on=["account_id", "as_of"], how="left")
    # for the run's observation date: a world whose accounts had all left by then got a list for the last date
    # with customers (rescue calls for churned accounts); thin data instead
    plan = A.action_list(scored, a.playbook, as_of=to_utc(ctx.input("panel").json("info")["until"]), lang=c.lang,
                         holdout_seed=a.holdout_seed if a.holdout else None, currency=c.currency)
    # the health model that scored the list: its model folder's id (older health artifacts: the stage's key)
    model_id = ctx.input("health").json("model").get("model_id") or ctx.input("health").key
    plan["model_id"] = model_id
    out.frame("actions", plan)
    out.frame("holdout_design", A.holdout_design(plan))
    out.json("holdout", {**(plan.attrs.get("holdout") or {}), "enabled": a.holdout})
    # the labels, for the reports (which must not read the playbook file again: run.json names it only)
    out.json("play_labels", {p.id: dict(p.label) for p in A.load_playbook(a.playbook, c.currency).all_plays})
    now = scored[scored["as_of"] == scored["as_of"].max()]
    names = now[["account_id", "name"]] if "name" in now.columns else None
    written = A.export_actions(plan, out.path / EXPORT_DIR / "actions")  # the files for a CRM, published as such
    # the same list as HubSpot's and Salesforce's import files, naming the health model that scored it; a task the
    # folder's earlier runs exported for the same account and play within task_repeat_days is not written again
    sent = ctx.sent or {}
    tasks = A.crm_tasks(plan, sent.get("tasks"), days=a.task_repeat_days)
    written.update(A.export_crm(plan, out.path / EXPORT_DIR, model_id=model_id, lang=c.lang, names=names,
                                tasks=tasks))
    out.files.extend(f"{EXPORT_DIR}/{p.name}" for p in written.values())
    out.frame("crm_tasks", tasks)
    alerts = history.score_alerts(scored, drop=a.alert_drop)
    if names is not None:  # the deliveries name the accounts
        alerts.insert(1, "name", alerts["account_id"].map(names.drop_duplicates("account_id")
                                                          .set_index("account_id")["name"]))
    # a fall an earlier run of the folder already alerted, and no worse since, is not alerted again: kept aside
    alerts, repeated = A.new_score_alerts(alerts, sent.get("alerts"), drop=a.alert_drop, days=a.alert_repeat_days)
    out.frame("alerts", alerts)
    out.frame("repeated_alerts", repeated)
    out.json("repeats", {"alert_repeat_days": a.alert_repeat_days, "task_repeat_days": a.task_repeat_days,
                         "alerts": len(alerts), "alerts_repeated": len(repeated),
                         "tasks": int((tasks["status"] == "new").sum()),
                         "tasks_repeated": int((tasks["status"] == "repeat").sum()),
                         "earlier_runs": sorted({f"{d:%Y-%m-%d}" for df in sent.values() for d in df["as_of"]})})
    ctx.section("detractor_alerts", lambda: out.frame("detractor_alerts",
                                                      _detractor_alerts(ctx, plan, names, alerts.attrs)))
    movement = history.band_movement(scored)
    out.frame("band_movement", movement.rename_axis(index="from", columns=None).reset_index())
    out.json("movement", {"previous": movement.attrs.get("previous"), "as_of": movement.attrs.get("as_of")})
    out.frame("top_at_risk", S.top_at_risk(plan, now, n=a.top_n))


#: Without an earlier observation date, detractor alerts look back this far.
DETRACTOR_LOOKBACK = pd.Timedelta(days=28)


def _detractor_alerts(ctx: Context, plan: pd.DataFrame, names: pd.DataFrame | None, dates: dict) -> pd.DataFrame:
    """NPS detractors at high-touch accounts since the previous observation date, or since the data folder's
    previous run when that is later (``actions.alerts_since``; see
    :func:`engage_models.actions.alerts.detractor_alerts`)."""
    from ..actions.alerts import detractor_alerts
    from ..ingest import load

    until = to_utc(dates["as_of"])
    since = to_utc(dates["previous"]) if dates.get("previous") is not None else until - DETRACTOR_LOOKBACK
    if ctx.config.actions.alerts_since:  # the previous run's observation date (or the user's): no repeats
        since = max(since, to_utc(ctx.config.actions.alerts_since))
    named = plan.merge(names.drop_duplicates("account_id"), on="account_id", how="left") if names is not None \
        else plan
    return detractor_alerts(load("surveys", ctx.paths.processed), named, since=since, until=until)


# ------------------------------------------------------------------------------------------------ effects
def score_all_dates(health: Artifact, panel: pd.DataFrame) -> pd.DataFrame:
    """Score, churn probability and band of every panel row by the run's final health model (a play's
    pre-period score and its follow-up): one fixed function of what was measured at each date."""
    from ..health.model_io import load_model

    model = load_model(health.file("model.skops"))
    X = panel.drop(columns=[c for c in LABELS if c in panel.columns])
    p = model.predict_proba(X)[:, 1]
    return pd.DataFrame({"account_id": panel["account_id"].to_numpy(), "as_of": panel["as_of"].to_numpy(),
                         "score": model.health_score(X).to_numpy(), "churn_probability": p,
                         "band": model.bands(proba=p).to_numpy()})


def effects(ctx: Context) -> None:
    """Measure each logged play's effect (see :mod:`engage_models.effects`); no play log is not an error."""
    from .. import effects as E

    c, out, e = ctx.config, ctx.out, ctx.config.effects
    log = E.read_play_log(ctx.paths.processed)
    info = {"as_of": ctx.as_of, "horizon_days": c.horizon_days, "min_per_arm": e.min_per_arm,
            "detect_points": e.detect_points, "power": e.power, "trim": e.trim, "folds": e.folds,
            "log_rows": 0 if log is None else len(log)}
    set_aside = ctx.paths.processed / "quarantine" / "plays.parquet"
    if set_aside.exists():  # rows ingest quarantined (report 01 lists them): said beside the log's count
        info["quarantined"] = len(pd.read_parquet(set_aside, columns=["reason"]))
    if log is None or log.empty:
        out.json("info", {**info, "play_log": "absent" if log is None else "empty"})
        out.frame("effects", pd.DataFrame(columns=E.EFFECT_COLUMNS))
        return
    pnl = ctx.input("panel").frame("panel")
    accounts = pd.read_parquet(ctx.paths.processed / "accounts.parquet")
    scores = score_all_dates(ctx.input("health"), pnl)
    # churn after a play is read from the accounts' end_date: known up to a churn stop only (label_end)
    units = E.play_units(log, accounts, pnl, scores, as_of=ctx.as_of, horizon_days=c.horizon_days,
                         churn_known_until=label_end(ctx.input("ingest").json("dates"), ctx.as_of))
    effects, overlap = E.measure_effects(units, pnl, min_per_arm=e.min_per_arm, detect_points=e.detect_points,
                                         power=e.power, trim=e.trim, folds=e.folds, seed=c.seed)
    out.frame("effects", effects)
    out.frame("overlap", overlap)
    out.frame("log_summary", E.log_summary(units, log))
    out.frame("excluded", units.excluded)
    out.json("info", {**info, **units.info, "play_log": "present", "scoring": "the final health model"})


# ------------------------------------------------------------------------------------------------ monitoring
def monitoring_reference(ctx: Context, pnl: pd.DataFrame, trained_until) -> tuple[pd.DataFrame, str]:
    """The health model's training rows and where they came from: the health artifact's ``reference`` frame, else
    the frozen model folder's (when the lifecycle wrote one), else the panel's labelled rows up to the cutoff."""
    health = ctx.input("health")
    if health.has("reference"):
        return health.frame("reference"), "the health stage's training rows"
    frozen = _frozen_model(ctx, health.json("model").get("model_id"))
    if frozen is not None and getattr(frozen, "reference", None) is not None:
        return frozen.reference, "the model folder's training rows"
    ref = pnl[(to_utc(pnl["as_of"]) <= to_utc(trained_until)) & pnl["churned_within_h"].notna()]
    return ref, "the panel's rows with a label up to the training cutoff"


def _model_path(ctx: Context, model_id: str | None):
    """The folder of model ``model_id`` in the run's models folder, when it is there (else None; also None in a
    package without the model lifecycle)."""
    if not model_id:
        return None
    try:
        from ..lifecycle.stage import models_dir
    except ImportError:  # a package without the model lifecycle
        return None
    folder = models_dir(ctx.config) / str(model_id)
    return folder if folder.is_dir() else None


def _frozen_model(ctx: Context, model_id: str | None):
    """The model folder ``model_id`` of the run's models folder, loaded (None when there is none to load)."""
    folder = _model_path(ctx, model_id)
    if folder is None:
        return None
    from ..lifecycle.frozen import load_frozen

    return load_frozen(folder)


def monitoring(ctx: Context) -> None:
    """Is the health model still good? (see :mod:`engage_models.monitoring`)"""
    from .. import monitoring as M
    from ..health.model_io import load_model

    c, out, m = ctx.config, ctx.out, ctx.config.monitoring
    health = ctx.input("health")
    pnl = panel_labels(ctx)  # no label past a churn stop is taken for matured
    info = health.json("model")
    trained_until = to_utc(info["trained_until"])
    model = load_model(health.file("model.skops"))
    reference, source = monitoring_reference(ctx, pnl, trained_until)
    settings = {"psi_threshold": m.psi_threshold, "metric_psi_share": m.metric_psi_share,
                "max_age_days": m.max_age_days, "bins": m.bins}
    out.json("info", {"as_of": ctx.as_of, "trained_until": trained_until, "cutoff": info.get("cutoff"),
                      "horizon_days": c.horizon_days,
                      "model_id": info.get("model_id") or health.key, "reference": source,
                      "reference_rows": len(reference), "frozen": bool(info.get("frozen")), **settings,
                      **_stop_left_out(ctx, pnl, trained_until)})
    found: dict = {}

    def stability():
        if reference.empty:
            raise Thin("reason.no_training_rows", source=source)
        found["stability"] = M.stability_table(model, reference, pnl, trained_until=trained_until, bins=m.bins,
                                               psi_threshold=m.psi_threshold)
        out.frame("stability", found["stability"])

    def performance():
        found["performance"] = M.matured_performance(model, pnl, trained_until=trained_until, as_of=ctx.as_of,
                                                     horizon_days=c.horizon_days, n_boot=m.n_boot, seed=c.seed)
        out.frame("performance", found["performance"])

    ctx.section("stability", stability)
    matured = M.matured_rows(pnl, trained_until=trained_until, as_of=ctx.as_of, horizon_days=c.horizon_days)
    if matured.empty:  # the usual state of a model trained in this run: nothing to judge it on yet
        found["performance"] = None
        # at a churn stop the outcomes end there, not on the observation date: the reason names it
        key, args = M.not_matured(pnl, trained_until=trained_until, as_of=ctx.as_of, horizon_days=c.horizon_days)
        if not M.churn_stop_of(pnl):  # the stage's own words without a stop, as before
            key, args = "reason.not_matured", {"cutoff": date_of(trained_until), "days": c.horizon_days}
        out.skip("performance", Why(key, **args), kind=NOT_DUE)
    elif not ctx.section("performance", performance):
        found["performance"] = None
    # made without the stability table too: its failure is said among the checks not made, and takes no other
    # reason away (the age reason was lost with the whole recommendation while report 08's header said the limit)
    rec = M.recommend_retrain(model, reference, pnl, trained_until=trained_until, as_of=ctx.as_of,
                              horizon_days=c.horizon_days, cutoff=info.get("cutoff"), max_age_days=m.max_age_days,
                              psi_threshold=m.psi_threshold, metric_psi_share=m.metric_psi_share,
                              stability=found.get("stability"), performance=found["performance"],
                              stability_missing=None if "stability" in found else (
                                  _skipped(out, "stability") or "no population stability"),
                              trained_now=_trained_now(info, ctx.as_of))
    out.json("recommendation", rec)
    if _replaced_model(ctx) is None:  # no model was replaced in this run: nothing to compare, by design
        out.skip("comparison", Why("reason.no_replaced_model"), kind=NOT_DUE)
    elif matured.empty and _model_path(ctx, _replaced_model(ctx)) is not None:  # retrained: nothing matured yet
        stop = M.churn_stop_of(pnl)
        out.skip("comparison", Why("reason.compare_not_matured_stop", since=date_of(trained_until),
                                   days=c.horizon_days, stop=date_of(to_utc(stop))) if stop
                 else Why("reason.compare_not_matured", since=date_of(trained_until), days=c.horizon_days),
                 kind=NOT_DUE)
    else:
        ctx.section("comparison", lambda: out.json("comparison", _new_against_old(ctx, model, pnl, trained_until)))


def _stop_left_out(ctx: Context, pnl: pd.DataFrame, trained_until) -> dict:
    """For the monitoring's ``info``: at a churn stop, the rows observed since the model's training whose label had
    matured by the observation date but whose window runs past the stop, left out of every check of outcomes
    (``churn_stop``: ``stop``, ``rows``, ``accounts``, ``first``, ``last``, ``horizon_days``, as the health model's
    :func:`known_labels` record); nothing without a stop."""
    from ..monitoring import matured_rows

    stopped = pnl.attrs.get("churn_stop")
    if not stopped:
        return {}
    h = ctx.config.horizon_days
    both = [matured_rows(p, trained_until=trained_until, as_of=ctx.as_of, horizon_days=h)
            for p in (ctx.input("panel").frame("panel"), pnl)]
    lost = both[0].loc[both[0].index.difference(both[1].index)]
    when = to_utc(lost["as_of"])
    return {"churn_stop": {"stop": stopped["stop"], "label_end": stopped["label_end"], "rows": len(lost),
                           "accounts": int(lost["account_id"].nunique()), "horizon_days": h,
                           "first": when.min().date().isoformat() if len(lost) else None,
                           "last": when.max().date().isoformat() if len(lost) else None}}


def _trained_now(info: dict, as_of) -> bool:
    """Whether the health stage trained its model in this run: not a frozen model, and its data (the model card's
    cutoff) did not end before this run's observation date, by the lifecycle's one rule of dates
    (:func:`~engage_models.lifecycle.frozen.saw_later`: the observation date is not later than the cutoff)."""
    from ..lifecycle.frozen import saw_later

    return not info.get("frozen") and info.get("cutoff") is not None and not saw_later(as_of, info["cutoff"])


def _replaced_model(ctx: Context) -> str | None:
    """The id of the model this run's health stage replaced, if it replaced one."""
    health = ctx.input("health")
    decision = health.json("lifecycle") if health.has("lifecycle") else None
    if decision and decision.get("backfill"):  # a backfill's model replaced nothing: the current one stays
        return None
    return health.json("model").get("old_model") or (
        decision.get("model_id") if decision and decision.get("action") == "train" else None)


def _skipped(out: Output, section: str) -> str | None:
    return next((s.why for s in out.skipped if s.section == section), None)


def _new_against_old(ctx: Context, model, pnl: pd.DataFrame, trained_until) -> dict:
    """The model this run trained against the one it replaced, on the labels matured after both cutoffs."""
    from ..monitoring import compare_models

    health = ctx.input("health")
    decision = health.json("lifecycle") if health.has("lifecycle") else None
    old_id = _replaced_model(ctx)
    old = _frozen_model(ctx, old_id)
    if old is None:
        raise Thin("reason.earlier_model_missing", model=old_id)
    c = ctx.config
    result = compare_models(model, old.model, pnl, trained_until_new=trained_until,
                            trained_until_old=old.trained_until, as_of=ctx.as_of, horizon_days=c.horizon_days,
                            n_boot=c.monitoring.n_boot, seed=c.seed)
    return {**result, "old_model": old_id, "decision": decision}


# ------------------------------------------------------------------------------------------------ summary
def _learned_auc(ctx: Context) -> dict | None:
    """The out-of-time ROC-AUC (with its interval) of the card the health stage scores with, from its backtest;
    None without one. The summary's MRR at risk comes from that card's probabilities: a world whose card ranked
    churn at 0.49 out of time put "74.9% of MRR at risk" in the summary without a word."""
    if not (ctx.has("health", "backtest_metrics") and ctx.has("health", "backtest")):
        return None
    health = ctx.input("health")
    m, bt = health.frame("backtest_metrics"), health.json("backtest")
    row = m[(m["model"] == bt.get("learned_model")) & (m["metric"] == "roc_auc")]
    if row.empty:
        return None
    r = row.iloc[0]
    flat = ((bt.get("one_value") or {}).get(bt.get("learned_model")) or {}).get("all", False)
    return {"estimate": float(r["estimate"]), "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]),
            **({"one_value": True} if flat else {})}  # one value for every account: no ROC-AUC, said so


def summary(ctx: Context) -> None:
    from ..effects.views import headline
    from ..reports import summary as S

    out = ctx.out
    if ctx.has("health", "scores"):
        scores = ctx.input("health").frame("scores")
        now = scores[pd.to_datetime(scores["as_of"], utc=True) == ctx.as_of]  # the customers at the run's date
        if len(now):
            out.json("mrr_at_risk", {**S.mrr_at_risk(now), "roc_auc": _learned_auc(ctx)})
        else:  # all had left: "$4,772 at risk" beside "no account is a customer" before
            out.skip("mrr_at_risk", Why("actions.why.no_customers", date=date_of(ctx.as_of),
                                        latest=date_of(pd.to_datetime(scores["as_of"], utc=True).max())))
    else:
        out.skip("mrr_at_risk", ctx.why_missing("health", "scores"))
    if ctx.has("survival", "values"):
        v = ctx.input("survival").frame("values")
        risk = {k: float((v["mrr"] * v[f"churn_{k}m"]).sum()) for k in (3, 6, 12)}
        if ctx.has("survival", "oot_panel"):  # the model behind the values, out of time: said when it is no better
            oot = ctx.input("survival").json("oot_panel")  # than chance (report 00 took a 0.44 AUC's money as sure)
            risk["concordance"] = {k: oot.get(k) for k in ("harrell_c", "harrell_c_low", "harrell_c_high")}
        info = ctx.input("survival").json("info") if ctx.has("survival", "info") else {}
        if left := S.start_unknown(info.get("set_aside")):  # customers the values leave out (start unknown)
            risk["start_unknown"] = left
        out.json("survival_risk", risk)
    else:
        out.skip("survival_risk", ctx.why_missing("survival", "values"))
    if ctx.has("personas", "personas") and "growth" in ctx.input("personas").json("personas"):
        out.json("persona_growth", ctx.input("personas").json("personas")["growth"])
    else:
        out.skip("persona_growth", ctx.why_missing("personas", "personas") if not ctx.has("personas", "personas")
                 else Why("reason.one_persona_date"))
    if ctx.has("effects", "effects"):  # one line of "What works"
        measured = ctx.input("effects")
        out.frame("what_works", headline(measured.frame("effects")))
        out.json("what_works", {"log_rows": measured.json("info").get("log_rows", 0)})
    else:
        out.skip("what_works", ctx.why_missing("effects", "effects"))
    if ctx.has("monitoring", "recommendation"):  # one line of "Model monitoring"
        out.json("monitoring", ctx.input("monitoring").json("recommendation"))
    else:
        out.skip("monitoring", ctx.why_missing("monitoring", "recommendation"))
    nps_answers = ctx.input("surveys").frame("nps_answers") if ctx.has("surveys", "nps_answers") else None
    if nps_answers is None or not len(nps_answers):
        why = ctx.why_missing("surveys", "nps_answers") if nps_answers is None else \
            Why("reason.no_nps")
        out.skip("nps_waves", why)
        out.skip("nps_by_touch_model", why)
        return
    if not ctx.has("surveys", "nps_headline"):
        why = ctx.why_missing("surveys", "nps_headline")
        out.skip("nps_waves", why)
        out.skip("nps_by_touch_model", why)
        return
    settings = ctx.config.surveys  # as report 03 splits and measures the answers
    waves = ctx.input("surveys").json("nps_headline")  # the surveys stage chose it; report 03 names it
    out.json("nps_waves", waves)
    if not ctx.has("actions", "actions"):
        out.skip("nps_by_touch_model", ctx.why_missing("actions", "actions"))
        return
    plan = ctx.input("actions").frame("actions")
    # the quoted wave's answers only: a newer wave passed over for being thin is not "the wave's"
    start, end = to_utc(waves["latest"]["period"]), to_utc(waves["latest"]["end"])
    answers = nps_answers[nps_answers["submitted_at"].between(start, end)]
    matched = answers.merge(plan[["account_id", "touch_model"]], on="account_id")
    out.frame("nps_by_touch_model", S.nps_table_by(matched, "touch_model", min_n=settings.min_n,
                                                   method=settings.ci_method))
    # the wave's answers of accounts no longer customers have no touch model: counted, so the table's total is
    # explained (a reader added its answers up to 5,643 against the wave's 6,299)
    out.json("nps_by_touch_model_info", {"answers": int(len(answers)), "matched": int(len(matched))})


def _params_of(*sections: str, keys: tuple[str, ...] = ()) -> Callable[[RunConfig], dict]:
    def params(c: RunConfig) -> dict:
        d = c.to_dict()
        return {**{s: d[s] for s in sections}, **{k: d[k] for k in keys}}

    return params


def _health_params(c: RunConfig) -> dict:
    """The health stage's parameters: with a frozen model, its id (a new model reruns the stage) and what
    scoring reads; else every health setting."""
    if c.model:
        from ..lifecycle.frozen import verify_frozen

        # checked on every run (0.2 s): a damaged folder is refused also when the stage would be read back
        return {"model_id": verify_frozen(c.model)["model_id"], "horizon_days": c.horizon_days,
                "history_dates": c.health.history_dates}
    return _params_of("health", keys=("horizon_days", "seed"))(c)


STAGES: tuple[Stage, ...] = (
    Stage("ingest", ingest, (), _ingest_params, "validate the raw tables"),
    Stage("quality", quality, ("ingest",), _params_of(), "describe the data"),
    Stage("panel", panel, ("ingest",), _params_of(keys=("horizon_days", "windows", "engine")),
          "build the account x period panel"),
    Stage("kpis", kpis, ("ingest",), lambda c: {"top_n": c.actions.top_n}, "compute the KPIs", uses=("panel",)),
    Stage("surveys", surveys, ("ingest",), _params_of("surveys", keys=("horizon_days", "seed")),
          "analyse NPS and CSAT", uses=("panel",)),
    Stage("health", health, ("ingest", "panel"), _health_params, "learn and backtest the health score"),
    Stage("personas", personas, ("ingest", "panel"), _personas_params, "find personas and journeys", uses=("health",)),
    Stage("survival", survival, ("ingest",), _params_of("survival", keys=("seed",)),
          "fit survival models and value accounts", uses=("panel", "health")),
    Stage("actions", actions, ("panel", "health"), _params_of("actions", keys=("lang", "currency")),
          "choose a play per account", uses=("survival",)),
    Stage("effects", effects, ("ingest", "panel", "health"),
          _params_of("effects", keys=("horizon_days", "seed")), "measure what the plays did"),
    Stage("monitoring", monitoring, ("ingest", "panel", "health"),
          _params_of("monitoring", keys=("horizon_days", "seed")), "check the health model for drift and decay"),
    Stage("summary", summary, ("ingest",), _params_of(), "sum up for executives",
          uses=("kpis", "surveys", "health", "survival", "actions", "personas", "effects", "monitoring")),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(f"no stage {name!r} (stages: {', '.join(STAGE_NAMES)})")

