"""What the rest of the machine did during a measurement: CPU time read from /proc (Linux only).

A p99 says as much about other processes as about the code measured, so the
benchmarks report how many cores everything else used while they timed.
"""

from __future__ import annotations

import os
from pathlib import Path


def database_pids() -> list[int]:
    """The local MariaDB or MySQL server's processes: their CPU serves the benchmark."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("mariadbd", "mysqld"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cpu_seconds(pids: list[int]) -> tuple[float, float] | None:
    """CPU seconds used so far by the whole machine, and by `pids` and this script; None off Linux."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        with open("/proc/stat") as stat:
            machine = [int(ticks) for ticks in stat.readline().split()[1:9]]
        ours = sum(os.times()[:2])
        for pid in pids:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ours += (int(fields[11]) + int(fields[12])) / tick
    except OSError:
        return None
    busy = sum(machine) - machine[3] - machine[4]  # all but idle and iowait
    return busy / tick, ours


def other_cores(before: tuple[float, float] | None, after: tuple[float, float] | None, seconds: float) -> float | None:
    """Cores that processes other than ours used between two `cpu_seconds` readings."""
    if before is None or after is None:
        return None
    # The two counts tick apart: a small negative is zero.
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / seconds)
