"""Progress on long stages: the steps long loops report reach a bar on a terminal, and nothing else."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from engage_models._core.progress import reporting, show_bars, stage_bar, step


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_steps_reach_the_bar_with_elapsed_and_remaining():
    out = _Terminal()
    with stage_bar("health", enabled=True, last_seconds=27.4, stream=out):
        for i in range(6):
            step(i + 1, 6, "backtest cutoffs")
        for b in range(50):
            step(b + 1, 50, "bootstrap refits")
    text = out.getvalue()
    assert "health" in text and "backtest cutoffs" in text and "bootstrap refits" in text
    assert "6/6" in text and "50/50" in text
    assert "last time 27 s" in text
    assert "<" in text  # tqdm's elapsed<remaining


def test_no_bar_without_a_terminal_and_steps_are_free_without_one():
    assert show_bars(io.StringIO()) is False and show_bars(_Terminal()) is True
    out = _Terminal()
    with stage_bar("health", enabled=False, stream=out):
        step(1, 2, "x")
    assert out.getvalue() == ""
    step(1, 2, "outside any bar")  # no reporter: nothing happens, nothing raised


def test_the_backtest_and_the_refits_report_every_step():
    """Real loops report their steps: the backtest once per cutoff, the health card once per bootstrap refit."""
    from engage_models.health import HealthScore
    from engage_models.health.evaluation import backtest

    rng = np.random.default_rng(0)
    dates = pd.date_range("2024-01-01", periods=8, freq="MS", tz="UTC")
    n = 120
    rows = []
    for d in dates:
        x = rng.normal(size=n)
        rows.append(pd.DataFrame({"account_id": [f"A{i}" for i in range(n)], "as_of": d, "x": x,
                                  "churned_within_h": (rng.random(n) < 1 / (1 + np.exp(2 + 1.5 * x))).astype(float)}))
    panel = pd.concat(rows, ignore_index=True)
    seen = []
    with reporting(lambda done, total, what: seen.append((done, total, what))):
        backtest(panel, {"m": lambda: HealthScore(metrics=["x"], n_bootstrap=0, gap_days=30)}, horizon_days=30,
                 n_cutoffs=3)
        HealthScore(metrics=["x"], n_bootstrap=7, gap_days=30).fit(panel.drop(columns="churned_within_h"),
                                                                   panel["churned_within_h"].astype(int))
    cutoffs = [s for s in seen if s[2] == "backtest fits"]  # one model: a fit per cutoff
    assert [(d, t) for d, t, _ in cutoffs] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert [(d, t) for d, t, w in seen if w == "bootstrap refits"] == [(b, 7) for b in range(8)]


def test_every_command_runs_with_one_blas_and_one_openmp_thread(monkeypatch):
    """``engage fit`` on a 4,028-row table took 232-327 s with scikit-learn's two OpenMP threads on a busy
    machine, against 63-86 s with one (``_core.progress.ONE_THREAD``): the commands limit both pools, and the
    limit ends with the command."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import engage_models.cli as cli
    from engage_models.health.baselines import ChurnGBM  # noqa: F401  (loads scikit-learn's OpenMP runtime)

    def pools():
        return {(p["user_api"], p["num_threads"]) for p in threadpool_info()}

    seen = {}
    monkeypatch.setattr(cli, "_simulate", lambda args: seen.setdefault("pools", pools()) and 0)
    with threadpool_limits(limits=2):  # the test session runs with one thread of each, as the commands do
        before = pools()
        assert {api for api, n in before if n == 2} >= {"blas", "openmp"}, before
        assert cli.main(["simulate"]) == 0
        assert pools() == before  # the limit ends with the command
    assert {api for api, n in seen["pools"]} >= {"blas", "openmp"}
    assert all(n == 1 for _, n in seen["pools"]), seen


def test_a_worker_process_logs_with_its_parents_format_not_bare():
    """"calibration slope is negative (-24.3): ..." came bare, without "WARNING engage_models.health._calibrated:",
    from the backtest's worker processes (joblib's, with no logging set up): now with the parent's format."""
    import subprocess
    import sys

    script = (
        "import logging\n"
        "from engage_models._core.progress import parallel_map\n"
        "def warn(i):\n"
        "    logging.getLogger('engage_models.health._calibrated').warning('slope %d', i)\n"
        "    return i\n"
        "if __name__ == '__main__':\n"
        "    logging.basicConfig(level=logging.WARNING, format='%(levelname)s %(name)s: %(message)s')\n"
        "    print(parallel_map(warn, [(1,), (2,)], 2))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "[1, 2]" in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if "slope" in ln]
    assert sorted(lines) == ["WARNING engage_models.health._calibrated: slope 1",
                             "WARNING engage_models.health._calibrated: slope 2"], proc.stderr
