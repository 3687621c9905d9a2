"""How many cores other processes keep busy now, for the default thread count (archtrain.hardware).

Linux counts every core's busy time since boot in /proc/stat. Two readings, one taken when this
module loads (the start of an archtrain command, before its seconds of imports) and one when the
threads are chosen, less this process's own CPU time between them (resource.getrusage), give the
cores that other processes used in between. Unlike the load average, which lags by a minute, this
does not count processes that have already ended (a benchmark's previous command, a user's
previous job). Torch-free, so that the cli imports it first.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

STAT = Path("/proc/stat")
LOADAVG = Path("/proc/loadavg")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user, nice, system, irq, softirq, steal (not idle, iowait; guest is in user)
SHORTEST_WINDOW_S = 0.5  # below this, two readings are too coarse (ticks of 10 ms) and one instant count is used


@dataclass(frozen=True)
class Reading:
    """Wall-clock seconds, seconds of busy CPU time on this process's cores, and this process's own CPU seconds."""

    wall: float
    busy: float
    own: float


def own_cpu_seconds() -> float:
    """User and system CPU time of this process (all its threads) and of its children that have ended."""
    import resource

    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def busy_seconds(stat_text: str, cores: set[int] | None = None) -> float:
    """Busy CPU seconds since boot in /proc/stat's text, summed over `cores` (None: all of them)."""
    total = 0
    for line in stat_text.splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu" and (cores is None or int(name[3:]) in cores):
            total += sum(int(fields[i]) for i in BUSY_FIELDS if i < len(fields))
    return total / TICKS_PER_SECOND


def read(stat: Path = STAT) -> Reading | None:
    """A reading now; None where the OS keeps no /proc/stat (macOS, Windows)."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return Reading(time.monotonic(), busy_seconds(text, cores), own_cpu_seconds())


def busy_between(before: Reading, after: Reading) -> float:
    """Cores that other processes kept busy on average between two readings."""
    others = (after.busy - before.busy) - (after.own - before.own)
    return max(0.0, others / (after.wall - before.wall))


def runnable_now(loadavg: Path = LOADAVG) -> float | None:
    """Other processes running at this instant (/proc/loadavg's running count, less this one)."""
    try:
        running = loadavg.read_text().split()[3].split("/")[0]
    except (OSError, IndexError):
        return None
    return max(0.0, int(running) - 1.0)


_previous = read()  # at the start of the command


def busy_elsewhere() -> float:
    """Cores that other processes keep busy: since the previous call (the first: since this module
    loaded) when that is at least SHORTEST_WINDOW_S ago; otherwise those running at this instant;
    off Linux, the 1-minute load average (it lags; nothing better without /proc)."""
    global _previous
    now = read()
    if now is not None and _previous is not None and now.wall - _previous.wall >= SHORTEST_WINDOW_S:
        busy = busy_between(_previous, now)
        _previous = now
        return busy
    instant = runnable_now()
    if instant is not None:
        return instant
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
