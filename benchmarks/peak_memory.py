"""Peak resident memory of a process, in MiB, for the benchmarks that time work in a fresh child process.

The scripts in this folder run as files (``python benchmarks/bench_x.py``), so Python puts this folder first
on ``sys.path`` and ``from peak_memory import peak_mib`` finds this module; a script loaded some other way (a
test importing it by path) puts the folder on ``sys.path`` itself first.

``VmHWM`` in ``/proc/<pid>/status`` starts afresh at exec. ``ru_maxrss`` does not: a child started by
``subprocess`` reports at least its parent's peak, so the child processes all showed the parent's figure
whenever it was the largest. Outside Linux this process falls back to ``ru_maxrss`` (approximate: kilobytes on
Linux, bytes on macOS); another process there reads 0.
"""

from __future__ import annotations

from pathlib import Path


def peak_mib(pid: int | str = "self") -> float:
    """Peak resident memory (``VmHWM``) of process ``pid`` (default this one) in MiB; 0 for another process
    whose status cannot be read (it has exited, or this is not Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    if pid != "self":
        return 0.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # elsewhere: kilobytes on Linux, approx.
