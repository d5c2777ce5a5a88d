"""Paths through lifecycle stages, month to month, and the flow diagram that draws them.

The lifecycle stage of an account at an observation date is the playbook's (:func:`engage_models.actions.
assign_stage`: onboarding, adoption, mature, at risk, expansion candidate), from the panel's metrics at
that date and the health score and band of the health stage's score history (each date scored by a model
fitted on what was known then; ``health.history_dates`` sets how many dates), exactly as the action list
assigns them at the latest date.

:func:`stage_paths` follows the accounts that were customers at the first of a few consecutive dates:
their stage at each date, or ``churned`` once they have left. The most common paths are counted
(:func:`common_paths`) and drawn as an alluvial diagram (:func:`plot_flow`: one column of stacked stages per
date, bands between columns as wide as the number of accounts moving), with matplotlib alone, so the HTML
report stays a page without scripts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.i18n import fmt_date, t
from .._core.plots import new_ax

#: States of a path, in the order the flow diagram stacks them (top to bottom).
STATES = ("onboarding", "adoption", "mature", "expansion", "at_risk", "churned")
STATE_COLOURS = {"onboarding": "#56b4e9", "adoption": "#0072b2", "mature": "#009e73", "expansion": "#cc79a7",
                 "at_risk": "#e69f00", "churned": "#d55e00", "left": "#999999"}
LABELS = ("churned_within_h", "duration_days", "event")


def lifecycle_stages(scores: pd.DataFrame, panel: pd.DataFrame, playbook=None, currency: str | None = None
                     ) -> pd.DataFrame:
    """Stage per (account, date) of the health ``scores`` (``account_id``, ``as_of``, ``score``, ``band``...),
    with the panel's metrics of the same dates, by the playbook's stage rules."""
    from ..actions import assign_stage, prepare

    s = scores.copy()
    s["as_of"] = pd.to_datetime(s["as_of"], utc=True)
    p = panel.drop(columns=[c for c in LABELS if c in panel.columns])
    p = p.assign(as_of=pd.to_datetime(p["as_of"], utc=True))
    metrics = [c for c in p.columns if c not in s.columns or c in ("account_id", "as_of")]
    scored = s.merge(p[metrics], on=["account_id", "as_of"], how="left")
    staged = assign_stage(prepare(scored), playbook, currency)
    return staged[["account_id", "as_of", "score", "band", "stage"]].reset_index(drop=True)


def stage_paths(stages: pd.DataFrame, accounts: pd.DataFrame, dates) -> pd.DataFrame:
    """One row per account that was a customer at ``dates[0]``: its state at each date (a column per date,
    ``s0, s1, ...``) and the ``path`` in words (``adoption > at_risk > churned``).

    A state is the account's stage at that date; once it has no stage, ``churned`` when it left by then
    (``accounts.end_date``), else ``left`` (no longer observed).
    """
    dates = [pd.Timestamp(d) for d in dates]
    st = stages.copy()
    st["as_of"] = pd.to_datetime(st["as_of"], utc=True)
    first = st[st["as_of"] == dates[0]]
    ids = pd.Index(first["account_id"].unique())
    end = pd.to_datetime(accounts.drop_duplicates("account_id").set_index("account_id")["end_date"], utc=True)
    end = end.reindex(ids)
    out = pd.DataFrame({"account_id": ids})
    for i, d in enumerate(dates):
        now = st[st["as_of"] == d].drop_duplicates("account_id").set_index("account_id")["stage"].reindex(ids)
        gone = np.where(end.notna() & (end <= d), "churned", "left")
        out[f"s{i}"] = np.where(now.notna(), now.to_numpy(dtype=object), gone)
    out["path"] = out[[f"s{i}" for i in range(len(dates))]].agg(" > ".join, axis=1)
    out.attrs["dates"] = [d.isoformat() for d in dates]
    return out


def common_paths(paths: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` most common paths with their accounts and share of the cohort (ties by path)."""
    g = paths.groupby("path").size().rename("accounts").reset_index()
    g["share"] = g["accounts"] / len(paths)
    g = g.sort_values(["accounts", "path"], ascending=[False, True], kind="stable").head(n)
    return g.reset_index(drop=True)


def transitions(paths: pd.DataFrame) -> pd.DataFrame:
    """Accounts moving from each state to each state between consecutive dates: ``step`` (0-based),
    ``from``, ``to``, ``accounts``."""
    cols = sorted((c for c in paths.columns if c[:1] == "s" and c[1:].isdigit()), key=lambda c: int(c[1:]))
    rows = []
    for i in range(len(cols) - 1):
        g = paths.groupby([cols[i], cols[i + 1]]).size()
        rows += [{"step": i, "from": a, "to": b, "accounts": int(n)} for (a, b), n in g.items()]
    return pd.DataFrame(rows, columns=["step", "from", "to", "accounts"])


def _order(states) -> list[str]:
    known = [s for s in (*STATES, "left") if s in set(states)]
    return known + sorted(set(states) - set(known))


def _state_label(state: str, lang: str) -> str:
    key = f"stage.{state}"
    text = t(key, lang)
    return text if text != key else t(f"journey.{state}", lang)


def plot_flow(moves: pd.DataFrame, dates, ax=None, lang: str = "en", gap: float = 0.02):
    """Alluvial diagram of :func:`transitions`: stacked states per date, bands as wide as the moves."""
    ax = new_ax(ax, figsize=(11, 5.5))
    steps = sorted(moves["step"].unique()) if len(moves) else []
    if not steps:
        ax.set_axis_off()
        return ax
    n_cols = len(steps) + 1
    total = moves.loc[moves["step"] == steps[0], "accounts"].sum()
    states = _order(pd.concat([moves["from"], moves["to"]]))
    # heights of each state at each column (fractions of the cohort)
    height = np.zeros((n_cols, len(states)))
    for s in steps:
        m = moves[moves["step"] == s]
        for j, st in enumerate(states):
            height[s, j] = m.loc[m["from"] == st, "accounts"].sum() / total
            height[s + 1, j] = m.loc[m["to"] == st, "accounts"].sum() / total
    top = np.zeros((n_cols, len(states)))  # top of each state's block, stacking downward from 1 + gaps
    for c in range(n_cols):
        y = 1.0 + gap * (len(states) - 1)
        for j in range(len(states)):
            top[c, j] = y
            y -= height[c, j] + (gap if height[c, j] > 0 else 0)
    width = 0.06
    xs = np.linspace(0, 1, 50)
    smooth = 3 * xs**2 - 2 * xs**3
    out_used = top.copy()
    in_used = top.copy()
    for s in steps:
        m = moves[moves["step"] == s].rename(columns={"from": "src", "to": "dst"})
        m["fi"] = m["src"].map({st: j for j, st in enumerate(states)})
        m["ti"] = m["dst"].map({st: j for j, st in enumerate(states)})
        for r in m.sort_values(["fi", "ti"], kind="stable").itertuples():
            h = r.accounts / total
            y0, y1 = out_used[s, r.fi], in_used[s + 1, r.ti]
            out_used[s, r.fi] -= h
            in_used[s + 1, r.ti] -= h
            x = s + width / 2 + xs * (1 - width)
            upper = y0 + (y1 - y0) * smooth
            ax.fill_between(x, upper - h, upper, color=STATE_COLOURS.get(r.src, "#999999"), alpha=0.35,
                            linewidth=0)
    for c in range(n_cols):
        for j, st in enumerate(states):
            if height[c, j] <= 0:
                continue
            ax.add_patch(_rect(c - width / 2, top[c, j] - height[c, j], width, height[c, j],
                               STATE_COLOURS.get(st, "#999999")))
            if c in (0, n_cols - 1) and height[c, j] >= 0.02:
                n = int(round(height[c, j] * total))
                ax.text(c + (-width if c == 0 else width), top[c, j] - height[c, j] / 2,
                        f"{_state_label(st, lang)} ({n:,})", ha="right" if c == 0 else "left", va="center",
                        fontsize=8)
    ax.set_xlim(-0.8, n_cols - 0.2)
    ax.set_ylim(min(0.0, top[:, -1].min() - height[:, -1].max()) - 0.02, 1.0 + gap * len(states) + 0.02)
    ax.set_xticks(range(n_cols), [fmt_date(d, lang) for d in list(dates)[:n_cols]])
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return ax


def _rect(x, y, w, h, colour):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, color=colour, linewidth=0)
