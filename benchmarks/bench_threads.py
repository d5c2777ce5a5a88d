"""Gradient boosting with one OpenMP thread against two, same process: why the package runs one (``ONE_THREAD``).

The package's boosting benchmark (``engage_models.health.ChurnGBM``: scikit-learn's HistGradientBoosting, 200
trees of up to 15 leaves) is fitted on a simulated table of ``--rows`` rows and 20 columns (a threshold and a
linear effect), with scikit-learn's OpenMP pool limited to one thread and to two, alternately, ``--repeat`` times
each. Printed per size: each fit's seconds, and the ratio of the medians (one thread over two: above 1, two
threads were faster). Run it once on an idle machine and once beside another job (``--busy 2`` starts two
busy-looping processes for the length of the run): one thread costs little when the cores are free, and two
threads spin when they are not.

Usage::

    python benchmarks/bench_threads.py                     # 4,000, 50,000 and 300,000 rows
    python benchmarks/bench_threads.py --rows 4000 --busy 2 --repeat 1   # minutes: see the README
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def main() -> None:
    from engage_models.health.baselines import ChurnGBM

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[4000, 50000, 300000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--busy", type=int, default=0, help="busy-looping processes beside the fits")
    args = ap.parse_args()
    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        rng = np.random.default_rng(0)
        for n in args.rows:
            X = pd.DataFrame(rng.normal(size=(n, 20)), columns=[f"m{i}" for i in range(20)])
            y = (X["m0"] + np.where(X["m1"] > 1, 1.5, 0) + rng.logistic(size=n) > 1).astype(int)
            seconds: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.repeat):
                for threads in (1, 2):
                    with threadpool_limits(limits=threads, user_api="openmp"):
                        t0 = time.perf_counter()
                        ChurnGBM(date_col="__none", id_col="__none").fit(X, y)
                        seconds[threads].append(time.perf_counter() - t0)
            ratio = np.median(seconds[1]) / np.median(seconds[2])
            print(f"{n:>9,} rows ({args.busy} busy): one thread {', '.join(f'{s:.2f}' for s in seconds[1])} s; "
                  f"two {', '.join(f'{s:.2f}' for s in seconds[2])} s; one over two (medians) {ratio:.2f}", flush=True)
    finally:
        stop.set()
        for p in spinners:
            p.join()


if __name__ == "__main__":
    main()
