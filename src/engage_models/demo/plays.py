"""Customer-success plays in the simulated world, with known effects (``SimConfig(plays=PlaySettings())``).

A simulated customer-success team runs **campaigns**: at the start of every ``every_months``-th month from
``first_month`` on, it looks at each customer's behaviour over the last 28 days, measured exactly as the
engagement panel measures it at that date (active users / seats, features used / features, tickets opened,
latest NPS wave, segment), and picks at most one play per account, by rules that follow risk:

* ``rescue_call`` with probability ``sigmoid(a + b (lp + 2.5))``, ``lp`` being the true hazard formula applied
  to those measurements (the riskier, the likelier);
* ``training_session`` (accounts not picked before) with probability ``sigmoid(a + b (0.45 - active_ratio))``;
* ``usage_tips`` (the rest) with probability ``sigmoid(a + b (active_ratio - 0.5))``.

The team sees nothing the panel does not (no unmeasured confounding), so an observational estimate that
adjusts for the panel can recover the effects; it still has to, because the churn hazard follows the same
behaviour.

So the naive comparison of accounts that got a play with those that did not is biased, as in real life: a
rescue call goes to accounts that churn more anyway, tips to accounts that churn less anyway.

**What a play truly does.** A play changes no behaviour; it *saves* a would-be churner: each account has, for
each play, a draw ``saved ~ Bernoulli(save)`` (``save_at_risk`` for accounts whose true monthly hazard at the
campaign is at least ``at_risk_hazard``), and an account that got the play and is saved does not churn during
the ``protect_months`` churn decisions that follow (a churn dated on the campaign day itself, a notice already
given, is not prevented). By default ``training_session`` saves 40% of would-be churners in every risk tier
(it helps), ``usage_tips`` none (it does nothing) and ``rescue_call`` 60% of at-risk accounts' would-be
churners and none of the others' (it helps only accounts at risk).

**Holdout.** With ``holdout > 0`` each account a rule picks is held out of its play with that probability (the
log says ``holdout = true``, status ``skipped``; ``holdout = false`` for the others), so the effect can be
measured by randomisation. ``holdout_campaigns`` limits this to some campaigns: the others run without a
holdout (``holdout`` empty in the log), as plays are run before anyone thinks of measuring them.

**Truth.** The play log is written as ``plays.csv`` (the ``plays`` contract; done plays also leave a touchpoint
carrying their ``play_id``); ``play_truth.parquet`` has one row per account alive at each campaign with the
play it got (if any), its arm, its risk tier, its true hazard, the churn date it would have had without any
play (within the protection window, common random numbers: the same monthly draws decide both) and its
``saved_<play>`` draws. :func:`potential_outcomes` turns that into both potential outcomes of churn within a
horizon, so the true effect of any play on any set of accounts is known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.stats import sigmoid

SIGNALS = ("risk", "low_use", "high_use")


@dataclass(frozen=True)
class SimPlay:
    """One play of the simulated team: who gets it (``pick``) and whom it saves (``save``, ``save_at_risk``)."""

    id: str
    owner: str
    channel: str  # touchpoint channel a done play leaves
    save: float  # share of would-be churners saved among accounts not at risk
    save_at_risk: float  # ... among accounts at risk
    pick: tuple[float, float]  # propensity sigmoid(a + b * signal)
    signal: str  # risk: lp + 2.5; low_use: 0.45 - active_ratio; high_use: active_ratio - 0.5


DEFAULT_SIM_PLAYS = (
    SimPlay("rescue_call", "csm", "meeting", save=0.0, save_at_risk=0.6, pick=(-1.0, 1.5), signal="risk"),
    SimPlay("training_session", "csm", "webinar", save=0.4, save_at_risk=0.4, pick=(-1.2, 4.0), signal="low_use"),
    SimPlay("usage_tips", "marketing_automation", "newsletter", save=0.0, save_at_risk=0.0, pick=(-1.5, 2.5),
            signal="high_use"),
)


@dataclass(frozen=True)
class PlaySettings:
    """Campaigns of plays in the simulated world (see the module docstring)."""

    plays: tuple[SimPlay, ...] = field(default_factory=lambda: DEFAULT_SIM_PLAYS)
    first_month: int = 4  # the first campaign is dated the start of this month (0 = the first simulated month)
    every_months: int = 4  # months between campaigns (at least protect_months: one play at a time per account)
    protect_months: int = 4  # churn decisions a saving play prevents (month ends from the campaign on)
    holdout: float = 0.0  # share of the accounts a rule picks that are held out at random (0: no holdout)
    holdout_campaigns: tuple[int, ...] | None = None  # campaigns (0, 1, ...) that hold out; None: every one
    at_risk_hazard: float = 0.05  # true monthly hazard from which an account is "at risk"
    follow_months: int = 3  # no campaign with fewer months than this left to observe its outcome

    def check(self) -> None:
        if not self.plays:
            raise ValueError("plays: at least one play")
        if len({p.id for p in self.plays}) != len(self.plays):
            raise ValueError("plays: play ids must be unique")
        for p in self.plays:
            if p.signal not in SIGNALS:
                raise ValueError(f"play {p.id}: signal must be one of {SIGNALS}, not {p.signal!r}")
            if not (0 <= p.save <= 1 and 0 <= p.save_at_risk <= 1):
                raise ValueError(f"play {p.id}: save shares lie in [0, 1]")
        if not 0 <= self.holdout < 1:
            raise ValueError(f"holdout must lie in [0, 1), not {self.holdout!r}")
        if self.protect_months < 1 or self.every_months < self.protect_months:
            raise ValueError("every_months must be at least protect_months (>= 1): one play at a time per account")
        if self.first_month < 1 or self.follow_months < 1:
            raise ValueError("first_month and follow_months must be at least 1")

    def describe(self) -> dict:
        """The settings and the true effects, for ``truth.json``."""
        return {
            "description": (
                "Campaigns at the start of month first_month + k * every_months; each account alive with a "
                "positive hazard gets at most one play, considered in order, with probability "
                "sigmoid(a + b * signal) from its behaviour in the last 28 days as the panel measures it (risk: "
                "the hazard formula's linear predictor on those measurements + 2.5; low_use: 0.45 - "
                "active_users_28d / seats; high_use: active_users_28d / seats - 0.5). A play changes no "
                "behaviour: an account that got it and drew saved ~ Bernoulli(save, or save_at_risk when its "
                "true monthly hazard >= at_risk_hazard) does not churn during the protect_months churn decisions "
                "from the campaign on (a churn dated on the campaign day is not prevented). With holdout > 0 "
                "each picked account is held out at random with that probability."),
            "plays": [{"id": p.id, "owner": p.owner, "channel": p.channel, "save": p.save,
                       "save_at_risk": p.save_at_risk, "pick": {"a": p.pick[0], "b": p.pick[1], "signal": p.signal},
                       "helps": ("everyone" if p.save > 0 and p.save_at_risk > 0 else
                                 "only at-risk accounts" if p.save_at_risk > 0 else
                                 "only accounts not at risk" if p.save > 0 else "nobody")}
                      for p in self.plays],
            "first_month": self.first_month, "every_months": self.every_months,
            "protect_months": self.protect_months, "holdout": self.holdout,
            "holdout_campaigns": list(self.holdout_campaigns) if self.holdout_campaigns is not None else "all",
            "at_risk_hazard": self.at_risk_hazard,
            "files": {"plays.csv": "the play log (contract table plays)",
                      "play_truth.parquet": "per campaign and account alive at it: play, arm, at_risk, hazard (true, "
                                            "month just ended), risk_signal (the hazard formula on the last 28 "
                                            "days as the panel measures them), active_ratio_28d, "
                                            "churn_date_no_play (within the protection window), known_until, "
                                            "saved_<play>; see engage_models.demo.plays.potential_outcomes"},
        }


_DAY = np.timedelta64(1, "D")


class PlayState:
    """The plays of one simulation run: campaigns, protection, the log and the truth (driven by the simulator)."""

    def __init__(self, settings: PlaySettings, n: int, seed: int, month_starts: np.ndarray):
        settings.check()
        self.s = settings
        self.rng = np.random.default_rng([seed, 0x504C4159])  # its own stream: the world's draws stay in order
        self.month_starts = month_starts
        self.months = len(month_starts) - 1
        self.prot_last = np.full(n, -1)  # last protected churn decision (month index)
        self.prot_saved = np.zeros(n, dtype=bool)
        self.prot_from = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")  # the campaign date
        self.campaigns: list[dict] = []
        self.log: list[pd.DataFrame] = []
        self.pending_touch: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = []
        self.n_logged = 0
        self.n = n
        self._events = None  # (accounts, users, features) of events in the 28 days before a campaign
        self._tickets = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype="datetime64[s]"))

    def note_events(self, accounts: np.ndarray, users: np.ndarray, features: np.ndarray) -> None:
        """Events of the 28 days before the coming campaign (``features`` -1 for events without one)."""
        self._events = (accounts, users, features)

    def note_tickets(self, accounts: np.ndarray, opened: np.ndarray) -> None:
        """Tickets opened this month (the campaign keeps those of its last 28 days)."""
        self._tickets = (accounts, opened)

    def _last_28_days(self, date, seats: np.ndarray, n_features: int):
        """Active users / seats, features used / features and tickets opened in the 28 days before ``date``."""
        n = self.n
        acc, users, feats = self._events if self._events is not None else (np.zeros(0, np.int64),) * 3
        active = np.bincount(acc[np.unique(users, return_index=True)[1]], minlength=n) if len(users) else np.zeros(n)
        has = feats >= 0
        pairs = np.unique(np.stack([acc[has], feats[has]]), axis=1) if has.any() else np.zeros((2, 0), np.int64)
        used = np.bincount(pairs[0], minlength=n)
        a, opened = self._tickets
        recent = (opened >= date - np.timedelta64(28, "D")) & (opened < date)
        tickets = np.bincount(a[recent], minlength=n)
        self._events = None
        ratio = np.divide(active, seats, out=np.zeros(n), where=seats > 0)
        return ratio, used / n_features, tickets

    def is_campaign(self, t: int) -> bool:
        """Whether a campaign is dated at the end of month ``t`` (the start of month ``t + 1``)."""
        m = t + 1
        s = self.s
        return m >= s.first_month and (m - s.first_month) % s.every_months == 0 and m + s.follow_months <= self.months

    def campaign(self, t: int, alive: np.ndarray, h: np.ndarray, seats: np.ndarray, nps_latest: np.ndarray,
                 segment: np.ndarray, hazard, n_features: int = 10) -> None:
        """Pick plays at the start of month ``t + 1`` (before month ``t``'s churn decisions) from the behaviour
        of the last 28 days as the panel measures it; ``h`` is the true hazard (eligibility, risk tier)."""
        if not self.is_campaign(t):
            return
        s, rng = self.s, self.rng
        date = self.month_starts[t + 1]
        ratio, breadth, tickets = self._last_28_days(date, seats, n_features)
        nps_c = np.nan_to_num(nps_latest - 7.0, nan=0.0)
        lp = hazard.linear_predictor(ratio, breadth, tickets, nps_c, segment)
        active_ratio = ratio
        idx = np.flatnonzero(alive & (h > 0))
        n_plays = len(s.plays)
        at_risk = h[idx] >= s.at_risk_hazard
        signal = {"risk": lp[idx] + 2.5, "low_use": 0.45 - active_ratio[idx], "high_use": active_ratio[idx] - 0.5}
        chosen = np.full(len(idx), -1)
        draws = rng.random((len(idx), n_plays))
        for k, p in enumerate(s.plays):
            prob = sigmoid(p.pick[0] + p.pick[1] * signal[p.signal])
            chosen[(chosen < 0) & (draws[:, k] < prob)] = k
        save_p = np.array([[p.save, p.save_at_risk] for p in s.plays])  # play x (not at risk, at risk)
        saved = rng.random((len(idx), n_plays)) < save_p[:, at_risk.astype(int)].T
        picked = chosen >= 0
        design = s.holdout > 0 and (s.holdout_campaigns is None or len(self.campaigns) in s.holdout_campaigns)
        held = picked & (rng.random(len(idx)) < s.holdout) if design else np.zeros(len(idx), dtype=bool)
        done = picked & ~held
        a = idx[done]
        self.prot_last[a] = t + s.protect_months - 1
        self.prot_saved[a] = saved[done, chosen[done]]
        self.prot_from[a] = date
        last = t + s.protect_months - 1
        known_until = self.month_starts[min(last + 2, self.months)]
        pos = np.full(len(alive), -1)
        pos[idx] = np.arange(len(idx))
        self.campaigns.append({"t": t, "last": last, "date": date, "idx": idx, "pos": pos, "chosen": chosen,
                               "held": held, "done": done, "at_risk": at_risk, "hazard": h[idx], "lp": lp[idx],
                               "active_ratio": active_ratio[idx], "saved": saved, "known_until": known_until,
                               "d0": np.full(len(idx), np.datetime64("NaT"), dtype="datetime64[s]")})
        rows = np.flatnonzero(picked)
        ids = np.array([f"P{self.n_logged + i + 1:07d}" for i in range(len(rows))], dtype=object)
        self.n_logged += len(rows)
        plays = np.array([p.id for p in s.plays], dtype=object)
        owners = np.array([p.owner for p in s.plays], dtype=object)
        self.log.append(pd.DataFrame({
            "play_id": ids, "account": idx[rows], "play": plays[chosen[rows]],
            "date": pd.Timestamp(date).strftime("%Y-%m-%d"), "owner": owners[chosen[rows]],
            "status": np.where(held[rows], "skipped", "done"),
            "holdout": held[rows] if design else np.full(len(rows), None, dtype=object),
            "note": np.where(held[rows], "held out (randomised)", ""),
        }))
        channels = np.array([p.channel for p in s.plays], dtype=object)
        seconds = (rng.random(len(a)) * 8 * 3600).astype(np.int64)  # during the working day of the campaign
        when = date + np.timedelta64(10 * 3600, "s") + seconds * np.timedelta64(1, "s")
        self.pending_touch.append((a, when, channels[chosen[done]], ids[np.isin(rows, np.flatnonzero(done))]))

    def decide(self, t: int, would: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """Of the accounts ``would`` that churn at the end of month ``t`` without a play (on ``dates``), record the
        would-be dates for the open campaigns and return which really churn (saved ones are kept)."""
        for c in self.campaigns:
            if c["t"] <= t <= c["last"]:
                p = c["pos"][would]
                ok = p >= 0
                first = ok.copy()
                first[ok] = np.isnat(c["d0"][p[ok]])
                c["d0"][p[first]] = dates[first]
        protected = (self.prot_last[would] >= t) & self.prot_saved[would] & (dates > self.prot_from[would])
        return ~protected

    def take_touchpoints(self) -> list[tuple[np.ndarray, np.ndarray, str, np.ndarray]]:
        out, self.pending_touch = self.pending_touch, []
        return out

    def finish(self, out: Path, account_ids: np.ndarray) -> dict:
        """Write ``plays.csv`` and ``play_truth.parquet``; return the truth.json section."""
        cols = ["play_id", "account_id", "play", "date", "owner", "status", "holdout", "note"]
        if self.log:
            log = pd.concat(self.log, ignore_index=True)
            log.insert(1, "account_id", account_ids[log.pop("account").to_numpy()])
        else:
            log = pd.DataFrame(columns=cols)
        log[cols].to_csv(out / "plays.csv", index=False)
        plays = [p.id for p in self.s.plays]
        frames = []
        for c in self.campaigns:
            idx = c["idx"]
            frame = pd.DataFrame({
                "account_id": account_ids[idx], "date": pd.Timestamp(c["date"], tz="UTC"),
                "play": np.where(c["chosen"] >= 0, np.array(plays, dtype=object)[np.maximum(c["chosen"], 0)], None),
                "arm": np.where(c["done"], "done", np.where(c["held"], "held_out", None)),
                "at_risk": c["at_risk"], "hazard": c["hazard"], "risk_signal": c["lp"],
                "active_ratio_28d": c["active_ratio"],
                "churn_date_no_play": pd.to_datetime(c["d0"]).tz_localize("UTC"),
                "known_until": pd.Timestamp(c["known_until"], tz="UTC"),
            })
            for k, pid in enumerate(plays):
                frame[f"saved_{pid}"] = c["saved"][:, k]
            frames.append(frame)
        truth = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        truth.to_parquet(out / "play_truth.parquet", index=False)
        realised = {}
        if len(truth):
            for pid in plays:
                po = potential_outcomes(truth, pid, horizon_days=90)
                got = po[po["play"] == pid]
                realised[pid] = {
                    "accounts_picked": int(len(got)), "done": int((got["arm"] == "done").sum()),
                    "held_out": int((got["arm"] == "held_out").sum()),
                    "effect_90d_among_picked": float((got["y1"] - got["y0"]).mean()) if len(got) else None,
                    "churn_90d_without_play_among_picked": float(got["y0"].mean()) if len(got) else None,
                }
        return {**self.s.describe(), "campaigns": [pd.Timestamp(c["date"]).strftime("%Y-%m-%d")
                                                   for c in self.campaigns],
                "log_rows": int(len(log)), "realised": realised}


def potential_outcomes(truth: pd.DataFrame, play: str, horizon_days: int) -> pd.DataFrame:
    """Both potential outcomes of churn within ``horizon_days`` of the campaign date, for play ``play``.

    ``truth`` is ``play_truth.parquet``. ``y0``: churn (``end_date <= date + horizon``) without any play; ``y1``:
    with ``play``. Without a play the account churns on ``churn_date_no_play``; with it, that churn is prevented
    when the account is saved by the play and the date is after the campaign day. Both are NaN when the
    horizon runs past ``known_until`` (the counterfactual is not known there).

    >>> t = pd.DataFrame({"account_id": ["a", "b", "c"], "date": pd.Timestamp("2024-05-01", tz="UTC"),
    ...                   "churn_date_no_play": pd.to_datetime([None, "2024-06-10", "2024-05-01"], utc=True),
    ...                   "known_until": pd.Timestamp("2024-09-01", tz="UTC"), "saved_x": [True, True, True]})
    >>> potential_outcomes(t, "x", 90)[["y0", "y1"]].to_numpy().tolist()
    [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    """
    end = truth["date"] + pd.Timedelta(days=horizon_days)
    d0 = truth["churn_date_no_play"]
    y0 = (d0.notna() & (d0 <= end)).to_numpy(dtype=float)
    prevented = truth[f"saved_{play}"].to_numpy(dtype=bool) & (d0 > truth["date"]).fillna(False).to_numpy()
    y1 = np.where(prevented, 0.0, y0)
    known = (end <= truth["known_until"]).to_numpy()
    return truth.assign(y0=np.where(known, y0, np.nan), y1=np.where(known, y1, np.nan))
