"""Thin and odd worlds for the sweep: the simulator's world, then one edge made by a setting or by editing a table.

``make_world(root, kind, n_accounts, months, seed)`` writes ``root/raw`` and returns a short description. Every
edge is stated by what it makes true of the raw tables, and :func:`check_edge` asserts that it did (so a
world that silently lost its edge cannot pass the sweep for the wrong reason).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engage_models.demo.simulator import HazardModel, SimConfig, simulate

#: Edge worlds: name -> what it is (the sweep's ids and the report's vocabulary).
EDGES = {
    "plain": "the simulator's world as it comes",
    "no_churn": "no account ever churns",
    "all_churned": "every account has churned by the data end",
    "one_month": "one month of data",
    "zero_event_account": "one current account without a single event",
    "one_answer_segment": "a segment with one NPS answer",
    "no_churner_segment": "a segment without a churner",
    "few_dates": "fewer observation dates than the backtest needs (4 months)",
    "no_surveys": "the surveys table has no rows",
    "no_tickets": "the tickets table has no rows",
    "no_touchpoints": "the touchpoints table has no rows",
}


def sim_config(kind: str, n_accounts: int, months: int, seed: int) -> SimConfig:
    cfg = SimConfig(n_accounts=n_accounts, months=months, seed=seed)
    if kind == "no_churn":
        return SimConfig(n_accounts=n_accounts, months=months, seed=seed, hazard=HazardModel(intercept=-40.0))
    if kind == "no_churner_segment":
        hz = HazardModel(segment={"SMB": 0.35, "Mid-Market": 0.0, "Enterprise": -40.0})
        return SimConfig(n_accounts=n_accounts, months=months, seed=seed, hazard=hz,
                         segment_mix=(0.5, 0.3, 0.2))
    if kind == "one_month":
        return SimConfig(n_accounts=n_accounts, months=1, seed=seed)
    if kind == "few_dates":
        return SimConfig(n_accounts=n_accounts, months=min(months, 4), seed=seed)
    return cfg


def make_world(root: Path, kind: str, n_accounts: int = 150, months: int = 12, seed: int = 1) -> Path:
    """Write the world ``kind`` into ``root/raw``; returns ``root``."""
    if kind not in EDGES:
        raise KeyError(f"no edge world {kind!r} (have: {', '.join(EDGES)})")
    raw = Path(root) / "raw"
    simulate(sim_config(kind, n_accounts, months, seed), out=raw)
    rng = np.random.default_rng(seed)
    if kind == "all_churned":
        accounts = pd.read_csv(raw / "accounts.csv")
        end = pd.Timestamp(pd.read_parquet(raw / "events.parquet", columns=["timestamp"])["timestamp"]
                           .loc[lambda s: s.dt.year < 2090].max()).tz_convert(None).normalize()
        active = accounts["end_date"].isna()
        start = pd.to_datetime(accounts["start_date"])
        days = rng.integers(0, 45, len(accounts))
        when = np.maximum(end - pd.to_timedelta(days, unit="D"), start + pd.Timedelta(days=1))
        accounts.loc[active, "end_date"] = pd.Series(when, index=accounts.index)[active].dt.strftime("%Y-%m-%d")
        accounts.to_csv(raw / "accounts.csv", index=False)
    elif kind == "zero_event_account":
        accounts = pd.read_csv(raw / "accounts.csv")
        current = accounts.loc[accounts["end_date"].isna(), "account_id"].drop_duplicates()
        victim = str(current.iloc[rng.integers(len(current))])
        events = pd.read_parquet(raw / "events.parquet")
        events[events["account_id"] != victim].to_parquet(raw / "events.parquet", index=False)
        (raw / "zero_event_account.txt").write_text(victim, encoding="utf-8")
    elif kind == "one_answer_segment":
        accounts = pd.read_csv(raw / "accounts.csv").drop_duplicates("account_id")
        surveys = pd.read_csv(raw / "surveys.csv")
        seg = surveys["account_id"].map(accounts.set_index("account_id")["segment"])
        nps = (surveys["survey_type"] == "nps") & surveys["score"].between(0, 10)
        ent = surveys.index[nps & (seg == "Enterprise")]
        if len(ent) > 1:
            surveys = surveys.drop(ent[1:])
        surveys.to_csv(raw / "surveys.csv", index=False)
    elif kind in ("no_surveys", "no_tickets"):
        table = kind.removeprefix("no_")
        pd.read_csv(raw / f"{table}.csv").iloc[0:0].to_csv(raw / f"{table}.csv", index=False)
    elif kind == "no_touchpoints":
        pd.read_parquet(raw / "touchpoints.parquet").iloc[0:0].to_parquet(raw / "touchpoints.parquet", index=False)
    return Path(root)


def check_edge(root: Path, kind: str) -> None:
    """Assert that the raw tables of ``root`` really have the edge ``kind``."""
    raw = Path(root) / "raw"
    accounts = pd.read_csv(raw / "accounts.csv").drop_duplicates("account_id")
    churned = accounts["end_date"].notna()
    if kind == "no_churn":
        assert not churned.any()
    elif kind == "all_churned":
        assert churned.all()
    elif kind == "one_month":
        ts = pd.read_parquet(raw / "events.parquet", columns=["timestamp"])["timestamp"]
        ts = ts[ts.dt.year < 2090]  # planted defects: events in 2099
        assert (ts.max() - ts.min()) <= pd.Timedelta(days=31)
    elif kind == "zero_event_account":
        victim = (raw / "zero_event_account.txt").read_text(encoding="utf-8")
        events = pd.read_parquet(raw / "events.parquet", columns=["account_id"])
        assert victim in set(accounts["account_id"]) and not (events["account_id"] == victim).any()
    elif kind == "one_answer_segment":
        surveys = pd.read_csv(raw / "surveys.csv")
        seg = surveys["account_id"].map(accounts.set_index("account_id")["segment"])
        assert ((surveys["survey_type"] == "nps") & (seg == "Enterprise") & surveys["score"].between(0, 10)).sum() <= 1
    elif kind == "no_churner_segment":
        assert not churned[accounts["segment"] == "Enterprise"].any() and churned.any()
    elif kind in ("no_surveys", "no_tickets"):
        assert pd.read_csv(raw / f"{kind.removeprefix('no_')}.csv").empty
    elif kind == "no_touchpoints":
        assert pd.read_parquet(raw / "touchpoints.parquet").empty
