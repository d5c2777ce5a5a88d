"""What the demo world adds for personas and journeys: devices, pre-purchase touches and planted personas.

Three additions to :mod:`engage_models.demo.simulator`, each behind a :class:`~.simulator.SimConfig` switch
(all off in the default demo world, so its files are byte for byte what they were; ``engage simulate
--personas`` turns the three on):

``devices`` (off by default)
    Every event and touchpoint carries the ``device`` it came from (``desktop``, ``mobile``, ``tablet``;
    empty for in-person touches and unopened newsletters). Each user prefers a device (the mix depends on the
    segment, or on the planted persona); an event comes from that device 80% of the time. Content read
    leans to phones, as in the source article's commuter who meets the product on a smartphone blog.
``prepurchase`` (off by default)
    Touches before the contract starts, for accounts that start at least 60 days into the data window (so
    their whole approach is in the data): content read on the website or blog (``content_read``, one or more
    in the 60 days before), material requested (``material_request``, half of them) and a trial (``trial``,
    four in ten), with the devices people use for each.
``personas`` (off by default)
    Four behavioural personas with known behaviour and churn (:data:`PERSONAS`), and two planted milestones
    (:data:`PLANTED_MILESTONES`): ``onboarding_completed`` within 30 days lowers the monthly churn log-odds
    by 0.9, ``profile_completed`` is drawn the same way and does nothing. Tests check that clustering finds
    the personas and that the landmark analysis finds the one milestone and not the other.

Devices and pre-purchase touches draw from random streams of their own (seeded from the world's seed), so
switching them on or off leaves every other value of the world exactly as it was: the same accounts, users,
events, churn, and every metric of the panel. Personas change behaviour, so they change the world.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..ingest.contracts import DEVICES, PREPURCHASE_CHANNELS

#: Sub-streams of the world's seed (``np.random.default_rng([seed, stream])``), one per addition.
DEVICE_STREAM, PREPURCHASE_STREAM, PERSONA_STREAM = 101, 102, 103

#: Device mix of users' preferred devices by segment (SMB, Mid-Market, Enterprise).
SEGMENT_DEVICES = np.array([[0.55, 0.38, 0.07], [0.65, 0.28, 0.07], [0.75, 0.20, 0.05]])
#: Device of an event that does not come from the preferred one, by event type index (login, feature use,
#: export, content view, planted milestone): content is read on phones more than anything else.
OTHER_DEVICE = np.array([[0.45, 0.45, 0.10], [0.60, 0.30, 0.10], [0.80, 0.10, 0.10], [0.30, 0.60, 0.10],
                         [0.60, 0.30, 0.10]])
PREFERRED_SHARE = 0.8


@dataclass(frozen=True)
class Persona:
    """A planted behavioural persona: shifts and multipliers of the simulator's behaviour, and of churn.

    ``engagement`` shifts the account's latent engagement; ``seats`` multiplies its initial seats; ``active``
    shifts the log-odds that a seat is active in a month; ``logins``, ``features``, ``exports``, ``content``
    and ``community`` multiply the monthly rates of logins, feature uses, exports, content views and
    community posts; ``breadth`` shifts the log-odds of using each feature; ``session`` multiplies the
    duration of logins (usage hours); ``attend`` shifts the log-odds of attending webinars and events;
    ``devices`` is the mix of preferred devices; ``hazard`` is added to the monthly churn log-odds.
    """

    name: str
    share: float
    engagement: float = 0.0
    seats: float = 1.0
    active: float = 0.0
    logins: float = 1.0
    features: float = 1.0
    exports: float = 1.0
    content: float = 1.0
    community: float = 1.0
    breadth: float = 0.0
    session: float = 1.0
    attend: float = 0.0
    devices: tuple = (0.65, 0.28, 0.07)
    hazard: float = 0.0


PERSONAS: tuple[Persona, ...] = (
    # many outputs, most features, long desktop sessions
    Persona("analysts", 0.25, engagement=0.3, active=0.3, features=1.5, exports=8.0, content=0.7, community=0.5,
            breadth=1.5, session=2.0, devices=(0.90, 0.07, 0.03), hazard=-0.3),
    # many seats bought, few of them used
    Persona("shelfware", 0.25, engagement=-0.2, seats=3.0, active=-3.0, logins=0.8, features=0.8, exports=0.8,
            content=0.5, community=0.5, attend=-0.5, devices=(0.70, 0.20, 0.10), hazard=0.3),
    # community posts, events and content
    Persona("community", 0.25, engagement=0.2, exports=0.7, content=4.0, community=25.0, attend=2.5,
            devices=(0.60, 0.30, 0.10), hazard=-0.5),
    # frequent short mobile check-ins, few features, hardly any output
    Persona("mobile_light", 0.25, engagement=-0.3, seats=0.7, logins=1.5, features=0.3, exports=0.1, content=0.6,
            community=0.3, breadth=-2.5, session=0.25, attend=-1.0, devices=(0.15, 0.75, 0.10), hazard=0.4),
)


@dataclass(frozen=True)
class PlantedMilestone:
    """A milestone event planted for accounts that start inside the data window (personas worlds only).

    Reached within ``within_days`` with probability ``p_fast`` (uniform over ``fast_days``), else later with
    probability ``p_late`` (uniform over ``late_days``), else never; independent of everything else. Reaching
    it within ``within_days`` adds ``hazard`` to the monthly churn log-odds from then on.
    """

    event_type: str
    hazard: float
    within_days: int = 30
    p_fast: float = 0.5
    fast_days: tuple = (2, 28)
    p_late: float = 0.7
    late_days: tuple = (35, 150)


PLANTED_MILESTONES: tuple[PlantedMilestone, ...] = (
    PlantedMilestone("onboarding_completed", hazard=-0.9),
    PlantedMilestone("profile_completed", hazard=0.0),
)


def _attr(name: str, persona: np.ndarray) -> np.ndarray:
    return np.array([getattr(p, name) for p in PERSONAS], dtype=float)[persona]


class Traits:
    """Per-account persona traits (arrays over accounts) and the planted milestones' days after the start."""

    def __init__(self, seed: int, start_ts: np.ndarray, sim_start: np.datetime64):
        rng = np.random.default_rng([seed, PERSONA_STREAM])
        n = len(start_ts)
        shares = np.array([p.share for p in PERSONAS])
        self.persona = rng.choice(len(PERSONAS), size=n, p=shares / shares.sum())
        for name in ("engagement", "seats", "active", "logins", "features", "exports", "content", "community",
                     "breadth", "session", "attend", "hazard"):
            setattr(self, name, _attr(name, self.persona))
        self.devices = np.array([p.devices for p in PERSONAS])[self.persona]
        new = start_ts >= sim_start  # their first days are in the data
        self.milestone_days: dict[str, np.ndarray] = {}
        for m in PLANTED_MILESTONES:
            u, fast_at, late_at = rng.random(n), rng.uniform(*m.fast_days, n), rng.uniform(*m.late_days, n)
            late = rng.random(n) < m.p_late
            days = np.where(u < m.p_fast, fast_at, np.where(late, late_at, np.nan))
            self.milestone_days[m.event_type] = np.where(new, days, np.nan)

    def names(self) -> np.ndarray:
        return np.array([p.name for p in PERSONAS], dtype=object)[self.persona]

    def hazard_shift(self, idx: np.ndarray, month_end: np.datetime64, start_ts: np.ndarray) -> np.ndarray:
        """The persona's churn shift plus the effect of each planted milestone reached in time by ``month_end``."""
        out = self.hazard[idx].copy()
        age = (month_end - start_ts[idx]) / np.timedelta64(1, "D")
        for m in PLANTED_MILESTONES:
            days = self.milestone_days[m.event_type][idx]
            out += m.hazard * ((days <= m.within_days) & (days <= age))
        return out

    def milestone_events(self, start_ts: np.ndarray, lo: np.datetime64, hi: np.datetime64, end_ts: np.ndarray):
        """(account index, timestamp, event type) of the planted milestones falling in ``[lo, hi)`` while the
        account is a customer (before ``end_ts``)."""
        accts, times, kinds = [], [], []
        for m in PLANTED_MILESTONES:
            days = self.milestone_days[m.event_type]
            ok = ~np.isnan(days)
            at = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[s]")
            at[ok] = start_ts[ok] + (days[ok] * 86_400).astype(np.int64) * np.timedelta64(1, "s")
            hit = np.flatnonzero(ok & (at >= lo) & (at < hi) & (at < end_ts))
            accts.append(hit)
            times.append(at[hit])
            kinds.append(np.full(len(hit), m.event_type, dtype=object))
        return np.concatenate(accts), np.concatenate(times), np.concatenate(kinds)

    def truth(self) -> dict:
        counts = np.bincount(self.persona, minlength=len(PERSONAS))
        return {"personas": [{**asdict(p), "accounts": int(c)} for p, c in zip(PERSONAS, counts, strict=True)],
                "planted_milestones": [asdict(m) for m in PLANTED_MILESTONES]}


class Devices:
    """Devices of users, events and touches, from a random stream of their own."""

    def __init__(self, seed: int, segment: np.ndarray, traits: Traits | None = None):
        self.rng = np.random.default_rng([seed, DEVICE_STREAM])
        self.mix = traits.devices if traits is not None else SEGMENT_DEVICES[segment]
        self.preferred = np.zeros(0, dtype=np.int8)

    def _draw(self, probs: np.ndarray) -> np.ndarray:
        """One device per row of ``probs`` (rows of 3 probabilities)."""
        u = self.rng.random(len(probs))
        return (u[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(1).astype(np.int8)

    def users(self, u_acct: np.ndarray) -> None:
        """Draw the preferred device of users added since the last call."""
        new = u_acct[len(self.preferred):]
        if len(new):
            self.preferred = np.concatenate([self.preferred, self._draw(self.mix[new])])

    def events(self, users: np.ndarray, etype: np.ndarray) -> np.ndarray:
        keep = self.rng.random(len(users)) < PREFERRED_SHARE
        other = self._draw(OTHER_DEVICE[etype])
        return np.asarray(DEVICES, dtype=object)[np.where(keep, self.preferred[users], other)]

    def touches(self, users: np.ndarray, channel: np.ndarray, opened: np.ndarray, attended: np.ndarray) -> np.ndarray:
        """Newsletters: the phone half the time when opened (none when not); community posts: as events;
        webinars attended: mostly desktop; in-person events and meetings: none; pre-purchase touches: by
        channel."""
        n = len(users)
        pref = np.where(users >= 0, self.preferred[np.maximum(users, 0)], 0)
        keep = self.rng.random(n) < PREFERRED_SHARE
        mobile_mail = self.rng.random(n) < 0.5
        mixes = {"webinar": (0.75, 0.15, 0.10), "content_read": (0.30, 0.60, 0.10),
                 "material_request": (0.80, 0.15, 0.05), "trial": (0.90, 0.05, 0.05)}
        probs = np.array([mixes.get(c, (0.60, 0.30, 0.10)) for c in channel]).reshape(n, 3)
        drawn = self._draw(probs)
        device = np.asarray(DEVICES, dtype=object)
        out = np.full(n, None, dtype=object)
        opened_b = np.array([bool(v) if v is not None else False for v in opened], dtype=bool)
        attended_b = np.array([bool(v) if v is not None else False for v in attended], dtype=bool)
        news = (channel == "newsletter") & opened_b
        out[news] = device[np.where(mobile_mail, 1, pref)[news]]
        comm = (channel == "community") & (users >= 0)
        out[comm] = device[np.where(keep, pref, drawn)[comm]]
        web = (channel == "webinar") & attended_b
        out[web] = device[drawn[web]]
        pre = np.isin(channel, PREPURCHASE_CHANNELS)
        out[pre] = device[drawn[pre]]
        return out


class Prepurchase:
    """The touches before each contract start (drawn once; :meth:`between` hands out a month's worth)."""

    LEAD_DAYS = 60

    def __init__(self, seed: int, start_ts: np.ndarray, sim_start: np.datetime64):
        rng = np.random.default_rng([seed, PREPURCHASE_STREAM])
        day = np.timedelta64(86_400, "s")
        eligible = np.flatnonzero(start_ts >= sim_start + self.LEAD_DAYS * day)
        n = len(eligible)
        reads = 1 + rng.poisson(2.0, n)
        acct = [np.repeat(eligible, reads)]
        lead = [rng.uniform(1, self.LEAD_DAYS, reads.sum())]
        chan = [np.full(reads.sum(), "content_read", dtype=object)]
        for channel, p, lo, hi in (("material_request", 0.5, 7, 40), ("trial", 0.4, 1, 30)):
            who = eligible[rng.random(n) < p]
            acct.append(who)
            lead.append(rng.uniform(lo, hi, len(who)))
            chan.append(np.full(len(who), channel, dtype=object))
        self.acct = np.concatenate(acct)
        self.ts = start_ts[self.acct] - (np.concatenate(lead) * 86_400).astype(np.int64) * np.timedelta64(1, "s")
        self.channel = np.concatenate(chan)

    def between(self, lo: np.datetime64, hi: np.datetime64):
        hit = (self.ts >= lo) & (self.ts < hi)
        return self.acct[hit], self.ts[hit], self.channel[hit]


# ----------------------------------------------------------------------------------------- user personas
@dataclass(frozen=True)
class UserType:
    """A planted kind of user, for the user personas' recovery test (:func:`user_world`).

    Over a window of ``days`` days the user is active on each day with probability ``p_day``; an active day
    has one login (of ``minutes`` minutes, lognormal), Poisson(``uses``) feature uses among the user's own
    ``breadth`` features, Poisson(``exports``) exports and Poisson(``reads``) content views; ``mobile`` is the
    share of the user's events from a phone. Each user departs from the type by :data:`HETEROGENEITY`.
    """

    name: str
    share: float
    p_day: float
    minutes: float
    breadth: int
    uses: float
    exports: float
    reads: float
    mobile: float


USER_TYPES: tuple[UserType, ...] = (
    # every other day, long sessions, most features, many exports
    UserType("power", 0.15, p_day=0.55, minutes=45, breadth=8, uses=4.0, exports=1.5, reads=0.2, mobile=0.1),
    # reads what is sent, on the phone, hardly uses a feature
    UserType("reader", 0.35, p_day=0.20, minutes=6, breadth=1, uses=0.3, exports=0.0, reads=3.0, mobile=0.7),
    # a few logins a quarter, nothing else
    UserType("occasional", 0.35, p_day=0.04, minutes=4, breadth=1, uses=0.5, exports=0.0, reads=0.2, mobile=0.3),
    # builds reports: weekly, a few features, exports every time
    UserType("reporter", 0.15, p_day=0.15, minutes=25, breadth=3, uses=2.0, exports=3.0, reads=0.3, mobile=0.05),
)
#: Spread of users of one kind around it (the sd of the log of their frequency, session length, intensity and
#: breadth).
HETEROGENEITY = 0.4
FEATURES = ("dashboards", "reports", "alerts", "sharing", "api", "integrations", "automation", "forecasting",
            "mobile", "admin_console", "audit", "sso")


def user_world(n_accounts: int = 60, seed: int = 0, as_of="2025-07-01", days: int = 90):
    """Events of users of planted :data:`USER_TYPES` over the ``days`` before ``as_of``, the users table and
    the truth. Accounts have 3 to 20 users whose types are drawn from a Dirichlet mix around the shares (so
    accounts differ: some are mostly readers, some have several power users).

    Returns ``(events, users, truth)``: ``events`` with the contract's columns (account_id, user_id,
    timestamp, event_type, feature, duration_s, device), ``users`` (user_id, account_id, role, created_at),
    ``truth`` (user_id, account_id, user_type).
    """
    rng = np.random.default_rng([seed, 104])
    end = np.datetime64(str(as_of)[:10], "s")
    start = end - np.timedelta64(days, "D")
    shares = np.array([u.share for u in USER_TYPES])
    acct, types = [], []
    for a in range(n_accounts):
        n = int(rng.integers(3, 21))
        mixp = rng.dirichlet(4 * shares)
        acct.append(np.full(n, a))
        types.append(rng.choice(len(USER_TYPES), size=n, p=mixp))
    acct, types = np.concatenate(acct), np.concatenate(types)
    n_users = len(acct)
    account_ids = np.array([f"A{a + 1:05d}" for a in range(n_accounts)], dtype=object)[acct]
    user_ids = np.array([f"U{u + 1:07d}" for u in range(n_users)], dtype=object)
    rows = {k: [] for k in ("user", "day", "etype", "feature", "seconds")}
    for u in range(n_users):
        ut = USER_TYPES[types[u]]
        # people of one kind differ: how often, how long and how much vary by user (lognormal, sd 0.4)
        vary = rng.lognormal(0, HETEROGENEITY, 3)
        breadth = int(np.clip(round(ut.breadth * rng.lognormal(0, HETEROGENEITY)), 1, len(FEATURES)))
        feats = rng.choice(len(FEATURES), size=breadth, replace=False)
        active = np.flatnonzero(rng.random(days) < min(ut.p_day * vary[0], 0.95))
        for d in active:
            rows["user"].append(u), rows["day"].append(d), rows["etype"].append("login")
            rows["feature"].append(None), rows["seconds"].append(60 * ut.minutes * vary[1] * rng.lognormal(0, 0.4))
            for etype, rate in (("feature_use", ut.uses * vary[2]), ("export", ut.exports * vary[2]),
                                ("content_view", ut.reads * vary[2])):
                for _ in range(rng.poisson(rate)):
                    rows["user"].append(u), rows["day"].append(d), rows["etype"].append(etype)
                    rows["feature"].append(FEATURES[rng.choice(feats)] if etype == "feature_use" else None)
                    rows["seconds"].append(60 * rng.lognormal(0.5, 0.5) if etype == "feature_use" else None)
    users_i = np.asarray(rows["user"], dtype=int)
    secs = rng.integers(8 * 3600, 20 * 3600, len(users_i))
    ts = start + np.asarray(rows["day"], dtype=int) * np.timedelta64(1, "D") + secs * np.timedelta64(1, "s")
    mobile = rng.random(len(users_i)) < np.array([USER_TYPES[t].mobile for t in types])[users_i]
    other = np.where(rng.random(len(users_i)) < 0.9, "desktop", "tablet")
    import pandas as pd

    events = pd.DataFrame({"account_id": account_ids[users_i], "user_id": user_ids[users_i],
                           "timestamp": pd.to_datetime(ts).tz_localize("UTC"),
                           "event_type": rows["etype"], "feature": rows["feature"],
                           "duration_s": pd.array(rows["seconds"], dtype="Float64").astype(float),
                           "device": np.where(mobile, "mobile", other)})
    events = events.sort_values(["account_id", "timestamp"], kind="stable").reset_index(drop=True)
    users = pd.DataFrame({"user_id": user_ids, "account_id": account_ids, "role": "member",
                          "created_at": pd.Timestamp(str(start)[:10], tz="UTC") - pd.Timedelta(days=30)})
    truth = pd.DataFrame({"user_id": user_ids, "account_id": account_ids,
                          "user_type": np.array([u.name for u in USER_TYPES], dtype=object)[types]})
    return events, users, truth
