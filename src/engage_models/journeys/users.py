"""User personas: the people inside the accounts, clustered on their own use of the product.

Where events carry a ``user_id``, each user of a current customer gets a profile over the last ``days`` days
(the panel's longest window): days active, logins, distinct features used, hours of use, exports, content
views (and, when events carry a device, the share from a phone, which describes but is not clustered on).
Users with no event in the window are *inactive*: they are counted in their account's mix, not clustered
(a cluster of zeros says nothing about behaviour). Tickets and community posts carry no user in the data
contract, so they cannot be attributed to a person and are left out.

The clustering is the account personas' (:class:`~engage_models.journeys.personas.PersonaModel`): skew-aware
scaling, k-means with ``k`` chosen by silhouette among bootstrap-stable solutions, the bootstrap resampling
whole *accounts* (users of one account are alike, so resampling users one by one would overstate the
stability); names kept through the same registry file (section ``user_personas``). Each account then has a
*mix*: how many of its users are in each user persona, and how many are inactive ("1 of user persona 1, 9 of
user persona 2, 3 inactive").

Examples
--------
>>> import pandas as pd
>>> mix = pd.DataFrame({"account_id": ["A", "A", "A", "B"], "user_persona": ["1", "2", "2", "inactive"],
...                     "users": [1, 9, 0, 4]})
>>> mix_text(mix[mix["account_id"] == "A"], {1: "power users", 2: "readers"})
'9 readers (User persona 2); 1 power users (User persona 1)'
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .._core.i18n import t
from .._core.io import parquet_columns, parquet_source
from .._core.time import to_utc
from .reasons import Thin

#: Per-user measures the user personas are clustered on (one person's behaviour over the window).
USER_METRICS = ("user_active_days", "user_logins", "user_features", "user_hours", "user_exports",
                "user_content_views")
#: Measures that describe the user personas (those of the fit and the share of events from a phone).
USER_PROFILE = (*USER_METRICS, "user_mobile_share")
INACTIVE = "inactive"


def user_metrics(processed: str | Path, as_of, days: int = 90, accounts=None) -> pd.DataFrame:
    """One row per user with at least one event in ``[as_of - days, as_of)``: ``account_id``, ``user_id`` and
    the :data:`USER_PROFILE` measures (``user_features``, ``user_hours`` and ``user_mobile_share`` are missing
    when the events have no ``feature``, ``duration_s`` or ``device`` column). ``accounts``: keep those only.

    Raises :class:`~engage_models.journeys.reasons.Thin` when the events carry no user.
    """
    path = Path(processed) / "events.parquet"
    if not path.exists():
        raise Thin("pj.why.no_table", source="events")
    cols = set(parquet_columns(path))
    if "user_id" not in cols:
        raise Thin("pj.why.no_user_ids")
    as_of = to_utc(as_of)
    exprs = {"user_active_days": "count(DISTINCT CAST(timestamp AS DATE))",
             "user_logins": "count_if(event_type = 'login')",
             "user_features": "count(DISTINCT feature)" if "feature" in cols else "NULL",
             # summed as decimals: a sum of doubles depends on the order DuckDB's threads add them (740 of
             # 190,542 users' hours differed between two runs on the same 16,000-account data)
             "user_hours": ("CAST(sum(CAST(coalesce(duration_s, 0) AS DECIMAL(38, 6))) AS DOUBLE) / 3600.0"
                            if "duration_s" in cols else "NULL"),
             "user_exports": "count_if(event_type = 'export')",
             "user_content_views": "count_if(event_type = 'content_view')",
             "user_mobile_share": ("avg(CASE WHEN device IS NULL THEN NULL WHEN lower(device) = 'mobile' THEN 1.0 "
                                   "ELSE 0.0 END)") if "device" in cols else "NULL"}
    sql = (f"SELECT account_id, user_id, {', '.join(f'{v} AS {k}' for k, v in exprs.items())} "
           "FROM read_parquet($p,"
           " hive_partitioning = false) WHERE user_id IS NOT NULL AND timestamp >= $lo AND timestamp < $hi "
           "GROUP BY account_id, user_id ORDER BY account_id, user_id")
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")  # a day is a UTC day (DuckDB's default is the machine's zone)
        df = con.execute(sql, {"p": parquet_source(path), "lo": as_of - pd.Timedelta(days=days), "hi": as_of}).df()
    if accounts is not None:
        df = df[df["account_id"].isin(set(accounts))].reset_index(drop=True)
    for c in USER_PROFILE:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    if df.empty:
        raise Thin("pj.why.no_user_ids")
    return df


def sample_accounts(users: pd.DataFrame, max_users: int, seed: int = 0) -> pd.DataFrame:
    """``users`` when they are at most ``max_users``; else the users of whole accounts drawn at random (in a
    seeded order) until the next account would pass ``max_users`` (the clustering's bootstrap resamples
    accounts, so a sample keeps every account's users together)."""
    if len(users) <= max_users:
        return users
    counts = users.groupby("account_id").size()
    order = np.random.default_rng(seed).permutation(counts.index.to_numpy())
    keep = order[np.cumsum(counts.loc[order].to_numpy()) <= max_users]
    return users[users["account_id"].isin(set(keep))]


def seated_users(processed: str | Path, as_of, accounts=None) -> pd.DataFrame:
    """The users on the books at ``as_of`` (created before it, not deactivated by then): ``account_id``,
    ``user_id``; empty without a users table."""
    path = Path(processed) / "users.parquet"
    if not path.exists():
        return pd.DataFrame(columns=["account_id", "user_id"])
    u = pd.read_parquet(path)
    as_of = to_utc(as_of)
    keep = pd.Series(True, index=u.index)
    if "created_at" in u:
        created = pd.to_datetime(u["created_at"], utc=True)
        keep &= created.isna() | (created < as_of)
    if "deactivated_at" in u:
        gone = pd.to_datetime(u["deactivated_at"], utc=True)
        keep &= gone.isna() | (gone >= as_of)
    u = u.loc[keep, ["account_id", "user_id"]]
    if accounts is not None:
        u = u[u["account_id"].isin(set(accounts))]
    return u.reset_index(drop=True)


def mix(users: pd.DataFrame, persona: pd.Series, seated: pd.DataFrame | None = None) -> pd.DataFrame:
    """Users per account and user persona (long: ``account_id``, ``user_persona`` as text, ``users``); the
    seated users with no event in the window count as ``inactive``."""
    active = users[["account_id", "user_id"]].assign(user_persona=np.asarray(persona).astype(int).astype(str))
    parts = [active]
    if seated is not None and len(seated):
        idle = seated[~seated["user_id"].isin(set(active["user_id"]))]
        parts.append(idle.assign(user_persona=INACTIVE))
    allu = pd.concat(parts, ignore_index=True)
    return (allu.groupby(["account_id", "user_persona"]).size().rename("users").reset_index()
            .sort_values(["account_id", "user_persona"], kind="stable").reset_index(drop=True))


def mix_text(account_mix: pd.DataFrame, words: dict | None = None, lang: str = "en") -> str:
    """One account's mix in words, largest first ("9 readers (User persona 2); 1 power users (User persona 1)")."""
    words = words or {}
    rows = account_mix[account_mix["users"] > 0].sort_values(["users", "user_persona"], ascending=[False, True],
                                                               kind="stable")
    parts = []
    for r in rows.itertuples():
        if r.user_persona == INACTIVE:
            parts.append(t("pj.users.mix_inactive", lang, n=int(r.users)))
        else:
            p = int(r.user_persona)
            name = t("pj.users.name", lang, n=p)
            what = words.get(p)
            parts.append(t("pj.users.mix_part", lang, n=int(r.users), what=what, name=name) if what
                         else t("pj.users.mix_part_plain", lang, n=int(r.users), name=name))
    return t("pj.users.mix_sep", lang).join(parts)


def by_account_persona(user_mix: pd.DataFrame, account_persona: pd.Series) -> pd.DataFrame:
    """Per account persona and user persona: the share of the account persona's users (pooled) and the mean
    over its accounts of the share within each account (``account_persona``: persona by account_id)."""
    m = user_mix.merge(account_persona.rename("persona").rename_axis("account_id").reset_index(), on="account_id")
    if m.empty:
        return pd.DataFrame(columns=["persona", "user_persona", "users", "share", "mean_account_share"])
    wide = m.pivot_table(index=["persona", "account_id"], columns="user_persona", values="users", aggfunc="sum",
                         fill_value=0)
    within = wide.div(wide.sum(axis=1), axis=0)
    rows = []
    for p, g in wide.groupby(level="persona"):
        tot = g.to_numpy().sum()
        for up in wide.columns:
            rows.append({"persona": int(p), "user_persona": str(up), "users": int(g[up].sum()),
                         "accounts": int(len(g)), "share": float(g[up].sum() / tot) if tot else np.nan,
                         "mean_account_share": float(within.loc[p, up].mean())})
    return pd.DataFrame(rows)
