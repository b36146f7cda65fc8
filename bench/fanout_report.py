"""What bench/fanout.py prints: each figure beside the relay's, and the issue's targets."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from settings import Settings  # noqa: E402

# A run's figures: the run's own by name ("idle", "rates"), each system's by (system, figure).
Results = dict[str | tuple[str, str], Any]

TARGET_P99_RATIO, TARGET_THROUGHPUT_RATIO, TARGET_IDLE_KB, TARGET_LONG_RATIO = 3.0, 0.5, 30.0, 1.2


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x relay" if base else "n/a"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report_memory(results: Results) -> None:
    homer_kb = results["homer", "idle_kb"]
    print()
    print_idle(results)
    print(f"  memory per idle socket under {TARGET_IDLE_KB:g} KB: {verdict(homer_kb < TARGET_IDLE_KB)}")


def print_idle(results: Results) -> None:
    homer_kb, relay_kb = results["homer", "idle_kb"], results["relay", "idle_kb"]
    print(f"idle socket ({results['idle']} open, each its own user or channel): relay {relay_kb:.1f} KB,", end="")
    print(f" homer {homer_kb:.1f} KB", end="")
    print(f" ({ratio(homer_kb, relay_kb)})")


def report(results: Results) -> None:
    print(f"\ncores {os.cpu_count()}; client, 2 Homer, 2 relay processes, MariaDB and Redis share the machine")
    pairs, sends_per_second = results["pairs"], results["sends_per_second"]
    print(f"{pairs} pairs, each pair's two sockets on different processes;")
    print("CPU/msg: ms of CPU both server processes used per message sent, kernel time included\n")
    print(f"{'latency ms':16}{'p50':>8}{'p95':>8}{'p99':>8}{'lost':>6}{'CPU/msg':>9}   p99 vs relay, CPU vs relay")
    for rate in results["rates"]:
        base = results["relay", "latency"][rate]
        for name in ("relay", "homer"):
            p50, p95, p99, lost, cpu_ms, *_ = results[name, "latency"][rate]
            note = f"{ratio(p99, base[2])}, {ratio(cpu_ms, base[4])}" if name == "homer" else ""
            print(f"{name + f' {rate}/s':16}{p50:8.1f}{p95:8.1f}{p99:8.1f}{lost:6.0f}{cpu_ms:9.2f}   {note}")
    print("homer's ack, from a send to its ack (stored and answered, before any fan-out):")
    for rate in results["rates"]:
        ack_p50, ack_p99 = results["homer", "latency"][rate][5:7]
        print(f"  {rate}/s: p50 {ack_p50:.1f} ms, p99 {ack_p99:.1f} ms")
    homer_p99, relay_p99 = results["homer", "latency"][500][2], results["relay", "latency"][500][2]
    homer_best, relay_best = results["homer", "zero_loss"], results["relay", "zero_loss"]
    homer_kb = results["homer", "idle_kb"]
    long_ms, short_ms = results["long_short"]
    default_limit = Settings.ws_sends_per_second
    print(f"\nzero-loss throughput: relay {relay_best} msg/s, homer {homer_best} msg/s", end="")
    print(f" ({ratio(homer_best, relay_best)})")
    for name in ("relay", "homer"):
        for cores in results[name, "zero_loss_cores"]:
            print(f"  {name} at {cores}")
    print(f"  homer ran with WS_SENDS_PER_SECOND={sends_per_second}; at the default of {default_limit} sends/s per")
    print(f"  socket, {pairs} pairs could offer it at most {default_limit * 2 * pairs} msg/s")
    print_idle(results)
    print(f"send in a 10,000-message chat {long_ms:.2f} ms, in a 10-message chat {short_ms:.2f} ms", end="")
    print(f": {long_ms / short_ms:.2f}x")
    print("\ntargets")
    ok = homer_p99 <= TARGET_P99_RATIO * relay_p99
    print(f"  p99 at 500 msg/s within {TARGET_P99_RATIO:g}x of relay: {verdict(ok)}")
    ok = homer_best >= TARGET_THROUGHPUT_RATIO * relay_best
    print(f"  zero-loss throughput at least {TARGET_THROUGHPUT_RATIO:g}x relay: {verdict(ok)}")
    print(f"  memory per idle socket under {TARGET_IDLE_KB:g} KB: {verdict(homer_kb < TARGET_IDLE_KB)}")
    print(f"  long-chat send within {TARGET_LONG_RATIO:g}x short: {verdict(long_ms <= TARGET_LONG_RATIO * short_ms)}")
