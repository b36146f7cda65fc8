"""What the machine and the measured processes did during a measurement: CPU time and memory from /proc (Linux only).

A p99 says as much about other processes as about the code measured, so the
benchmarks report how many cores everything else used while they timed.
"""

from __future__ import annotations

import os
from pathlib import Path


def pids_named(*names: str) -> list[int]:
    """The processes whose command is one of `names`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def database_pids() -> list[int]:
    """The local MariaDB or MySQL server's processes: their CPU serves the benchmark."""
    return pids_named("mariadbd", "mysqld")


def process_cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used so far."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()  # after the command name, which may hold spaces
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kb(pids: list[int]) -> int:
    """Resident memory of the processes, KB."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy so far, all cores (not idle, not waiting on I/O).

    Sampled at the scheduler's ticks: over a few seconds of light, timer-paced load on this kind of
    virtual machine it has read below the per-process times of `process_cpu_seconds`, which are exact.
    """
    with open("/proc/stat") as stat:
        ticks = [int(t) for t in stat.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> tuple[float, float] | None:
    """CPU seconds used so far by the whole machine, and by `pids` and this script; None off Linux."""
    try:
        return machine_busy_seconds(), sum(os.times()[:2]) + process_cpu_seconds(pids)
    except OSError:
        return None


def other_cores(before: tuple[float, float] | None, after: tuple[float, float] | None, seconds: float) -> float | None:
    """Cores that processes other than ours used between two `cpu_seconds` readings."""
    if before is None or after is None:
        return None
    # The two counts tick apart: a small negative is zero.
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / seconds)
