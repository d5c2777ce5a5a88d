"""The run's configuration: one object, one file.

:class:`RunConfig` holds every parameter of a run: where the data are, the observation date and horizon, the
report language and currency, one section per stage (``health``, ``survival``, ``surveys``, ``actions``) and
where the alerts go (``delivery``).
It reads from a YAML file (every key optional; an unknown key is an error naming it), takes overrides from the
command line, is checked before any work starts, and is written into every run's folder (``config.json``),
so a report always says how it was made.

>>> cfg = RunConfig.from_dict({"data_dir": "data", "horizon_days": 60, "health": {"n_cutoffs": 4}})
>>> cfg.horizon_days, cfg.health.n_cutoffs, cfg.health.n_bootstrap
(60, 4, 50)
>>> RunConfig.from_dict({"data_dir": "data", "health": {"n_cutofs": 4}})
Traceback (most recent call last):
...
engage_models._core.errors.ConfigError: config: unknown setting 'health.n_cutofs' (health has: n_cutoffs, ...
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .. import config as paths
from .._core.errors import ConfigError
from .._core.i18n import LANGS
from .._core.money import CURRENCIES
from .._core.time import check_zone


@dataclass(frozen=True)
class HealthConfig:
    """The health score: backtest, final fit, bands and the score history."""

    n_cutoffs: int = 6  # out-of-time test dates of the backtest
    n_bootstrap: int = 50  # bootstrap refits for the weights' intervals
    metric_bootstrap: int = 200  # account bootstrap draws for the backtest metrics' intervals
    hand_scorecard: str | None = None  # YAML hand-weighted card (None: the bundled vendor-style card)
    cost_ratios: tuple[float, float] = (9.0, 4.0)  # a missed churner costs this many outreaches (yellow, red)
    score: str = "auto"  # the card: auto (both backtested, the better used), linear (weights) or shape (ranges)
    shape_bootstrap: int = 20  # refits of the shape learner for its points' intervals (when the shape card is used)
    n_jobs: int = -1  # processes sharing the shape card's EBM fits (-1: every core); the card does not depend on it
    history_dates: int = 3  # observation dates scored for the score history
    max_fit_accounts: int | None = 5000  # more accounts: models fitted on a stratified sample of this many
    at_risk: int = 15  # accounts in the health report's at-risk list
    min_churners: int = 10  # fewer churned accounts in the matured labels: no health score (said, not published)


@dataclass(frozen=True)
class SurvivalConfig:
    """Survival and customer value."""

    margin: float = 0.8  # gross margin in LTV
    annual_discount_rate: float = 0.10
    ltv_horizon_months: float = 36.0  # remaining lifetime and LTV count at most this many months
    n_boot: int = 100  # bootstrap refits for the intervals of remaining lifetime, LTV and revenue at risk
    n_jobs: int = -1  # processes sharing those refits and the penalizers' folds (-1: every core); no number changes
    max_resample: int | None = 4000  # with more accounts, each refit resamples this many (m-out-of-n, rescaled)
    max_cv_accounts: int | None = 4000  # with more accounts, the Cox penalties are chosen on a stratified sample


@dataclass(frozen=True)
class SurveyConfig:
    """Voice of the customer."""

    min_n: int = 30  # groups with fewer answers are flagged "small n"
    ci_method: str = "adjusted"  # NPS interval: "adjusted" (adjusted Wald) or "wald"
    trend_freq: str = "M"  # period of the trends: M (month), Q (quarter)
    driver_bootstrap: int = 300  # bootstrap draws for the drivers' intervals
    n_jobs: int = -1  # processes sharing the drivers' bootstraps (-1: every core); the intervals do not depend on it
    max_driver_accounts: int | None = 4000  # more answering accounts: drivers from a random sample of this many
    watch_list: int = 15  # accounts to call in the report


@dataclass(frozen=True)
class ActionConfig:
    """From score to action."""

    playbook: str | None = None  # YAML playbook (None: the bundled one)
    alert_drop: float = 10.0  # a fall of more points than this raises an alert
    top_n: int = 10  # accounts in the at-risk lists
    holdout: bool = True  # draw the playbook's randomised holdouts (False: every play assigned)
    holdout_seed: int = 17  # seed of the holdout draw (keep it: the same accounts then stay held out)
    # detractor alerts list answers after this date (YYYY-MM-DD; default: the observation date of the data
    # folder's previous run, so a weekly run does not alert the same answers again, else the previous scored date)
    alerts_since: str | None = None
    # a score alert already sent by an earlier run of this data folder less than this many days before, for the
    # same fall, is not sent again unless the account fell further by more than alert_drop or into a lower band
    # (0: every run lists every alert; see actions.repeats and artifacts/sent.json)
    alert_repeat_days: int = 45
    # an account and play that got a CRM task from an earlier run less than this many days before get no new
    # task (0: a task every run); the company / Account rows are written every run all the same
    task_repeat_days: int = 28


@dataclass(frozen=True)
class EffectsConfig:
    """Did the plays work: effects measured from the play log."""

    min_per_arm: int = 30  # accounts needed in each arm (treated, and held out or untreated) for an estimate
    detect_points: float = 5.0  # the change in churn (percentage points) the sample sizes are computed for
    power: float = 0.8  # power of the sample sizes (two-sided test at 95%)
    trim: float = 0.05  # observational estimates leave out accounts whose propensity exceeds 1 - trim
    folds: int = 5  # cross-fitting folds (grouped by account) of the observational estimate


@dataclass(frozen=True)
class MonitoringConfig:
    """When the health model has gone stale (:mod:`engage_models.monitoring`): thresholds set here, never on the
    data they judge."""

    psi_threshold: float = 0.25  # a population stability index past this is a major shift (the usual reading)
    metric_psi_share: float = 0.15  # drift when this share of the metrics (or the score) passes psi_threshold
    max_age_days: int = 180  # retrain when the data the model saw ended longer ago than this
    bins: int = 10  # quantile bins of the training rows for the PSI
    n_boot: int = 200  # account bootstrap draws for the ROC-AUC intervals on matured labels


@dataclass(frozen=True)
class PersonaConfig:
    """Behavioural personas and customer journeys (:mod:`engage_models.journeys`)."""

    metrics: tuple[str, ...] | None = None  # panel columns to cluster on (None: per-user behaviour, longest window)
    k_min: int = 2  # fewest personas tried
    k_max: int = 6  # most personas tried
    n_bootstrap: int = 20  # resamples of accounts for the stability of each number of personas
    min_stability: float = 0.8  # median adjusted Rand index a number of personas needs to be chosen
    keep_k_within: float = 0.02  # the previous run's number of personas stays while its silhouette is this close
    min_tenure_days: int = 90  # personas are fitted on accounts at least this old (younger ones are assigned)
    min_accounts: int = 30  # fewer accounts to fit on: no personas
    max_fit_accounts: int | None = 5000  # more: fitted on a random sample of this many accounts, applied to all
    fit_months: int = 12  # fitted on quarterly snapshots of this many months
    compare_months: int = 3  # growth and moves between personas since this many months ago
    max_match_distance: float = 0.5  # RMS z distance within which a persona keeps its registered name
    registry: str | None = None  # persona names file (None: <data_dir>/artifacts/personas/registry.json)
    users: bool = True  # user personas where events carry a user_id (False: accounts only)
    min_users: int = 60  # fewer users active in the window: no user personas
    max_fit_users: int = 5000  # more: fitted on the users of a random sample of whole accounts, applied to all
    landmark_days: int = 30  # milestones "reached within N days", compared from a landmark at N days
    key_features: tuple[str, ...] | None = None  # features with a first-use milestone (None: the most used)
    n_key_features: int = 5
    first_value: str = "first_export"  # the milestone that marks first value
    milestones_file: str | None = None  # YAML file of milestones of your own
    top_paths: int = 10
    lookback_days: int = 90  # touches counted before a landmark (and before the contract start)
    prepurchase_outcome_days: int = 365  # churn and expansion after the start, for touches before it


@dataclass(frozen=True)
class DeliveryConfig:
    """Where a run's alerts go once its reports are published (see :mod:`engage_models.delivery`).

    Secrets are named, never written: ``webhook_url_env`` and ``smtp_password_env`` are names of environment
    variables (set in the environment, or in ``env_file``; the environment wins). Nothing is sent unless a
    webhook or an SMTP host is set.
    """

    webhook_url_env: str | None = None  # variable holding the incoming-webhook URL (Slack or Teams)
    webhook_format: str = "slack"  # the JSON the webhook takes: slack (Slack, Mattermost) or teams (Teams Workflows)
    smtp_host: str | None = None  # mail server; mail is sent when set
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls, ssl (implicit TLS, port 465) or none (loopback servers only)
    smtp_user: str | None = None
    smtp_password_env: str | None = None  # variable holding the SMTP password
    mail_from: str | None = None
    mail_to: tuple[str, ...] = ()
    report_url: str | None = None  # where reports/ is served: messages link <report_url>/<run date>/index.html
    env_file: str | None = None  # KEY=VALUE file for the variables above (relative: to the configuration file)
    top_n: int = 5  # accounts listed per kind of alert and at risk
    timeout_s: float = 10.0  # per attempt to deliver

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url_env or self.smtp_host)


_SECTIONS = {"health": HealthConfig, "survival": SurvivalConfig, "surveys": SurveyConfig, "actions": ActionConfig,
             "personas": PersonaConfig, "delivery": DeliveryConfig, "effects": EffectsConfig,
             "monitoring": MonitoringConfig}


#: The settings that hold a path of the machine, as ``(section or None, name)`` (see :meth:`RunConfig.published`).
_PATHS = ((None, "data_dir"), (None, "model"), (None, "models_dir"), ("personas", "registry"),
          ("personas", "milestones_file"), ("delivery", "env_file"), ("health", "hand_scorecard"),
          ("actions", "playbook"))


@dataclass(frozen=True)
class RunConfig:
    """Every parameter of a run (see the module docstring); build it with :meth:`from_dict` or :meth:`load`."""

    data_dir: str = str(paths.DATA_DIR)  # folder holding raw/ and processed/
    as_of: str | None = None  # observation date YYYY-MM-DD (None: the midnight after the last event)
    horizon_days: int = paths.HORIZON_DAYS  # churn horizon: labels, backtest gap, reports
    windows: tuple[int, ...] = (28, 90)  # trailing windows of the panel's metrics (days)
    lang: str = "en"  # report language: en or ja
    currency: str = "USD"  # currency of MRR and LTV (ISO code): shown in every report
    seed: int = 42
    run_date: str | None = None  # names reports/<run-date>/ (None: today in `timezone`); ingest's "now" is its end
    timezone: str | None = None  # the company's calendar (IANA name; None: UTC, not named): see ingest and `zone`
    csat_scale: tuple[int, int] = (1, 5)
    engine: str = "duckdb"  # where the panel's SQL runs: duckdb or spark
    spark_master: str | None = None
    spark_driver_memory: str | None = None
    health: HealthConfig = field(default_factory=HealthConfig)
    survival: SurvivalConfig = field(default_factory=SurvivalConfig)
    surveys: SurveyConfig = field(default_factory=SurveyConfig)
    actions: ActionConfig = field(default_factory=ActionConfig)
    personas: PersonaConfig = field(default_factory=PersonaConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    effects: EffectsConfig = field(default_factory=EffectsConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    model: str | None = None  # a model folder (or models folder: its current model): score with it, fit nothing
    retrain: str | None = None  # never, monthly or on-drift: train or score with the models folder's current model
    models_dir: str | None = None  # the models folder (None: <data_dir>/models)

    def __post_init__(self):
        self.check()

    @property
    def zone(self) -> str:
        """The company's calendar: :attr:`timezone`, or UTC when none was named. Ingest is told which (a table
        whose times carry no offset is warned about only when no zone was named, ``UTC`` included)."""
        return self.timezone or "UTC"

    # ------------------------------------------------------------------------------------- building
    @classmethod
    def from_dict(cls, data: dict | None = None, where: str = "config", **overrides) -> RunConfig:
        """A configuration from a mapping (a parsed YAML file), with ``overrides`` applied on top.

        Overrides may name a section's setting as ``"health.n_cutoffs"`` or pass a section as a mapping.
        """
        merged = _merge(dict(data or {}), _expand(overrides))
        top = {f.name: f for f in fields(cls)}
        kwargs = {}
        for key, value in merged.items():
            if key not in top:
                raise ConfigError(f"{where}: unknown setting {key!r} (settings: {', '.join(top)})")
            if key in _SECTIONS:
                section = _SECTIONS[key]
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: {key!r} must be a mapping of settings, not {value!r}")
                names = [f.name for f in fields(section)]
                for k in value:
                    if k not in names:
                        raise ConfigError(f"{where}: unknown setting '{key}.{k}' ({key} has: {', '.join(names)})")
                kwargs[key] = section(**{k: _coerce(section, k, v, f"{where}: {key}.{k}") for k, v in value.items()})
            else:
                kwargs[key] = _coerce(cls, key, value, f"{where}: {key}")
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides) -> RunConfig:
        """A configuration from a YAML (or JSON) file, with ``overrides``; no file: the defaults."""
        if path is None:
            return cls.from_dict({}, **overrides)
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read the configuration {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a configuration is a mapping of settings")
        delivery = data.get("delivery")
        if isinstance(delivery, dict) and delivery.get("env_file"):  # a relative env_file: next to this file
            env_file = Path(str(delivery["env_file"])).expanduser()
            data = {**data, "delivery": {**delivery, "env_file": str(env_file if env_file.is_absolute()
                                                                     else path.resolve().parent / env_file)}}
        return cls.from_dict(data, where=str(path.name), **overrides)

    def replace(self, **overrides) -> RunConfig:
        """A copy with ``overrides`` (``"health.n_cutoffs"`` or section mappings allowed)."""
        return RunConfig.from_dict(self.to_dict(), **overrides)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def published(self) -> dict:
        """:meth:`to_dict` as a forwarded run folder keeps it: every path reduced to its last part (no machine
        path in ``run.json``: the data folder, the model, the models folder, the persona registry, the milestones
        file, delivery's ``env_file``, the hand-weighted card, the playbook)."""
        d = self.to_dict()
        for section, name in _PATHS:
            holder = d if section is None else d.get(section) or {}
            if holder.get(name):
                holder[name] = Path(str(holder[name])).name
        return d

    # ------------------------------------------------------------------------------------- checking
    def check(self) -> None:
        """Every parameter that can be checked without the data; raises :class:`ConfigError` naming it."""
        if self.lang not in LANGS:
            raise ConfigError(f"lang must be one of {', '.join(LANGS)}, not {self.lang!r}")
        check_currency(self.currency)
        if not isinstance(self.horizon_days, int) or self.horizon_days <= 0:
            raise ConfigError(f"horizon_days must be a positive number of days, not {self.horizon_days!r}")
        if not self.windows or any(w <= 0 for w in self.windows):
            raise ConfigError(f"windows must be positive numbers of days, not {self.windows!r}")
        if 28 not in self.windows:  # the KPIs' DAU/MAU and the hand-weighted card read 28-day columns
            raise ConfigError(f"windows must include 28 (DAU/MAU in the KPIs and the hand-weighted card are on 28 "
                              f"days), not {list(self.windows)!r}: add other windows beside it, e.g. "
                              f"{sorted({*self.windows, 28})!r}")
        if self.engine not in ("duckdb", "spark"):
            raise ConfigError(f"unknown engine {self.engine!r} (available: 'duckdb', 'spark')")
        if self.engine != "spark" and (self.spark_master or self.spark_driver_memory):
            raise ConfigError("spark_master and spark_driver_memory apply to engine 'spark' only")
        if self.timezone is not None:
            object.__setattr__(self, "timezone", check_zone(self.timezone, "timezone"))  # Etc/UTC is UTC
        for name in ("as_of", "run_date"):
            value = getattr(self, name)
            if value is not None:
                _check_date(value, name)
        lo, hi = self.csat_scale
        if lo >= hi:
            raise ConfigError(f"csat_scale must be (low, high) with low < high, not {self.csat_scale!r}")
        h, s, v, a = self.health, self.survival, self.surveys, self.actions
        if a.alerts_since is not None:
            _check_date(a.alerts_since, "actions.alerts_since")
        positive = {"health.n_cutoffs": h.n_cutoffs, "health.history_dates": h.history_dates,
                    "health.at_risk": h.at_risk, "health.min_churners": h.min_churners,
                    "surveys.min_n": v.min_n, "actions.top_n": a.top_n, "surveys.watch_list": v.watch_list}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, not {value!r}")
        if h.score not in ("auto", "linear", "shape"):
            raise ConfigError(f"health.score must be 'auto', 'linear' or 'shape', not {h.score!r}")
        for name, value in {"health.n_bootstrap": h.n_bootstrap, "health.metric_bootstrap": h.metric_bootstrap,
                            "health.shape_bootstrap": h.shape_bootstrap,
                            "survival.n_boot": s.n_boot, "surveys.driver_bootstrap": v.driver_bootstrap,
                            "actions.alert_drop": a.alert_drop}.items():
            if value < 0:
                raise ConfigError(f"{name} must not be negative, not {value!r}")
        for name, value in {"actions.alert_repeat_days": a.alert_repeat_days,
                            "actions.task_repeat_days": a.task_repeat_days}.items():
            if value < 0:  # a whole number: from_dict refused 2.5 already
                raise ConfigError(f"{name} must be a whole number of days (0 or more), not {value!r}")
        if any(r <= 0 for r in h.cost_ratios) or len(h.cost_ratios) != 2:
            raise ConfigError(f"health.cost_ratios must be two positive numbers, not {h.cost_ratios!r}")
        for name, jobs in {"health.n_jobs": h.n_jobs, "survival.n_jobs": s.n_jobs, "surveys.n_jobs": v.n_jobs}.items():
            if jobs == 0:
                raise ConfigError(f"{name} must be a number of processes (1, 2, ...) or -1 for every core, not 0")
        if v.max_driver_accounts is not None and v.max_driver_accounts < 100:
            raise ConfigError(f"surveys.max_driver_accounts must be at least 100 accounts (or empty: all), "
                              f"not {v.max_driver_accounts!r}")
        if h.max_fit_accounts is not None and h.max_fit_accounts < 100:
            raise ConfigError(f"health.max_fit_accounts must be at least 100 accounts (or empty: fit on all), "
                              f"not {h.max_fit_accounts!r}")
        if s.max_resample is not None and s.max_resample < 50:
            raise ConfigError(f"survival.max_resample must be at least 50 accounts (or empty: resample all), "
                              f"not {s.max_resample!r}")
        if not 0 < s.margin <= 1:
            raise ConfigError(f"survival.margin must lie in (0, 1], not {s.margin!r}")
        if s.annual_discount_rate < 0 or s.ltv_horizon_months <= 0:
            raise ConfigError("survival.annual_discount_rate must be >= 0 and survival.ltv_horizon_months > 0")
        if v.ci_method not in ("adjusted", "wald"):
            raise ConfigError(f"surveys.ci_method must be 'adjusted' or 'wald', not {v.ci_method!r}")
        if v.trend_freq not in ("M", "Q"):
            raise ConfigError(f"surveys.trend_freq must be 'M' or 'Q', not {v.trend_freq!r}")
        if self.retrain is not None and self.retrain not in ("never", "monthly", "on-drift"):
            raise ConfigError(f"retrain must be 'never', 'monthly' or 'on-drift', not {self.retrain!r}")
        if self.retrain is not None and self.model is not None:
            raise ConfigError("model and retrain exclude each other: a fixed model is never retrained (pass the "
                              "models folder with retrain, or a model without it)")
        _check_personas(self.personas)
        _check_delivery(self.delivery)
        e = self.effects
        if e.min_per_arm < 2 or e.folds < 2:
            raise ConfigError("effects.min_per_arm and effects.folds must be at least 2")
        if not 0 < e.detect_points < 100 or not 0 < e.power < 1 or not 0 <= e.trim < 0.5:
            raise ConfigError("effects.detect_points must lie in (0, 100), effects.power in (0, 1) and effects.trim "
                              f"in [0, 0.5); got {e.detect_points!r}, {e.power!r}, {e.trim!r}")
        m = self.monitoring
        if not m.psi_threshold > 0 or not 0 < m.metric_psi_share <= 1 or m.max_age_days < 1 or m.bins < 2 \
                or m.n_boot < 0:
            raise ConfigError("monitoring: psi_threshold must be > 0, metric_psi_share in (0, 1], max_age_days >= 1, "
                              f"bins >= 2 and n_boot >= 0; got {m.psi_threshold!r}, {m.metric_psi_share!r}, "
                              f"{m.max_age_days!r}, {m.bins!r}, {m.n_boot!r}")

    # ----------------------------------------------------------------------------------- derived
    @property
    def paths(self) -> paths.DataPaths:
        return paths.DataPaths(self.data_dir)


def _check_personas(p: PersonaConfig) -> None:
    if not 2 <= p.k_min <= p.k_max:
        raise ConfigError(f"personas.k_min and k_max must satisfy 2 <= k_min <= k_max, not {p.k_min}, {p.k_max}")
    if not 0 <= p.min_stability <= 1:
        raise ConfigError(f"personas.min_stability must lie in [0, 1], not {p.min_stability!r}")
    if not 0 <= p.keep_k_within <= 1:
        raise ConfigError(f"personas.keep_k_within must lie in [0, 1] (a silhouette difference), not "
                          f"{p.keep_k_within!r}")
    for name in ("n_bootstrap", "min_tenure_days", "max_match_distance"):
        if getattr(p, name) < 0:
            raise ConfigError(f"personas.{name} must not be negative, not {getattr(p, name)!r}")
    for name in ("min_accounts", "fit_months", "compare_months", "landmark_days", "n_key_features",
                 "top_paths", "lookback_days", "prepurchase_outcome_days"):
        if getattr(p, name) < 1:
            raise ConfigError(f"personas.{name} must be at least 1, not {getattr(p, name)!r}")


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_delivery(d: DeliveryConfig) -> None:
    """The delivery section; a value that looks like a secret where a variable's name belongs is refused
    without being repeated."""
    for name in ("webhook_url_env", "smtp_password_env"):
        value = getattr(d, name)
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ConfigError(f"delivery.{name} is the NAME of an environment variable holding the secret "
                              "(e.g. ENGAGE_WEBHOOK_URL), not the secret itself")
    if d.webhook_format not in ("slack", "teams"):
        raise ConfigError(f"delivery.webhook_format must be 'slack' or 'teams', not {d.webhook_format!r}")
    if d.smtp_security not in ("starttls", "ssl", "none"):
        raise ConfigError(f"delivery.smtp_security must be 'starttls', 'ssl' or 'none', not {d.smtp_security!r}")
    if d.smtp_host:
        if not d.mail_from or not d.mail_to:
            raise ConfigError("delivery.smtp_host is set: delivery.mail_from and delivery.mail_to are needed too")
        bad = [a for a in (d.mail_from, *d.mail_to) if not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+", a)]
        if bad:
            raise ConfigError(f"delivery: not a mail address: {', '.join(repr(a) for a in bad)}")
        if not 0 < d.smtp_port < 65536:
            raise ConfigError(f"delivery.smtp_port must be a port number, not {d.smtp_port!r}")
    elif d.mail_to or d.smtp_user or d.smtp_password_env:
        raise ConfigError("delivery: mail settings are given but no delivery.smtp_host")
    if d.report_url is not None and not re.fullmatch(r"https?://[^\s<>|\"]+", d.report_url):
        raise ConfigError(f"delivery.report_url must be an http(s) address, not {d.report_url!r}")
    if d.env_file is not None and not Path(d.env_file).is_absolute():
        raise ConfigError("delivery.env_file must be an absolute path (in a configuration file, a relative path "
                          "is taken from the file's folder)")
    if d.top_n < 1 or d.timeout_s <= 0:
        raise ConfigError("delivery.top_n must be at least 1 and delivery.timeout_s positive")


def _check_date(value: str, name: str) -> None:
    import datetime as dt

    try:
        dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be a date YYYY-MM-DD, not {value!r}") from None


def _expand(overrides: dict) -> dict:
    """``{"health.n_cutoffs": 4}`` -> ``{"health": {"n_cutoffs": 4}}``; ``None`` means "not given" (dropped)."""
    out: dict = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if "." in key:
            section, name = key.split(".", 1)
            out.setdefault(section, {})[name] = value
        else:
            out[key] = value
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _coerce(cls, name: str, value, where: str):
    """``value`` as the type the field declares (lists become tuples; numbers checked)."""
    kind = {f.name: f.type for f in fields(cls)}[name]
    if value is None:
        if "None" in str(kind):
            return None
        raise ConfigError(f"{where}: a value is required")
    try:
        if kind.startswith("tuple"):
            inner = float if "float" in kind else str if "str" in kind else int
            return tuple(inner(v) for v in ([value] if isinstance(value, str) else value))
        if kind.startswith("bool"):
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind.startswith("int"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind.startswith("float"):
            return float(value)
        if kind.startswith("str"):
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {kind}, not {value!r}") from None
    return value


def check_currency(code) -> None:
    """Raise :class:`ConfigError` unless ``code`` is a currency the reports know (an ISO code of
    :data:`~engage_models._core.money.CURRENCIES`): :meth:`RunConfig.check` and the command line's ``--currency``
    (checked as the arguments are read, before any work) say it in the same words."""
    if code not in CURRENCIES:
        raise ConfigError(f"currency must be one of {', '.join(CURRENCIES)}, not {code!r}")

