"""Long stages: progress a person can see (one bar per stage: its current step, elapsed and remaining), and
how many processes a stage's refits may share (:func:`effective_n_jobs`).

Long loops (bootstrap refits, backtest cutoffs) call :func:`step` as they go; the call costs nothing when no
bar is shown (a scheduled run, a test, a notebook). The pipeline opens a bar per computed stage with
:func:`stage_bar` when it prints to a terminal. The bar is tqdm's: the remaining time is tqdm's estimate from the
rate of the current step (a stage's steps are shown one after the other: "backtest 3/6", then "refits 20/50").

>>> step(1, 10, "refits")       # no bar open: nothing happens
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_REPORTER: ContextVar[Callable[[int, int, str], None] | None] = ContextVar("engage_progress", default=None)


def step(done: int, total: int, what: str = "") -> None:
    """Report that ``done`` of ``total`` units of the step ``what`` are finished (no-op without a bar)."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter(int(done), int(total), what)


@contextmanager
def reporting(reporter: Callable[[int, int, str], None] | None) -> Iterator[None]:
    """Send :func:`step` calls made inside the block to ``reporter(done, total, what)``."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def show_bars(stream=None) -> bool:
    """Bars only on a terminal: a log file or a CI console gets the stage lines alone."""
    stream = stream if stream is not None else sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def stage_bar(name: str, *, enabled: bool, last_seconds: float | None = None, stream=None) -> Iterator[None]:
    """A bar for the stage ``name`` while the block runs (nothing when not ``enabled``).

    ``last_seconds``: how long the stage took when last computed, shown beside the bar as a guide."""
    if not enabled:
        with reporting(None):
            yield
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=1, desc=f"  {name:9s}", file=stream if stream is not None else sys.stderr, leave=False,
               bar_format="{desc} {n_fmt}/{total_fmt} |{bar:20}| {elapsed}<{remaining}{postfix}", dynamic_ncols=True)
    if last_seconds:
        bar.set_postfix_str(f"last time {last_seconds:.0f} s", refresh=False)
    current = {"what": None}

    def report(done: int, total: int, what: str) -> None:
        if what != current["what"] or total != bar.total:
            current["what"] = what
            bar.reset(total=max(total, 1))
            bar.set_description_str(f"  {name:9s} {what}", refresh=False)
        bar.n = min(done, bar.total)
        bar.refresh()

    try:
        with reporting(report):
            yield
    finally:
        bar.close()


#: The threads the package's own work runs with (``threadpool_limits(limits=ONE_THREAD)``: the pipeline's stages,
#: every ``engage`` command, the tests). Parallelism comes from processes (``n_jobs``; joblib gives each worker
#: its share of the cores), not from the libraries' thread pools, which spin on a busy machine:
#: - BLAS: the matrices are small (thousands of rows, tens of columns) and L-BFGS calls BLAS thousands of times;
#:   on two cores shared with another job a health-score fit took 8.8 s with two threads and 0.85 s with one.
#: - OpenMP (scikit-learn's gradient boosting, the benchmark beside every learned score): ``engage fit`` on
#:   nwtco (4,028 rows) took 232 s and 327 s with two threads against 63 s and 86 s with one, on two cores
#:   shared with a test run and two other jobs (6 Dec 2026); a tester saw it pass 10 minutes.
#:   ``benchmarks/bench_threads.py``: on an idle machine one thread takes 1.15 times as long at 4,000 rows and 1.5
#:   times at 50,000; beside two busy processes two threads took 271 s a fit at 4,000 rows, one 0.4-0.7 s.
#:   DuckDB keeps its own threads (its ``threads`` setting).
ONE_THREAD = {"blas": 1, "openmp": 1}


def effective_n_jobs(n_jobs: int | None) -> int:
    """Processes for ``n_jobs`` as joblib counts them: ``None`` 1, ``-1`` every core this process may use,
    ``-2`` all but one, ...

    >>> effective_n_jobs(None), effective_n_jobs(3)
    (1, 3)
    """
    if n_jobs is None or n_jobs == 0:
        return 1
    if n_jobs > 0:
        return int(n_jobs)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores + 1 + int(n_jobs))


def parallel_map(fn: Callable, tasks: list[tuple], n_jobs: int | None) -> list:
    """``[fn(*task) for task in tasks]``, the tasks shared among ``n_jobs`` processes (joblib; ``-1`` every core,
    ``None`` this process), the results in the tasks' order; the workers log as this process does
    (:func:`logged`)."""
    jobs = max(1, min(len(tasks), effective_n_jobs(n_jobs)))
    if jobs == 1:
        return [fn(*task) for task in tasks]
    from joblib import Parallel, delayed

    fn = logged(fn)
    return Parallel(n_jobs=jobs)(delayed(fn)(*task) for task in tasks)


class _Logged:
    """``fn`` run in a worker process whose logging is set up as its parent's (:func:`logged`)."""

    def __init__(self, fn: Callable, level: int, fmt: str | None):
        self.fn, self.level, self.fmt = fn, level, fmt

    def __call__(self, *args, **kwargs):
        import logging

        root = logging.getLogger()
        if not root.handlers:  # a fresh worker (joblib's loky): its parent's level and format, once
            logging.basicConfig(level=self.level, format=self.fmt)
        return self.fn(*args, **kwargs)


def logged(fn: Callable) -> Callable:
    """``fn`` for another process (joblib): there it logs with this process's root level and format. A worker
    has no handler of its own, so Python printed its warnings bare ("calibration slope is negative (-24.3): ..."
    without "WARNING engage_models.health._calibrated:") and ignored the level ``engage -v`` set; unchanged in a
    process that already logs (this one, or a worker set up before).

    >>> logged(len)([1, 2])
    2
    """
    import logging

    root = logging.getLogger()
    fmt = next((h.formatter._fmt for h in root.handlers if h.formatter is not None), None)
    return _Logged(fn, root.level, fmt)
