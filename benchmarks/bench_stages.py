"""Each pipeline stage's time and peak memory on worlds of growing size, and how each grows with accounts.

For every size a world is simulated once into ``data/bench/stages-<accounts>x<months>/raw`` (reused afterwards;
``--data`` names another folder than ``data/bench``) and the whole pipeline (``engage_models.pipeline.run``:
ingest to summary, no notebooks) runs on it in a fresh child process with an empty artifact store, so nothing is
read back from an earlier run. The child samples its resident memory (its own and its worker processes', every
50 ms) and records when each stage starts and ends.
Printed per stage and size: seconds, seconds as a ratio to the panel stage of the same run (what travels
between machines), peak resident memory, and the cores it kept busy (the machine's busy CPU seconds per
second, from ``/proc/stat``: run it on an otherwise idle machine); per stage, the exponent ``b`` of
``seconds ~ accounts^b`` fitted by least squares on the log scale (1 is linear; above 1 grows faster than the
accounts).

Usage::

    python benchmarks/bench_stages.py                               # 500, 1000, 2000 accounts x 24 months
    python benchmarks/bench_stages.py --accounts 2000 16000 50000   # the issue's sizes (50,000: ~150M events)
    python benchmarks/bench_stages.py --accounts 1000 --json        # one line of JSON per size
    python benchmarks/bench_stages.py --accounts 16000 --reports    # the whole `engage run`, reports included
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def ensure_world(accounts: int, months: int, seed: int, bench: Path = ROOT / "data" / "bench") -> Path:
    """``<bench>/stages-<accounts>x<months>`` with a simulated raw folder (generated once)."""
    folder = bench / f"stages-{accounts}x{months}"
    if not (folder / "raw" / "truth.json").exists():  # written last by the simulator
        from engage_models.demo.simulator import simulate

        print(f"simulating {accounts:,} accounts x {months} months into {folder} ...", file=sys.stderr, flush=True)
        simulate(out=folder / "raw", n_accounts=accounts, months=months, seed=seed, inject_defects=False)
    return folder


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = [int(k) for k in kids]
    for k in list(out):
        out.extend(_children(k))
    return out


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (``/proc/stat``: every state but idle and iowait):
    on an otherwise idle machine, the difference over a stage is the CPU time the stage used, its workers and
    threads included, and that over the stage's seconds is how many cores it kept busy."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    ticks = [int(v) for v in fields]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class MemorySampler(threading.Thread):
    """Resident memory of this process and its descendants (joblib workers), and the machine's busy CPU
    seconds, sampled every ``every`` s."""

    def __init__(self, every: float = 0.05):
        super().__init__(daemon=True)
        self.every, self.samples, self.busy, self._done = every, [], [], threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self._done.is_set():
            self.samples.append((time.perf_counter(), sum(_rss_mb(p) for p in [me, *_children(me)])))
            self.busy.append((time.perf_counter(), _busy_seconds()))
            time.sleep(self.every)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def peak(self, t0: float, t1: float) -> float:
        inside = [mb for t, mb in self.samples if t0 <= t <= t1]
        return max(inside, default=0.0)

    def cores(self, t0: float, t1: float) -> float | None:
        """Busy CPU seconds per second between ``t0`` and ``t1`` (2.0: both of two cores busy throughout)."""
        inside = [(t, b) for t, b in self.busy if t0 <= t <= t1]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def run_child(folder: str, reports: bool = False) -> None:
    """One pipeline run on ``folder`` (its artifacts removed first); prints one JSON line. With ``reports``
    the run is ``engage run`` (the reports executed as their stages are done, then published)."""
    from engage_models import pipeline

    shutil.rmtree(Path(folder) / "artifacts", ignore_errors=True)
    shutil.rmtree(Path(folder) / "processed", ignore_errors=True)
    shutil.rmtree(Path(folder) / "reports", ignore_errors=True)
    sampler = MemorySampler()
    sampler.start()
    marks: dict[str, list[float]] = {}

    def progress(message: str) -> None:
        words = message.split()
        if len(words) >= 2:
            if words[1] != "done" and message.rstrip().endswith("..."):
                marks[words[0]] = [time.perf_counter()]
            elif words[1] == "done" and words[0] in marks:  # not the lines after it ("health model ... kept")
                marks[words[0]].append(time.perf_counter())
        print(message, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    if reports:
        from engage_models.reports.runner import run as engage_run

        result = engage_run(data_dir=folder, out_dir=Path(folder) / "reports", progress=progress, demo=False)
        if result.failed:
            raise SystemExit(f"reports failed: {result.failed}")
        records = {r["name"]: (r["seconds"], r["status"])
                   for r in json.loads((result.folder / "run.json").read_text(encoding="utf-8"))["stages"]}
    else:
        run = pipeline.run({"data_dir": folder}, progress=progress)
        records = {name: (rec.seconds, rec.status) for name, rec in run.records.items()}
    total = time.perf_counter() - t0
    sampler.stop()
    stages = {}
    for name, (seconds, status) in records.items():
        t = marks.get(name, [])
        stages[name] = {"seconds": seconds, "status": status,
                        "peak_rss_mb": sampler.peak(t[0], t[-1]) if len(t) == 2 else None,
                        "cores": sampler.cores(t[0], t[-1]) if len(t) == 2 else None}
    if reports and len(marks.get("summary", [])) == 2:  # what the reports add after the last stage
        stages["reports"] = {"seconds": t0 + total - marks["summary"][1], "status": "after the pipeline",
                             "peak_rss_mb": sampler.peak(marks["summary"][1], t0 + total),
                             "cores": sampler.cores(marks["summary"][1], t0 + total)}
    print(json.dumps({"total_seconds": total, "peak_rss_mb": max((mb for _, mb in sampler.samples), default=0.0),
                      "cores": sampler.cores(t0, t0 + total), "stages": stages}))


def exponent(sizes, seconds) -> float:
    """Least-squares slope of log(seconds) on log(accounts).

    >>> round(exponent([1000, 2000, 4000], [1.0, 2.0, 4.0]), 6)
    1.0
    """
    x, y = np.log(np.asarray(sizes, float)), np.log(np.maximum(np.asarray(seconds, float), 1e-3))
    return float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, nargs="+", default=[500, 1000, 2000])
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "bench",
                    help="where the worlds are simulated and run (default data/bench)")
    ap.add_argument("--json", action="store_true", help="one JSON line per size")
    ap.add_argument("--reports", action="store_true",
                    help="time the whole `engage run` (reports included): the row 'reports' is what they add after "
                         "the last stage, the total is the whole run")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_child(args.child, args.reports)
        return
    results = {}
    for n in args.accounts:
        folder = ensure_world(n, args.months, args.seed, args.data)
        child = [sys.executable, __file__, "--child", str(folder), *(["--reports"] if args.reports else [])]
        proc = subprocess.run(child, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"the run at {n} accounts failed:\n{proc.stderr[-3000:]}")
        results[n] = json.loads(proc.stdout.strip().splitlines()[-1])
        if args.json:
            print(json.dumps({"accounts": n, **results[n]}))
    if args.json:
        return
    sizes = sorted(results)
    stages = list(results[sizes[0]]["stages"])
    print(f"{'stage':10s}" + "".join(f"{n:>34,}" for n in sizes) + f"{'exponent':>10s}")
    print(f"{'':10s}" + "".join(f"{'s (x panel) peak MB cores':>34s}" for _ in sizes))
    for st in stages:
        cells, secs = [], []
        for n in sizes:
            r = results[n]["stages"].get(st, {})
            panel = results[n]["stages"].get("panel", {}).get("seconds") or float("nan")
            s, mb, cores = r.get("seconds", float("nan")), r.get("peak_rss_mb"), r.get("cores")
            secs.append(s)
            busy = cores if cores is not None else float("nan")
            cells.append(f"{s:9.1f} ({s / panel:6.1f}) {mb or 0:8.0f} {busy:5.2f}")
        print(f"{st:10s}" + "".join(f"{c:>34s}" for c in cells) + f"{exponent(sizes, secs):10.2f}")
    totals = [results[n]["total_seconds"] for n in sizes]
    print(f"{'total':10s}" + "".join(f"{t:7.1f} s, {results[n]['peak_rss_mb']:5.0f} MB, "
                                      f"{results[n].get('cores') or 0:4.2f} cores".rjust(34)
                                      for t, n in zip(totals, sizes, strict=True))
          + f"{exponent(sizes, totals):10.2f}")


if __name__ == "__main__":
    main()
