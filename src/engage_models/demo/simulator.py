"""A B2B SaaS world with known truth: accounts, users, events, tickets, touchpoints, surveys.

The simulator exists so that (1) a new user sees the whole report without data of their own, and
(2) tests can check that fitted models recover the drivers that really moved churn, and come close to the
best accuracy any model could reach (the oracle, which knows each account's true hazard).

The world, month by month
-------------------------
Each account has a latent engagement ``e = mu + x_t``: a fixed account effect ``mu ~ N(0, sd_account)`` plus
an AR(1) process ``x_t = rho x_{t-1} + sqrt(1 - rho^2) sd_state eps``. The latent is never written to the
contract tables; everything observable is drawn from it:

* every seat is a user; a user is active in a month with probability
  ``sigmoid(active_base + active_engagement e + u_user + ramp)``, where ``ramp`` is negative in the first
  two months of an account's life (onboarding);
* active users log in ``1 + Poisson(login_rate exp(0.4 e))`` times, use features, export and view content
  the company sent, at Poisson rates that rise with ``e`` (``events_scale`` multiplies all of them);
* the account uses feature ``k`` in a month with probability ``sigmoid(feature_base_k + 1.5 e)``;
* tickets arrive at ``ticket_rate seats^0.6 exp(-0.5 e)`` a month (doubled during the first 3 months);
* NPS waves every ``nps_every_months``; scores rise with ``e`` and fall with the month's tickets;
  CSAT at ticket close (falls with time to close), at onboarding end and at each anniversary;
* touchpoints: a monthly newsletter to every user (opened more often when engaged), community posts,
  quarterly webinars, a yearly conference and customer-success meetings (frequent for large accounts).

Seats expand when most seats are active and contract when few are; MRR = seats x price per seat x
(1 - discount).

The churn hazard (the stated truth)
-----------------------------------
At the end of each month ``t`` an account that has served at least ``min_tenure_months`` churns during
month ``t + 1`` with probability

``h = sigmoid(intercept + b_active active_ratio + b_breadth feature_breadth + b_tickets log(1 + tickets)
+ b_nps nps_centered + b_segment[segment])``

where, all measured in calendar month ``t`` from the data the simulator writes,

* ``active_ratio`` = distinct users with a login / seats (users holding a seat that month);
* ``feature_breadth`` = distinct features used / number of features;
* ``tickets`` = tickets opened;
* ``nps_centered`` = mean NPS score of the account's latest wave answered up to month ``t``, minus 7
  (0 when the account has never answered);
* ``segment`` = the account's segment.

The coefficients are in :class:`HazardModel` and are written to ``truth.json``; each account-month's
covariates, latent engagement, hazard and outcome go to ``true_hazard.parquet``. Engagement drives churn
only through the observable behaviour above, so a model with perfect features can reach the oracle.

Drift (off by default: ``SimConfig(drift=DriftSettings(...))``, ``engage simulate --drift logins|segment``)
-----------------------------------------------------------------------------------------------------------
So that monitoring can be tested where drift exists and where it does not, a world can change at a stated
month (``DriftSettings.date``, by default the middle month of the window; a date inside a month starts the
change at the next month start):

* ``logins``: a product change (say, reports sent by e-mail that make many logins unnecessary) from that
  month on: every active user logs in ``1 + Poisson(factor login_rate exp(0.4 e))`` times and each login
  session lasts ``factor`` times as long, for everyone. Who is active, which features are used, tickets and
  NPS are drawn as before, so the churn hazard (which reads only those) is unchanged: the metrics move, churn
  does not;
* ``segment``: a new segment of accounts joins: every account starting on or after the date uses the product
  differently (its users log in ``segment_rate`` times as often and use features ``segment_rate`` times as
  often); its hazard is the same function of the same covariates.

``truth.json`` records the drift (kind, date, factors, the accounts of the new segment).

Output is streamed: events and touchpoints are written month by month as Parquet row groups, so the
size knobs (``n_accounts``, ``events_scale``) reach 50M+ events in bounded memory. The same seed gives
byte-identical files.

Examples
--------
>>> from engage_models.demo.simulator import SimConfig, simulate
>>> summary = simulate(SimConfig(n_accounts=50, months=3, seed=1), "/tmp/engage-doc-demo")
>>> summary["tables"]["accounts"] > 0
True
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._core.io import jsonable
from .._core.stats import sigmoid as _sigmoid
from .._core.time import DAYS_PER_MONTH
from ..ingest import contracts as C
from . import journeys as J
from .comments import comment_bank
from .plays import PlaySettings, PlayState

log = logging.getLogger(__name__)

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
PLANS = ("Starter", "Pro", "Enterprise")
FEATURES = (
    "dashboards", "reports", "alerts", "sharing", "api",
    "integrations", "automation", "forecasting", "admin_console", "mobile",
)  # fmt: skip
EVENT_TYPES = C.EVENT_TYPES
PRIORITIES = ("low", "normal", "high", "urgent")

SECONDS_PER_DAY = 86_400
_S = np.timedelta64(1, "s")


@dataclass(frozen=True)
class NonlinearTruth:
    """Shapes a linear score cannot follow (off by default; :class:`HazardModel` ``nonlinear``).

    With it, the hazard's log-odds are::

        intercept + (active_ratio + plan_active[plan]) * min(active_ratio, active_saturation)
                  + feature_breadth * b_breadth + ticket_jump * [tickets >= ticket_threshold]
                  + nps_centered * b_nps + segment_effect

    * threshold: tickets in the month add nothing below ``ticket_threshold`` and ``ticket_jump`` from it on
      (the log1p(tickets) term is replaced);
    * saturation: the active share of seats lowers risk up to ``active_saturation``, and nothing beyond;
    * interaction: the active share's slope depends on the plan (``plan_active`` adds to ``active_ratio``).
    """

    ticket_threshold: int = 2
    ticket_jump: float = 1.4
    active_saturation: float = 0.5
    plan_active: dict = field(default_factory=lambda: {"Starter": -2.5, "Pro": 0.0, "Enterprise": 1.0})

    def linear_predictor(self, hz, active_ratio, feature_breadth, tickets, nps_centered, segment_codes, plan_codes):
        seg = np.array([hz.segment[s] for s in SEGMENTS])[segment_codes]
        slope = hz.active_ratio + np.array([self.plan_active[p] for p in PLANS])[plan_codes]
        return (
            hz.intercept
            + slope * np.minimum(active_ratio, self.active_saturation)
            + hz.feature_breadth * feature_breadth
            + self.ticket_jump * (np.asarray(tickets) >= self.ticket_threshold)
            + hz.nps_centered * nps_centered
            + seg
        )


@dataclass(frozen=True)
class HazardModel:
    """True monthly churn hazard: logit-linear in observable behaviour (see the module docstring)."""

    intercept: float = -2.1
    active_ratio: float = -2.2
    feature_breadth: float = -1.6
    log_tickets: float = 0.55
    nps_centered: float = -0.15
    segment: dict = field(default_factory=lambda: {"SMB": 0.35, "Mid-Market": 0.0, "Enterprise": -0.6})
    min_tenure_months: int = 2
    nonlinear: NonlinearTruth | None = None  # threshold, saturation and plan interaction (NonlinearTruth)

    def linear_predictor(self, active_ratio, feature_breadth, tickets, nps_centered, segment_codes, plan_codes=None):
        if self.nonlinear is not None:
            return self.nonlinear.linear_predictor(self, active_ratio, feature_breadth, tickets, nps_centered,
                                                   segment_codes, plan_codes)
        seg = np.array([self.segment[s] for s in SEGMENTS])[segment_codes]
        return (
            self.intercept
            + self.active_ratio * active_ratio
            + self.feature_breadth * feature_breadth
            + self.log_tickets * np.log1p(tickets)
            + self.nps_centered * nps_centered
            + seg
        )


@dataclass(frozen=True)
class DriftSettings:
    """A change of behaviour at a stated month (see the module docstring, "Drift")."""

    kind: str = "logins"  # 'logins' (a product change for everyone) or 'segment' (a new segment joins)
    date: str | None = None  # first month of the change; None: the middle month of the window
    factor: float = 0.25  # logins: multiplies the login rate and the login session length
    segment_rate: float = 3.0  # segment: multiplies the new accounts' login and feature-use rates

    def __post_init__(self):
        if self.kind not in DRIFT_KINDS:
            raise ValueError(f"drift kind must be one of {', '.join(DRIFT_KINDS)}, not {self.kind!r}")
        if not (self.factor > 0 and self.segment_rate > 0):
            raise ValueError("drift factor and segment_rate must be positive")


DRIFT_KINDS = ("logins", "segment")


@dataclass(frozen=True)
class SimConfig:
    """Everything the world depends on. Same config (seed included) -> byte-identical files."""

    n_accounts: int = 2000
    months: int = 24
    start: str = "2024-01-01"
    seed: int = 42
    events_scale: float = 1.0
    existing_share: float = 0.6  # share of accounts already customers when the window opens
    max_prior_tenure_months: int = 36
    japanese_share: float = 0.5
    inject_defects: bool = True  # add a few known bad rows (recorded in truth.json) for ingest to catch
    # personas and journeys (engage_models.demo.journeys), all off by default so the demo world stays as it was
    # (`engage simulate --personas` turns all three on): devices and pre-purchase touches draw from streams of
    # their own (the rest of the world is the same with or without them); planted personas change the world
    devices: bool = False  # a device (desktop, mobile, tablet) on events and touchpoints
    prepurchase: bool = False  # touches before the contract start: content read, material requested, trial
    personas: bool = False  # four planted personas with known behaviour and churn, two planted milestones
    hazard: HazardModel = field(default_factory=HazardModel)
    # latent engagement
    sd_account: float = 0.6
    sd_state: float = 0.6
    rho: float = 0.85
    # behaviour
    segment_mix: tuple = (0.6, 0.3, 0.1)
    active_base: float = 0.3
    active_engagement: float = 1.4
    sd_user: float = 0.8
    login_rate: float = 6.0
    feature_rate: float = 5.0
    export_rate: float = 0.8
    content_rate: float = 1.0
    ticket_rate: float = 0.10
    nps_every_months: int = 6
    nps_response_rate: float = 0.25
    price_per_seat: tuple = (25.0, 50.0, 90.0)
    # customer-success plays with known effects (None: no plays, no play log; see engage_models.demo.plays)
    plays: PlaySettings | None = None
    # a change of behaviour at a stated month (None: none; see DriftSettings and the module docstring)
    drift: DriftSettings | None = None


# --------------------------------------------------------------------------------------------- helpers
def _config_json(cfg: SimConfig) -> dict:
    """The config for truth.json; the off-by-default non-linear truth is left out when off, so the default
    world's files stay byte-identical to those written before it existed."""
    out = jsonable(_config_record(cfg))
    if cfg.hazard.nonlinear is None:
        out["hazard"].pop("nonlinear", None)
    return out


def _nonlinear_truth(hz: HazardModel) -> dict:
    nl = hz.nonlinear
    return {
        "hazard_formula": (
            "h = sigmoid(intercept + (b_active + plan_active[plan]) * min(active_ratio, active_saturation) "
            "+ feature_breadth*b_breadth + ticket_jump*[tickets >= ticket_threshold] + nps_centered*b_nps "
            "+ segment_effect); covariates measured in calendar month t, churn during month t+1; "
            "h = 0 before min_tenure_months"
        ),
        "coefficients": {
            "intercept": hz.intercept, "active_ratio": hz.active_ratio, "feature_breadth": hz.feature_breadth,
            "nps_centered": hz.nps_centered, "segment": hz.segment,
        },
        "shapes": {
            "tickets": {"kind": "threshold", "at_or_above": nl.ticket_threshold, "log_odds_jump": nl.ticket_jump,
                        "below": 0.0},
            "active_ratio": {"kind": "saturation", "flat_beyond": nl.active_saturation,
                             "slope_below": hz.active_ratio},
            "plan x active_ratio": {"kind": "interaction", "slope_of_active_ratio_by_plan": {
                p: hz.active_ratio + nl.plan_active[p] for p in PLANS}},
        },
        "drivers_by_importance": ["active_ratio", "tickets", "feature_breadth", "nps_centered"],
    }


def _month_starts(start: str, months: int) -> np.ndarray:
    return pd.date_range(start, periods=months + 1, freq="MS").values.astype("datetime64[s]")


def _add_months(ts: np.datetime64, k: int) -> np.datetime64:
    return (pd.Timestamp(ts) + pd.DateOffset(months=k)).to_datetime64().astype("datetime64[s]")


def _uniform_times(rng, lo, hi):
    """Uniform second-resolution timestamps in [lo, hi) (arrays of datetime64[s])."""
    span = (hi - lo) / _S
    return lo + (rng.random(len(span)) * span).astype(np.int64) * _S


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _iso(ts: pd.Series, japanese: np.ndarray | None = None) -> pd.Series:
    """ISO-8601 strings: UTC with 'Z', or Japan local time with '+09:00' where ``japanese``."""
    ts = pd.to_datetime(ts)
    out = ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if japanese is not None and japanese.any():
        local = (ts[japanese] + pd.Timedelta(hours=9)).dt.strftime("%Y-%m-%dT%H:%M:%S+09:00")
        out = out.where(~japanese, local)
    return out.where(ts.notna(), None)


class _StreamWriter:
    """Append pandas-free column dicts to one Parquet file, one row group per call."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema, self.rows = path, schema, 0
        self.head: pd.DataFrame | None = None  # the first rows written, as material for planted defects
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, columns: dict):
        table = columns if isinstance(columns, pa.Table) else pa.table(columns, schema=self.schema)
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows
            if self.head is None:
                self.head = table.slice(0, 20).to_pandas()

    def close(self):
        self._writer.close()


EVENT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("user_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("event_type", pa.string()),
        ("feature", pa.string()),
        ("duration_s", pa.float64()),
    ]
)
DEVICE_FIELD = pa.field("device", pa.string())
TOUCHPOINT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("user_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("channel", pa.string()),
        ("direction", pa.string()),
        ("opened", pa.bool_()),
        ("attended", pa.bool_()),
    ]
)

_JP_NAMES = ("サクラ", "ミドリ", "アオバ", "ヒカリ", "ツバサ", "ミライ", "カエデ", "ホシノ", "アサヒ", "イロハ")
_EN_NAMES = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Hooli", "Vandelay")
_EN_SUFFIX = ("Inc", "LLC", "Ltd", "Group", "Labs", "Systems")


# ----------------------------------------------------------------------------------------- the world
class _World:
    """Mutable state of one simulation run; :func:`simulate` drives it month by month."""

    def __init__(self, cfg: SimConfig, out: Path):
        self.cfg, self.out = cfg, out
        self.rng = np.random.default_rng(cfg.seed)
        rng = self.rng
        self.month_starts = _month_starts(cfg.start, cfg.months)
        self.sim_start, self.sim_end = self.month_starts[0], self.month_starts[-1]
        n = cfg.n_accounts
        n_existing = int(round(cfg.existing_share * n))

        # start dates: existing accounts spread over the prior years, new ones over the window (midnight UTC)
        earliest = _add_months(self.sim_start, -cfg.max_prior_tenure_months)
        prior_days = int((self.sim_start - earliest) / np.timedelta64(1, "D"))
        window_days = int((self.sim_end - self.sim_start) / np.timedelta64(1, "D"))
        offsets = np.concatenate(
            [
                -rng.integers(1, prior_days + 1, n_existing),
                rng.integers(0, window_days, n - n_existing),
            ]
        )
        self.start_ts = np.sort(self.sim_start + offsets * np.timedelta64(1, "D"))
        self.account_ids = _ids("A", n, 5)
        self.segment = rng.choice(3, size=n, p=np.asarray(cfg.segment_mix))
        plan_p = np.array([[0.65, 0.3, 0.05], [0.25, 0.6, 0.15], [0.05, 0.35, 0.6]])
        self.plan = np.array([rng.choice(3, p=plan_p[s]) for s in self.segment])
        self.discount = rng.choice([0.0, 0.1, 0.2], size=n, p=[0.6, 0.3, 0.1])
        self.japanese = rng.random(n) < cfg.japanese_share
        self.mu = rng.normal(0, cfg.sd_account, n)
        self.traits = J.Traits(cfg.seed, self.start_ts, self.sim_start) if cfg.personas else None
        if self.traits is not None:
            self.mu = self.mu + self.traits.engagement
        self.x = rng.normal(0, cfg.sd_state, n)
        self.churn_ts = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
        self.nps_latest = np.full(n, np.nan)
        self.mrr = np.zeros(n)
        self.seats_last = np.zeros(n, dtype=np.int64)
        names = []
        for i in range(n):
            if self.japanese[i]:
                names.append(f"株式会社{_JP_NAMES[rng.integers(10)]}{_JP_NAMES[rng.integers(10)]}")
            else:
                first, second = _EN_NAMES[rng.integers(10)], _EN_NAMES[rng.integers(10)]
                names.append(f"{first} {second} {_EN_SUFFIX[rng.integers(6)]}")
        self.names = np.array(names, dtype=object)

        # users: one per seat, created at the account's start (existing accounts' users over their 1st month)
        low, high = np.array([2, 10, 40]), np.array([11, 41, 151])
        seats0 = rng.integers(low[self.segment], high[self.segment])
        if self.traits is not None:
            seats0 = np.maximum(2, np.round(seats0 * self.traits.seats)).astype(np.int64)
        acct = np.repeat(np.arange(n), seats0)
        created = self.start_ts[acct] + (rng.random(len(acct)) * 14 * SECONDS_PER_DAY).astype(np.int64) * _S
        first = np.r_[True, acct[1:] != acct[:-1]]
        created[first] = self.start_ts[acct[first]]  # the admin exists from day one
        self.u_acct = acct
        self.u_eff = rng.normal(0, cfg.sd_user, len(acct))
        self.u_created = created
        self.u_deact = np.full(len(acct), np.datetime64("NaT"), dtype="datetime64[s]")
        self.u_role = np.where(first, 0, np.where(rng.random(len(acct)) < 0.1, 2, 1))  # admin/member/viewer

        start_idx = pd.DatetimeIndex(self.start_ts)
        years = range(1, cfg.max_prior_tenure_months // 12 + cfg.months // 12 + 2)
        self.anniversaries = np.stack(
            [(start_idx + pd.DateOffset(years=y)).values.astype("datetime64[s]") for y in years], axis=1
        )
        self._n_initial_users = len(acct)
        self.features_base = np.linspace(1.5, -2.0, len(FEATURES))  # popular -> niche
        self.devices = J.Devices(cfg.seed, self.segment, self.traits) if cfg.devices else None
        self.prepurchase = J.Prepurchase(cfg.seed, self.start_ts, self.sim_start) if cfg.prepurchase else None
        with_device = (lambda s: s.append(DEVICE_FIELD)) if cfg.devices else (lambda s: s)
        self.events = _StreamWriter(out / "events.parquet", with_device(EVENT_SCHEMA))
        self.plays = PlayState(cfg.plays, n, cfg.seed, self.month_starts) if cfg.plays is not None else None
        touch_schema = with_device(TOUCHPOINT_SCHEMA)
        if self.plays is not None:  # a done play's contact carries its play_id
            touch_schema = touch_schema.append(pa.field("play_id", pa.string()))
        self.touch = _StreamWriter(out / "touchpoints.parquet", touch_schema)
        self.subs, self.tickets, self.surveys, self.truth_rows = [], [], [], []
        self.n_tickets = 0
        self.drift_month, self.new_segment = None, None
        if cfg.drift is not None:  # the first month of the change, and (segment) who belongs to the new segment
            at = np.datetime64(pd.Timestamp(cfg.drift.date).strftime("%Y-%m-%d")) if cfg.drift.date else \
                self.month_starts[cfg.months // 2]
            self.drift_month = int(np.searchsorted(self.month_starts[:-1], at, side="left"))
            self.drift_at = self.month_starts[min(self.drift_month, len(self.month_starts) - 1)]
            if cfg.drift.kind == "segment":
                self.new_segment = self.start_ts >= at

    # -- one month -----------------------------------------------------------------------------------
    def month(self, t: int):
        cfg, rng, hz = self.cfg, self.rng, self.cfg.hazard
        ms, me = self.month_starts[t], self.month_starts[t + 1]
        n = cfg.n_accounts
        # latent engagement moves for every account every month (keeps the random stream independent of churn)
        self.x = cfg.rho * self.x + math.sqrt(1 - cfg.rho**2) * cfg.sd_state * rng.normal(0, 1, n)
        e = self.mu + self.x
        acct_end = np.where(np.isnat(self.churn_ts), me, np.minimum(self.churn_ts, me))
        acct_w0 = np.maximum(self.start_ts, ms)
        present = (self.start_ts < me) & (acct_end > acct_w0)
        tenure_m = (ms - self.start_ts) / np.timedelta64(1, "D") / DAYS_PER_MONTH

        # users holding a seat this month
        ua = self.u_acct
        deact = np.where(np.isnat(self.u_deact), me, self.u_deact)
        w0 = np.maximum(self.u_created, acct_w0[ua])
        w1 = np.minimum(acct_end[ua], deact)
        elig = present[ua] & (w1 > w0)
        seats = np.bincount(ua[elig], minlength=n)
        ramp = np.select([tenure_m < 1, tenure_m < 2], [-1.0, -0.5], 0.0)
        if self.traits is not None:
            ramp = ramp + self.traits.active
        if self.devices is not None:
            self.devices.users(ua)
        p_act = _sigmoid(cfg.active_base + cfg.active_engagement * e[ua] + self.u_eff + ramp[ua])
        active = elig & (rng.random(len(ua)) < p_act)
        act_idx = np.flatnonzero(active)
        n_active = np.bincount(ua[act_idx], minlength=n)

        # feature adoption this month (only accounts with somebody active can show usage)
        breadth_shift = self.traits.breadth[:, None] if self.traits is not None else 0.0
        used = rng.random((n, len(FEATURES))) < _sigmoid(self.features_base[None, :] + 1.5 * e[:, None]
                                                         + breadth_shift)
        used &= (n_active > 0)[:, None]
        n_used = used.sum(1)
        self._write_events(t, act_idx, w0, w1, e, used, n_used, ms, me)
        self._write_touchpoints(t, elig, active, w0, w1, e, present, acct_w0, acct_end)

        # tickets and CSAT at close
        frac_acct = np.where(present, (acct_end - acct_w0) / (me - ms), 0.0)
        lam = cfg.ticket_rate * seats**0.6 * np.exp(-0.5 * e) * np.where(tenure_m < 3, 2.0, 1.0) * frac_acct
        n_tix = rng.poisson(lam)
        self._tickets(n_tix, acct_w0, acct_end, e, elig)

        # surveys: NPS wave, onboarding-end CSAT, anniversary CSAT
        if t % cfg.nps_every_months == cfg.nps_every_months // 3:
            self._nps_wave(elig, active, w0, w1, e, n_tix)
        self._lifecycle_csat(ms, me, acct_end, e)

        # subscriptions: seats and MRR for the month
        price = np.asarray(cfg.price_per_seat)[self.plan]
        mrr = np.round(seats * price * (1 - self.discount), 2)
        idx = np.flatnonzero(present)
        self.mrr[idx], self.seats_last[idx] = mrr[idx], seats[idx]
        self.subs.append(
            pd.DataFrame(
                {
                    "account_id": self.account_ids[idx],
                    "period_start": pd.Timestamp(ms).strftime("%Y-%m-%d"),
                    "mrr": mrr[idx],
                    "seats": seats[idx],
                    "plan": np.asarray(PLANS)[self.plan[idx]],
                }
            )
        )

        # the true hazard, from this month's observable behaviour
        alive_end = present & np.isnat(self.churn_ts)
        active_ratio = np.divide(n_active, seats, out=np.zeros(n), where=seats > 0)
        breadth = n_used / len(FEATURES)
        nps_c = np.nan_to_num(self.nps_latest - 7.0, nan=0.0)
        lp = hz.linear_predictor(active_ratio, breadth, n_tix, nps_c, self.segment, self.plan)
        if self.traits is not None:  # the persona's shift and the planted milestones reached in time
            lp = lp + self.traits.hazard_shift(np.arange(n), me, self.start_ts)
        tenure_end = (me - self.start_ts) / np.timedelta64(1, "D") / DAYS_PER_MONTH
        h = np.where(tenure_end >= hz.min_tenure_months - 1e-9, _sigmoid(lp), 0.0)
        idx = np.flatnonzero(alive_end)
        last = t == cfg.months - 1
        churn = np.zeros(n, dtype=bool)
        if not last:
            if self.plays is not None:  # a campaign dated `me` picks plays from the last 28 days' behaviour
                self.plays.campaign(t, alive_end, h, seats, self.nps_latest, self.segment, hz, len(FEATURES))
            churn[idx] = rng.random(len(idx)) < h[idx]
            nxt_days = int((self.month_starts[t + 2] - me) / np.timedelta64(1, "D"))
            c_idx = np.flatnonzero(churn)
            dates = me + rng.integers(0, nxt_days, len(c_idx)) * np.timedelta64(1, "D")
            if self.plays is not None:  # a play that saves an account prevents its churn
                keep = self.plays.decide(t, c_idx, dates)
                churn[c_idx[~keep]] = False
                c_idx, dates = c_idx[keep], dates[keep]
            self.churn_ts[c_idx] = dates
        self.truth_rows.append(
            pd.DataFrame(
                {
                    "account_id": self.account_ids[idx],
                    "month": pd.Timestamp(ms, tz="UTC"),
                    "seats": seats[idx],
                    "active_users": n_active[idx],
                    "active_ratio": active_ratio[idx],
                    "feature_breadth": breadth[idx],
                    "tickets": n_tix[idx],
                    "nps_centered": nps_c[idx],
                    "engagement": e[idx],
                    "linear_predictor": lp[idx],
                    **({"persona": self.traits.names()[idx]} if self.traits is not None else {}),
                    "hazard": h[idx],
                    "churned_next_month": pd.array(churn[idx], dtype="boolean") if not last
                    else pd.array([pd.NA] * len(idx), dtype="boolean"),
                }
            )
        )
        if hz.nonlinear is not None:  # the interaction's other half (the default world's file is unchanged)
            self.truth_rows[-1]["plan"] = np.asarray(PLANS)[self.plan[idx]]
        if not last:
            self._seat_changes(alive_end & ~churn, active_ratio, elig, active, me)

    def _drift_truth(self) -> dict:
        d = self.cfg.drift
        out = {"kind": d.kind, "first_month": pd.Timestamp(self.drift_at).strftime("%Y-%m-%d"),
               "hazard_changed": False}
        if d.kind == "logins":
            out.update({"login_rate_factor": d.factor, "login_session_factor": d.factor,
                        "description": "from first_month on every active user logs in 1 + Poisson(factor * "
                                       "login_rate * exp(0.4 e)) times, each session factor times as long; "
                                       "activity, features, tickets, NPS and the hazard are unchanged"})
        else:
            out.update({"segment_rate": d.segment_rate, "accounts": self.account_ids[self.new_segment].tolist(),
                        "description": "accounts starting on or after the drift date are a new segment: their "
                                       "users log in and use features segment_rate times as often; the hazard "
                                       "is the same function of the same covariates"})
        return out

    def _write_events(self, t, act_idx, w0, w1, e, used, n_used, ms, me):
        cfg, rng = self.cfg, self.rng
        ua = self.u_acct[act_idx]
        ea = e[ua]
        frac = (w1[act_idx] - w0[act_idx]) / (me - ms)
        s = cfg.events_scale
        rate = {k: s * getattr(cfg, f"{k}_rate") for k in ("login", "feature", "export", "content")}
        if self.traits is not None:  # the persona's rates
            tr = self.traits
            rate = {"login": rate["login"] * tr.logins[ua], "feature": rate["feature"] * tr.features[ua],
                    "export": rate["export"] * tr.exports[ua], "content": rate["content"] * tr.content[ua]}
        drifted = self.drift_month is not None and t >= self.drift_month
        if drifted and cfg.drift.kind == "logins":  # the product change: fewer logins
            rate = {**rate, "login": rate["login"] * cfg.drift.factor}
        elif drifted and cfg.drift.kind == "segment":  # the new segment's accounts use the product differently
            k = np.where(self.new_segment[ua], cfg.drift.segment_rate, 1.0)
            rate = {**rate, "login": rate["login"] * k, "feature": rate["feature"] * k}
        n_login = 1 + rng.poisson(rate["login"] * np.exp(0.4 * ea) * frac)
        n_feat = np.where(n_used[ua] > 0, rng.poisson(rate["feature"] * np.exp(0.4 * ea) * frac), 0)
        n_exp = np.where(n_used[ua] > 0, rng.poisson(rate["export"] * np.exp(0.6 * ea) * frac), 0)
        n_cont = rng.poisson(rate["content"] * np.exp(0.3 * ea) * frac)

        # each feature the account used gets at least one event, from one of its active users
        order = np.argsort(ua, kind="stable")
        ua_sorted = ua[order]
        a_used, k_used = np.nonzero(used)
        lo = np.searchsorted(ua_sorted, a_used, "left")
        hi = np.searchsorted(ua_sorted, a_used, "right")
        guar_user = order[lo + (rng.random(len(a_used)) * (hi - lo)).astype(np.int64)]

        counts = [n_login, n_feat, n_exp, n_cont]
        users = np.concatenate([np.repeat(np.arange(len(act_idx)), c) for c in counts] + [guar_user])
        etype = np.concatenate([np.full(c.sum(), i, np.int8) for i, c in enumerate(counts)]
                               + [np.full(len(guar_user), 1, np.int8)])
        # feature for feature_use/export: a uniformly chosen feature among those the account used
        used_list = np.argsort(~used, axis=1, kind="stable")  # used feature indices first
        acct_of = ua[users]
        pick = (rng.random(len(users)) * np.maximum(n_used[acct_of], 1)).astype(np.int64)
        feat = used_list[acct_of, pick].astype(np.int16)
        n_reg = len(users) - len(guar_user)
        feat[n_reg:] = k_used
        feat[(etype == 0) | (etype == 3)] = -1

        uu = act_idx[users]
        ts = _uniform_times(rng, w0[uu], w1[uu])
        med = np.array([900.0, 180.0, 15.0, 90.0])[etype]
        sig = np.array([0.8, 0.9, 0.5, 0.8])[etype]
        log_dur = np.where(etype == 0, 0.3 * e[self.u_acct[uu]], 0) + sig * rng.normal(size=len(uu))
        if self.traits is not None:  # the persona's session length (logins)
            med = np.where(etype == 0, med * self.traits.session[self.u_acct[uu]], med)
        if drifted and cfg.drift.kind == "logins":  # each login session lasts `factor` times as long
            med = np.where(etype == 0, med * cfg.drift.factor, med)
        dur = np.round(med * np.exp(log_dur), 1)
        if self.plays is not None and self.plays.is_campaign(t):  # what a panel at `me` sees of the last 28 days
            recent = ts >= me - np.timedelta64(28, "D")
            self.plays.note_events(self.u_acct[uu[recent]], uu[recent], feat[recent])
        kinds = np.asarray(EVENT_TYPES, dtype=object)[etype]
        if self.traits is not None:  # the planted milestones of this month, by the account's admin
            acct_end = np.where(np.isnat(self.churn_ts), me, np.minimum(self.churn_ts, me))
            m_acc, m_ts, m_kind = self.traits.milestone_events(self.start_ts, ms, me, acct_end)
            uu = np.concatenate([uu, self._admins(m_acc)])
            ts = np.concatenate([ts, m_ts])
            kinds = np.concatenate([kinds, m_kind])
            feat = np.concatenate([feat, np.full(len(m_acc), -1, feat.dtype)])
            dur = np.concatenate([dur, np.zeros(len(m_acc))])
            etype = np.concatenate([etype, np.full(len(m_acc), 4, etype.dtype)])
        o = np.argsort(ts, kind="stable")
        feat_names = np.array(list(FEATURES) + [None], dtype=object)
        columns = {
            "account_id": self.account_ids[self.u_acct[uu[o]]],
            "user_id": self._user_ids(uu[o]),
            "timestamp": ts[o],
            "event_type": kinds[o],
            "feature": feat_names[feat[o]],
            "duration_s": dur[o],
        }
        if self.devices is not None:
            columns["device"] = self.devices.events(uu[o], etype[o])
        self.events.write(columns)

    def _user_ids(self, idx):
        return np.char.add("U", np.char.zfill((idx + 1).astype(str), 7)).astype(object)

    def _write_touchpoints(self, t, elig, active, w0, w1, e, present, acct_w0, acct_end):
        rng, ms = self.rng, self.month_starts[t]
        self.month_starts[t + 1]
        parts = []  # (user index or -1, account index, ts, channel, direction, opened, attended)
        # newsletter to every seat holder on the 10th at 09:00 UTC
        send = ms + np.timedelta64(9 * SECONDS_PER_DAY + 9 * 3600, "s")
        got = np.flatnonzero(elig & (w0 <= send) & (w1 > send))
        opened = rng.random(len(got)) < _sigmoid(-0.8 + 0.7 * e[self.u_acct[got]] + 0.3 * self.u_eff[got])
        tr = self.traits
        parts.append((got, self.u_acct[got], np.full(len(got), send), "newsletter", "outbound", opened, None))
        # community posts by active users
        act = np.flatnonzero(active)
        post_rate = 0.04 * tr.community[self.u_acct[act]] if tr is not None else 0.04
        k = rng.poisson(post_rate * np.exp(0.8 * e[self.u_acct[act]]))
        poster = np.repeat(act, k)
        parts.append((poster, self.u_acct[poster], _uniform_times(rng, w0[poster], w1[poster]),
                      "community", "inbound", None, None))
        # account-level invitations: quarterly webinar, yearly conference; CSM meetings by segment
        acc = np.flatnonzero(present)
        for channel, when, base in (("webinar", t % 3 == 1, -1.2), ("event", t % 12 == 9, -2.0)):
            if not when:
                continue
            ts = ms + np.timedelta64(19 * SECONDS_PER_DAY + 8 * 3600, "s")
            inv = acc[(acct_w0[acc] <= ts) & (acct_end[acc] > ts)]
            att = rng.random(len(inv)) < _sigmoid(base + e[inv] + (tr.attend[inv] if tr is not None else 0.0))
            parts.append((np.full(len(inv), -1), inv, np.full(len(inv), ts), channel, "outbound", None, att))
        meet_p = np.array([0.05, 0.3, 0.8])[self.segment[acc]]
        m_acc = acc[rng.random(len(acc)) < meet_p]
        att = rng.random(len(m_acc)) < _sigmoid(1.0 + 0.8 * e[m_acc])
        parts.append((np.full(len(m_acc), -1), m_acc, _uniform_times(rng, acct_w0[m_acc], acct_end[m_acc]),
                      "meeting", "outbound", None, att))
        if self.prepurchase is not None:  # prospects: no user yet
            p_acc, p_ts, p_chan = self.prepurchase.between(ms, self.month_starts[t + 1])
            for channel in J.PREPURCHASE_CHANNELS:
                hit = p_chan == channel
                parts.append((np.full(hit.sum(), -1), p_acc[hit], p_ts[hit], channel, "inbound", None, None))

        play_ids = []
        if self.plays is not None:  # done plays of the last campaign: a contact carrying the play's id
            for a, when, channel, ids in self.plays.take_touchpoints():
                parts.append((np.full(len(a), -1), a, when, channel, "outbound", None, None))
                play_ids.append(ids)

        users = np.concatenate([p[0] for p in parts])
        accts = np.concatenate([p[1] for p in parts])
        ts = np.concatenate([p[2] for p in parts])
        n_each = [len(p[0]) for p in parts]
        chan = np.concatenate([np.asarray(p[3], dtype=object) if not isinstance(p[3], str)
                               else np.full(len(p[0]), p[3], dtype=object) for p in parts])
        direc = np.repeat(np.array([p[4] for p in parts], dtype=object), n_each)

        def flags(i):
            return np.concatenate([p[i] if p[i] is not None else np.full(len(p[0]), None) for p in parts])

        o = np.argsort(ts, kind="stable")
        uid = np.where(users >= 0, self._user_ids(np.maximum(users, 0)), None)
        columns = {
            "account_id": self.account_ids[accts[o]],
            "user_id": uid[o],
            "timestamp": ts[o],
            "channel": chan[o],
            "direction": direc[o],
            "opened": flags(5)[o],
            "attended": flags(6)[o],
        }
        if self.devices is not None:
            columns["device"] = self.devices.touches(users[o], chan[o], columns["opened"], columns["attended"])
        if self.plays is not None:
            n_plain = len(users) - sum(len(i) for i in play_ids)
            columns["play_id"] = np.concatenate([np.full(n_plain, None, dtype=object), *play_ids])[o]
        self.touch.write(columns)

    def _pick_user(self, accts, elig):
        """A random seat holder of each account (None when it has none)."""
        holders = np.flatnonzero(elig)
        holders = holders[np.argsort(self.u_acct[holders], kind="stable")]
        ha = self.u_acct[holders]
        lo, hi = np.searchsorted(ha, accts, "left"), np.searchsorted(ha, accts, "right")
        pick = lo + (self.rng.random(len(accts)) * (hi - lo)).astype(np.int64)
        out = np.full(len(accts), -1)
        ok = hi > lo
        out[ok] = holders[pick[ok]]
        return out

    def _tickets(self, n_tix, acct_w0, acct_end, e, elig):
        rng = self.rng
        a = np.repeat(np.arange(len(n_tix)), n_tix)
        if not len(a):
            return
        opened = _uniform_times(rng, acct_w0[a], acct_end[a])
        if self.plays is not None:
            self.plays.note_tickets(a, opened)
        prio = rng.choice(4, size=len(a), p=[0.3, 0.45, 0.2, 0.05])
        med_h = np.array([60.0, 30.0, 12.0, 4.0])[prio]
        hours = med_h * np.exp(0.9 * rng.normal(size=len(a)))
        closed = opened + (hours * 3600).astype(np.int64) * _S
        still_open = closed >= self.sim_end
        ids = np.array([f"T{self.n_tickets + i + 1:07d}" for i in range(len(a))], dtype=object)
        self.n_tickets += len(a)
        answered = ~still_open & (rng.random(len(a)) < 0.4)
        score = np.clip(np.round(3.9 + 0.5 * e[a] - 0.45 * np.log1p(hours / 24) + 0.8 * rng.normal(size=len(a))), 1, 5)
        csat = np.where(answered, score, np.nan)
        self.tickets.append(
            pd.DataFrame(
                {
                    "ticket_id": ids,
                    "account_id": self.account_ids[a],
                    "opened_at": opened,
                    "closed_at": np.where(still_open, np.datetime64("NaT"), closed),
                    "priority": np.asarray(PRIORITIES, dtype=object)[prio],
                    "csat": csat,
                }
            )
        )
        w = np.flatnonzero(answered)
        if len(w):
            sub = closed[w] + (rng.random(len(w)) * 7200).astype(np.int64) * _S
            keep = sub < self.sim_end
            w, sub = w[keep], sub[keep]
            respondents = self._pick_user(a[w], elig)
            self._add_surveys(a[w], respondents, sub, "csat", "ticket_close", csat[w], ticket_ids=ids[w])

    def _nps_wave(self, elig, active, w0, w1, e, n_tix):
        rng = self.rng
        cand = np.flatnonzero(elig)
        p = self.cfg.nps_response_rate * np.where(active[cand], 1.2, 0.6)
        r = cand[rng.random(len(cand)) < p]
        a = self.u_acct[r]
        raw = 7.0 + 1.8 * e[a] + 0.5 * self.u_eff[r] - 0.4 * np.log1p(n_tix[a]) + 1.5 * rng.normal(size=len(r))
        score = np.clip(np.round(raw), 0, 10)
        sums = np.bincount(a, weights=score, minlength=len(e))
        cnt = np.bincount(a, minlength=len(e))
        has = cnt > 0
        self.nps_latest[has] = sums[has] / cnt[has]
        self._add_surveys(a, r, _uniform_times(rng, w0[r], w1[r]), "nps", "periodic", score)

    def _lifecycle_csat(self, ms, me, acct_end, e):
        rng = self.rng
        # onboarding ends 75 days after the start (for accounts that started inside the window)
        onb = self.start_ts + np.timedelta64(75, "D")
        a = np.flatnonzero((onb >= ms) & (onb < me) & (onb < acct_end) & (self.start_ts >= self.sim_start))
        a = a[rng.random(len(a)) < 0.7]
        score = np.clip(np.round(3.6 + 0.8 * e[a] + 0.8 * rng.normal(size=len(a))), 1, 5)
        admin = self._admins(a)
        self._add_surveys(a, admin, onb[a] + (rng.random(len(a)) * 5 * SECONDS_PER_DAY).astype(np.int64) * _S,
                          "csat", "onboarding", score)
        # anniversaries (the first few years; precomputed in __init__)
        hit = (self.anniversaries >= ms) & (self.anniversaries < me)
        ann = np.where(hit.any(1), self.anniversaries[np.arange(len(e)), hit.argmax(1)], np.datetime64("NaT"))
        a = np.flatnonzero(hit.any(1) & (ann < acct_end))
        a = a[rng.random(len(a)) < 0.6]
        score = np.clip(np.round(3.5 + 0.9 * e[a] + 0.8 * rng.normal(size=len(a))), 1, 5)
        self._add_surveys(a, self._admins(a), ann[a] + np.timedelta64(3 * SECONDS_PER_DAY, "s"),
                          "csat", "annual", score)

    def _admins(self, accts):
        first = np.searchsorted(self.u_acct[: self._n_initial_users], accts, "left")
        return first

    def _add_surveys(self, accts, users, ts, stype, trigger, score, ticket_ids=None):
        if not len(accts):
            return
        rng = self.rng
        if stype == "nps":
            cat = np.select([score >= 9, score >= 7], [0, 1], 2)
            p_comment = 0.45
        else:
            cat = np.select([score >= 4, score >= 3], [0, 1], 2)
            p_comment = 0.3
        has_comment = rng.random(len(accts)) < p_comment
        lang = np.where(self.japanese[accts], "ja", "en")
        comments = np.full(len(accts), None, dtype=object)
        for i in np.flatnonzero(has_comment):
            bank = comment_bank(lang[i], ("positive", "neutral", "negative")[cat[i]])
            comments[i] = bank[rng.integers(len(bank))][1]
        self.surveys.append(
            pd.DataFrame(
                {
                    "account_id": self.account_ids[accts],
                    "user_id": np.where(users >= 0, self._user_ids(np.maximum(users, 0)), None),
                    "submitted_at": ts,
                    "survey_type": stype,
                    "trigger": trigger,
                    "score": score.astype(int),
                    "comment": comments,
                    "lang": lang,
                    "ticket_id": ticket_ids if ticket_ids is not None else None,
                }
            )
        )

    def _seat_changes(self, stays, active_ratio, elig, active, me):
        """Contract seats where few are used, expand where most are (seats change at the month boundary)."""
        rng = self.rng
        n = len(stays)
        grow = stays & (active_ratio > 0.8) & (rng.random(n) < 0.12)
        shrink = stays & (active_ratio < 0.3) & (rng.random(n) < 0.10)
        seats = np.bincount(self.u_acct[elig], minlength=n)
        add = np.where(grow, np.ceil(seats * rng.uniform(0.1, 0.3, n)), 0).astype(np.int64)
        for a in np.flatnonzero(shrink & (seats > 2)):
            holders = np.flatnonzero(elig & (self.u_acct == a) & (self.u_role != 0))
            k = min(len(holders), max(1, int(seats[a] * rng.uniform(0.1, 0.3))))
            # inactive seats go first
            order = holders[np.lexsort((rng.random(len(holders)), active[holders]))]
            self.u_deact[order[:k]] = me
        if add.sum():
            a = np.repeat(np.arange(n), add)
            joined = me + (rng.random(len(a)) * 10 * SECONDS_PER_DAY).astype(np.int64) * _S
            self.u_acct = np.concatenate([self.u_acct, a])
            self.u_eff = np.concatenate([self.u_eff, rng.normal(0, self.cfg.sd_user, len(a))])
            self.u_created = np.concatenate([self.u_created, joined])
            self.u_deact = np.concatenate([self.u_deact, np.full(len(a), np.datetime64("NaT"), "datetime64[s]")])
            self.u_role = np.concatenate([self.u_role, np.where(rng.random(len(a)) < 0.1, 2, 1)])

    # -- finishing -----------------------------------------------------------------------------------
    def finish(self) -> dict:
        cfg, out = self.cfg, self.out
        n_users = len(self.u_acct)
        accounts = pd.DataFrame(
            {
                "account_id": self.account_ids,
                "name": self.names,
                "segment": np.asarray(SEGMENTS, dtype=object)[self.segment],
                "plan": np.asarray(PLANS, dtype=object)[self.plan],
                "mrr": self.mrr,
                "seats": self.seats_last,
                "start_date": pd.to_datetime(self.start_ts).strftime("%Y-%m-%d"),
                "end_date": pd.Series(pd.to_datetime(self.churn_ts)).dt.strftime("%Y-%m-%d"),
                "country": np.where(self.japanese, "JP", "US"),
            }
        )
        users = pd.DataFrame(
            {
                "user_id": self._user_ids(np.arange(n_users)),
                "account_id": self.account_ids[self.u_acct],
                "role": np.asarray(("admin", "member", "viewer"), dtype=object)[self.u_role],
                "created_at": _iso(pd.Series(self.u_created)),
                "deactivated_at": _iso(pd.Series(self.u_deact)),
            }
        )
        # users who would only join after the window closed are not in the data
        users = users[self.u_created < self.sim_end]
        subs = pd.concat(self.subs, ignore_index=True)
        tickets = pd.concat(self.tickets, ignore_index=True) if self.tickets else pd.DataFrame(
            columns=["ticket_id", "account_id", "opened_at", "closed_at", "priority", "csat"])
        tickets["opened_at"] = _iso(tickets["opened_at"])
        tickets["closed_at"] = _iso(tickets["closed_at"])
        surveys = pd.concat(self.surveys, ignore_index=True) if self.surveys else pd.DataFrame(
            columns=["account_id", "user_id", "submitted_at", "survey_type", "trigger", "score", "comment", "lang",
                     "ticket_id"])
        surveys = surveys.sort_values(["submitted_at", "account_id"], kind="stable").reset_index(drop=True)
        surveys.insert(0, "response_id", [f"R{i + 1:07d}" for i in range(len(surveys))])
        surveys["submitted_at"] = _iso(surveys["submitted_at"], (surveys["lang"] == "ja").to_numpy())
        truth_panel = pd.concat(self.truth_rows, ignore_index=True)

        small = {"accounts": accounts, "users": users, "subscriptions": subs, "tickets": tickets, "surveys": surveys}
        defects = _inject_defects(self.rng, small, self.events, self.touch) if cfg.inject_defects else {}
        self.events.close()
        self.touch.close()
        for name, frame in small.items():
            frame.to_csv(out / f"{name}.csv", index=False)
        truth_panel.to_parquet(out / "true_hazard.parquet", index=False)
        plays = self.plays.finish(out, self.account_ids) if self.plays is not None else None

        churned = truth_panel["churned_next_month"].dropna()
        at_risk = truth_panel.loc[truth_panel["churned_next_month"].notna(), "hazard"]
        truth = {
            "description": "True churn model of the simulated world; see engage_models.demo.simulator.",
            "hazard_formula": (
                "h = sigmoid(intercept + active_ratio*b_active + feature_breadth*b_breadth "
                "+ log1p(tickets)*b_tickets + nps_centered*b_nps + segment_effect); "
                "covariates measured in calendar month t, churn during month t+1; h = 0 before min_tenure_months"
            ),
            "coefficients": {
                "intercept": cfg.hazard.intercept,
                "active_ratio": cfg.hazard.active_ratio,
                "feature_breadth": cfg.hazard.feature_breadth,
                "log1p_tickets": cfg.hazard.log_tickets,
                "nps_centered": cfg.hazard.nps_centered,
                "segment": cfg.hazard.segment,
            },
            "drivers_by_importance": ["active_ratio", "feature_breadth", "log1p_tickets", "nps_centered"],
            "config": _config_json(cfg),
            "expected": {
                "logins_per_active_user_month": "1 + login_rate*events_scale*exp(0.4*engagement)",
                "mean_monthly_hazard": float(at_risk.mean()),
                "churn_events_expected": float(at_risk.sum()),
            },
            "realised": {
                "churn_events": int(churned.sum()),
                "account_months_at_risk": int(len(churned)),
            },
            "injected_defects": defects,
            "files": {
                "true_hazard.parquet": "one row per account and month alive at month end: covariates, "
                "latent engagement, hazard, churned_next_month",
            },
        }
        if cfg.hazard.nonlinear is not None:
            truth.update(_nonlinear_truth(cfg.hazard))
        if plays is not None:
            truth["plays"] = plays
        if cfg.drift is not None:
            truth["drift"] = self._drift_truth()
        if self.traits is not None:
            truth.update(self.traits.truth())
            truth["files"]["true_personas.parquet"] = ("one row per account: its planted persona and the days "
                                                       "after its start at which it reached each planted milestone")
            days = {f"{k}_days": v for k, v in self.traits.milestone_days.items()}
            pd.DataFrame({"account_id": self.account_ids, "persona": self.traits.names(), **days}).to_parquet(
                out / "true_personas.parquet", index=False)
        (out / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return {
            "out": str(out),
            "tables": {
                **{name: len(frame) for name, frame in small.items()},
                "events": self.events.rows,
                "touchpoints": self.touch.rows,
                **({"plays": plays["log_rows"]} if plays is not None else {}),
            },
            "churn_events": int(churned.sum()),
            "injected_defects": defects,
        }


def _inject_defects(rng, tables: dict[str, pd.DataFrame], events: _StreamWriter, touch: _StreamWriter) -> dict:
    """Append copies of real rows, each broken in exactly one known way; return counts by table and reason.

    The copies are added, never substituted, so what ingest keeps is still the simulated truth.
    ``tables`` (the small CSV tables) is updated in place; events and touchpoints get a last row group.
    """
    defects: dict[str, dict[str, int]] = {}
    fresh = iter(range(9_000_001, 10_000_000))

    def add(table, reason, rows):
        if not len(rows):  # a tiny world may have no row of this kind to copy
            return
        defects.setdefault(table, {})[reason] = defects.get(table, {}).get(reason, 0) + len(rows)
        tables[table] = pd.concat([tables[table], rows], ignore_index=True)

    def sample(df, k):
        k = min(k, len(df))  # as many as there are (the same draws whenever there are enough)
        return df.iloc[np.sort(rng.choice(len(df), size=k, replace=False))].copy()

    surveys = tables["surveys"]
    nps, csat = surveys[surveys["survey_type"] == "nps"], surveys[surveys["survey_type"] == "csat"]

    def renumbered(rows, prefix):
        rows[rows.columns[0]] = [f"{prefix}{next(fresh)}" for _ in range(len(rows))]
        return rows

    def broken(rows, column, values):
        rows[column] = values[: len(rows)]
        return rows

    add("surveys", C.NPS_OUT_OF_RANGE, renumbered(broken(sample(nps, 3), "score", [11, 12, -1]), "R"))
    add("surveys", C.CSAT_OUT_OF_SCALE, renumbered(sample(csat, 1).assign(score=7), "R"))
    add("surveys", C.unparseable("submitted_at"),
        renumbered(broken(sample(nps, 2), "submitted_at", ["2025-02-30T10:00:00Z", "yesterday"]), "R"))
    add("surveys", C.duplicate(("response_id",)), sample(nps, 2))  # re-sent answers, same ids

    tickets = tables["tickets"]
    add("tickets", C.duplicate(("ticket_id",)), sample(tickets, 2))
    bad = renumbered(sample(tickets[tickets["closed_at"].notna()], 1), "T")
    bad["closed_at"] = (pd.to_datetime(bad["opened_at"]) - pd.Timedelta(hours=5)).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    add("tickets", C.CLOSED_BEFORE_OPENED, bad)

    add("accounts", C.duplicate(("account_id",)), sample(tables["accounts"], 1))
    add("users", C.UNKNOWN_ACCOUNT, sample(tables["users"], 1).assign(user_id="U9999999", account_id="A99999"))
    add("subscriptions", C.NEGATIVE_MRR,
        sample(tables["subscriptions"], 1).assign(period_start="1999-01-01", mrr=-100.0))

    ev = events.head
    bad = [ev.iloc[:5].assign(duration_s=-30.0), ev.iloc[5:10].assign(account_id="A99999"),
           ev.iloc[10:13].assign(timestamp=pd.Timestamp("2099-01-01", tz="UTC"))]
    for reason, rows in zip((C.NEGATIVE_DURATION, C.UNKNOWN_ACCOUNT, C.in_future("timestamp")), bad, strict=False):
        defects.setdefault("events", {})[reason] = len(rows)
    events.write(pa.Table.from_pandas(pd.concat(bad, ignore_index=True), schema=events.schema, preserve_index=False))
    tp = touch.head.iloc[:2].assign(account_id="A99998")
    defects["touchpoints"] = {C.UNKNOWN_ACCOUNT: len(tp)}
    touch.write(pa.Table.from_pandas(tp, schema=touch.schema, preserve_index=False))
    return defects


#: SimConfig switches recorded in truth.json only when on (the default world's truth.json is as before them).
# switched off, these are left out of truth.json's config: a world without them describes itself as before
_OPTIONAL_SWITCHES = ("devices", "prepurchase", "personas", "plays", "drift")


def _config_record(cfg: SimConfig) -> dict:
    record = asdict(cfg)
    for name in _OPTIONAL_SWITCHES:
        if not record[name]:
            del record[name]
    return record


def simulate(config: SimConfig | None = None, out: str | Path = "data/raw", **overrides) -> dict:
    """Generate the demo world into ``out``; return a summary (row counts, churn events, defects).

    Parameters
    ----------
    config : SimConfig, optional
        The world's settings; keyword ``overrides`` replace fields (``simulate(out=..., n_accounts=500)``).
    out : path
        Folder for the raw files (created). Existing simulator files in it are overwritten.
    """
    cfg = replace(config or SimConfig(), **overrides)
    if cfg.n_accounts < 10 or cfg.months < 1:
        from .._core.errors import ConfigError

        raise ConfigError(f"simulate needs at least 10 accounts and 1 month (--accounts {cfg.n_accounts}, "
                          f"--months {cfg.months})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    world = _World(cfg, out)
    for t in range(cfg.months):
        world.month(t)
        log.debug("simulated month %d/%d", t + 1, cfg.months)
    summary = world.finish()
    log.info("simulated %s", summary["tables"])
    return summary
