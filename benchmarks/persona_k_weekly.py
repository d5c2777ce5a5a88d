"""How much the personas' silhouettes move from week to week on the same accounts, and how far apart the best
numbers of personas are: the evidence for ``personas.keep_k_within`` (0.02).

A simulated world is ingested once; its panel is computed at four quarterly dates and at weekly dates after them;
for each weekly date the personas are fitted as the stage fits them (the quarterly snapshots of the last year and
that date, accounts of at least 90 days) for 2 to 6 personas, without the previous number. Printed per week: the
number chosen, each number's silhouette and stability; then, per number, how far its silhouette moved over the
weeks (max - min) and the gap between the best two stable numbers.

Usage::

    python benchmarks/persona_k_weekly.py                      # 250 accounts, 24 months, seed 7, with personas
    python benchmarks/persona_k_weekly.py --accounts 1000 --seed 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

QUARTERS = ["2024-12-01", "2025-03-01", "2025-06-01", "2025-09-01"]
WEEKS = [f"{d:%Y-%m-%d}" for d in pd.date_range("2025-10-08", "2025-12-31", freq="7D")]


def engage(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "engage_models", *args], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=250)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from engage_models.journeys import personas as PS

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        engage("simulate", "--accounts", str(args.accounts), "--months", "24", "--seed", str(args.seed),
               "--personas", "--out", str(root / "raw"))
        engage("ingest", "--raw", str(root / "raw"), "--out", str(root / "processed"), "--now", "2026-01-01")
        engage("panel", "--processed", str(root / "processed"), "--out", str(root / "panel.parquet"),
               "--as-of", *QUARTERS, *WEEKS)
        pnl = pd.read_parquet(root / "panel.parquet")
    pnl["as_of"] = pd.to_datetime(pnl["as_of"], utc=True)
    metrics = [m for m in PS.metric_columns(PS.DEFAULT_METRICS, (28, 90)) if m in pnl.columns]
    quarters = pd.to_datetime(QUARTERS, utc=True)
    rows = []
    for day in pd.to_datetime(WEEKS, utc=True):
        fit = pnl[pnl["as_of"].isin([*quarters, day]) & (pnl["tenure_days"] >= 90)]
        model = PS.PersonaModel(metrics=metrics, k_range=(2, 6), n_bootstrap=20, random_state=42).fit(
            fit, groups=fit["account_id"])
        sel = model.selection_
        print(f"{day:%Y-%m-%d}  chosen {model.n_personas_}  " + "  ".join(
            f"k{int(r.k)} {r.silhouette:.3f}/{r.stability:.2f}" for r in sel.itertuples()))
        stable = sel[sel["stability"] >= model.min_stability].sort_values("silhouette", ascending=False)
        gap = float(stable["silhouette"].iloc[0] - stable["silhouette"].iloc[1]) if len(stable) > 1 else float("nan")
        rows.append({"date": day, "gap_best_two": gap, **{f"k{int(r.k)}": r.silhouette for r in sel.itertuples()}})
    table = pd.DataFrame(rows)
    ks = [c for c in table if c.startswith("k")]
    print("silhouette moved over the weeks (max - min): " + "  ".join(
        f"{k} {table[k].max() - table[k].min():.3f}" for k in ks))
    print(f"gap between the best two stable numbers: {table['gap_best_two'].min():.3f} to "
          f"{table['gap_best_two'].max():.3f}")


if __name__ == "__main__":
    main()
