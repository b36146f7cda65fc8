"""Search latency at 10,000 and at 100,000 listings: does a search slow down as the catalogue grows?

    python bench/search.py                  # 1,000 requests per search and size (about 3 minutes)
    python bench/search.py --requests 300   # quicker; its p99 is the third slowest request
    python bench/search.py --quick          # 60 requests per search and size

Needs MariaDB on its default local port. The databases `homer_bench_search_10k`
and `homer_bench_search` are created if missing and emptied; the app's own
`create_schema` then gives them today's schema.sql. The script seeds the same
10,000 active listings across 20 cities (`search_data.py`) into both and
90,000 more of the same distribution into the second, runs ANALYZE TABLE,
starts one uvicorn process serving `main:app` on each database and times the
common searches over HTTP, one request at a time, alternating between the two
sizes: a burst of load from elsewhere then hits both alike. Each search's
parameters (cities, price bands, localities, words, points) come from a
seeded random generator, so both sizes answer identical queries.

The figures are about how the searches scale, not about a server too small
for its data: if the InnoDB buffer pool cannot hold both tables, the script
raises it (SET GLOBAL) for the run and puts it back afterwards, saying so;
`--buffer-pool-mb 0` leaves it alone.

Targets: for every search, p99 at 100k within 1.5x of p99 at 10k; p50 at 100k
under 20 ms for all but `q`. The exit code is 0 whatever the figures (1 only if
the server does not start); the server is stopped by PID whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.search_data as data  # noqa: E402
from bench.machine import cpu_seconds, database_pids, other_cores  # noqa: E402
from bench.search_seed import SEED, buffer_pool_mb, pick_city, prepare, seed, set_buffer_pool_mb, storage  # noqa: E402
from tests.live import Server, server_env  # noqa: E402

DATABASE_URL = "mysql+asyncmy://root@127.0.0.1:3306/homer_bench_search"
SMALL_SUFFIX = "_10k"  # the 10,000-listing database: DATABASE_URL's name with this suffix
BUFFER_POOL_MB = 2048  # holds both databases: listings, their indexes and their words (about 1 GB)
SIZES = (10_000, 100_000)
SEARCH_PATH = "/api/properties/search"
TARGET_P99_RATIO = 1.5
TARGET_P50_MS = 20.0
NO_P50_TARGET = {"q"}
# Other processes using more than this (in cores) during a measurement make its p99 say more about them.
BUSY_MACHINE_CORES = 0.2

Params = dict[str, Any]


# ---- the searches


def city_price_bhk(rng: random.Random) -> Params:
    city = pick_city(rng)
    bhk = rng.choices(data.BHK_TYPES, weights=data.BHK_WEIGHTS)[0]
    typical = city.rent_1bhk * data.BHK_RENT_FACTOR[bhk]
    low, high = round(typical * rng.uniform(0.5, 0.9), -3), round(typical * rng.uniform(1.1, 1.6), -3)
    return {"city": city.name, "min_price": int(low), "max_price": int(high), "bhk_type": bhk}


def locality(rng: random.Random) -> Params:
    """A locality by its full name or its first letters, as someone typing; with the city or without."""
    city = pick_city(rng)
    name = rng.choice(city.localities).name
    if rng.random() < 0.3:
        name = name[: rng.randint(4, 8)]
    return {"location": name, "city": city.name} if rng.random() < 0.5 else {"location": name}


def words(rng: random.Random) -> Params:
    """A rare feature, a locality's name, a prefix of one, or a title word with a locality."""
    place = rng.choice(pick_city(rng).localities).name.lower()
    draw = rng.random()
    if draw < 0.35:
        return {"q": rng.choice(data.RARE_FEATURES).split()[0].strip(",.").lower()}
    if draw < 0.6:
        return {"q": place}
    if draw < 0.75:
        return {"q": max(place.split(), key=len)[:5]}
    return {"q": f"{rng.choice(data.TITLE_WORDS).lower()} {place}"}


def radius(rng: random.Random) -> Params:
    place = rng.choice(pick_city(rng).localities)
    lat, lng = place.latitude + rng.uniform(-0.01, 0.01), place.longitude + rng.uniform(-0.01, 0.01)
    return {"lat": round(lat, 5), "lng": round(lng, 5), "radius_km": rng.choice((2, 3, 5, 10)), "sort_by": "distance"}


def default_sort(rng: random.Random) -> Params:
    return {"page": rng.randint(1, 3)}


def deep_page(rng: random.Random) -> Params:
    return {"page": rng.randint(40, 60), "limit": 20}


SEARCHES: dict[str, Callable[[random.Random], Params]] = {
    "city + price + bhk": city_price_bhk,
    "locality": locality,
    "q": words,
    "radius by distance": radius,
    "default sort": default_sort,
    "deep page": deep_page,
}


# ---- measuring


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)  # seconds
    totals: list[int] = field(default_factory=list)
    failures: int = 0


@dataclass(frozen=True)
class Run:
    samples: dict[str, Sample]
    others: float | None  # cores that other processes used meanwhile; None where /proc is missing
    storage: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # MB: see search_seed.storage


def plans(requests: int, salt: str) -> dict[str, list[Params]]:
    """Each search's parameters for every request, the same for every run with the same salt."""
    return {
        name: [make(random.Random(f"{SEED}-{salt}-{name}-{i}")) for i in range(requests)]
        for name, make in SEARCHES.items()
    }


def run(servers: dict[int, Server], requests: int, warmup: int) -> dict[int, Run]:
    """Time every search `requests` times at each size, one request at a time.

    The searches are interleaved and each request goes to both sizes in turn, so
    a burst of load from elsewhere spreads over every search and both sizes
    instead of spoiling one of them.
    """
    samples = {size: {name: Sample() for name in SEARCHES} for size in servers}
    clients = {size: httpx.Client(base_url=server.http, timeout=30) for size, server in servers.items()}
    pids = [server.process.pid for server in servers.values() if server.process is not None]
    try:
        for batch in zip(*plans(warmup, "warm-up").values()):
            for params in batch:
                for client in clients.values():
                    client.get(SEARCH_PATH, params=params)
        measured = plans(requests, "measure")
        before, start = cpu_seconds([*pids, *database_pids()]), time.perf_counter()
        for i in range(requests):
            for name, params_list in measured.items():
                for size, client in clients.items():
                    began = time.perf_counter()
                    response = client.get(SEARCH_PATH, params=params_list[i])
                    elapsed = time.perf_counter() - began
                    sample = samples[size][name]
                    if response.status_code != 200:
                        sample.failures += 1
                        continue
                    sample.latencies.append(elapsed)
                    sample.totals.append(response.json()["total_count"])
        after, seconds = cpu_seconds([*pids, *database_pids()]), time.perf_counter() - start
    finally:
        for client in clients.values():
            client.close()
    others = other_cores(before, after, seconds)
    return {size: Run(samples[size], others) for size in servers}


# ---- the report


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(runs: dict[int, Run], requests: int) -> None:
    small, large = (runs[size] for size in SIZES)
    print(f"\n{requests} requests per search and size, one at a time, over HTTP; ms\n")
    print(f"{'search':20}{'p50 10k':>9}{'p99 10k':>9}{'p50 100k':>10}{'p99 100k':>10}{'p99 ratio':>11}", end="")
    print(f"{'ratio<' + format(TARGET_P99_RATIO, 'g'):>11}{'p50<' + format(TARGET_P50_MS, 'g'):>9}")
    for name in SEARCHES:
        a, b = small.samples[name], large.samples[name]
        p50a, p99a = (percentile(a.latencies, q) * 1000 for q in (50, 99))
        p50b, p99b = (percentile(b.latencies, q) * 1000 for q in (50, 99))
        ratio = p99b / p99a
        ratio_ok = "PASS" if ratio < TARGET_P99_RATIO else "MISS"
        p50_ok = "-" if name in NO_P50_TARGET else ("PASS" if p50b < TARGET_P50_MS else "MISS")
        print(f"{name:20}{p50a:9.1f}{p99a:9.1f}{p50b:10.1f}{p99b:10.1f}{ratio:10.2f}x{ratio_ok:>11}{p50_ok:>9}")
    print(f"\ntotal_count per search, min / median / max{'':4}{'10k':>22}{'100k':>26}")
    for name in SEARCHES:
        print(f"  {name:44}", end="")
        for size in SIZES:
            totals = runs[size].samples[name].totals
            shown = f"{min(totals)} / {statistics.median(totals):g} / {max(totals)}" if totals else "-"
            print(f"{shown:>24}", end="")
        print()
    print()
    for size in SIZES:
        failures = sum(sample.failures for sample in runs[size].samples.values())
        rows, indexes, words, pool = runs[size].storage
        print(f"{size:,} listings: properties {rows:.0f} MB of rows + {indexes:.0f} MB of indexes", end="")
        print(f", words {words:.0f} MB (InnoDB buffer pool {pool:.0f} MB)")
        others = runs[size].others
        load = "unknown" if others is None else f"{others:.2f} cores"
        warn = " (busy machine: treat the p99 with care)" if others and others > BUSY_MACHINE_CORES else ""
        print(f"  {failures} failed requests; other processes used {load}{warn}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=DATABASE_URL,
        help=f"MariaDB/MySQL, for 100k listings (10k: the same name + {SMALL_SUFFIX}); their tables are dropped",
    )
    # A p99 of 300 requests is their third slowest, and moved by 0.2x between runs here.
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per search and size")
    parser.add_argument("--quick", action="store_true", help="60 requests per search and size")
    parser.add_argument(
        "--buffer-pool-mb",
        type=int,
        default=BUFFER_POOL_MB,
        help="raise a smaller InnoDB buffer pool to this for the run",
    )
    args = parser.parse_args(argv)
    if make_url(args.database_url).get_backend_name() != "mysql":
        parser.error("--database-url must be mysql+asyncmy://...: the targets are about MariaDB")
    if args.quick:
        args.requests = 60
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    large = args.database_url
    name = make_url(large).database
    urls = {SIZES[0]: make_url(large).set(database=f"{name}{SMALL_SUFFIX}").render_as_string(False), SIZES[1]: large}
    warmup = max(20, args.requests // 5)
    for size, url in urls.items():
        print(f"preparing {make_url(url).database} with {size:,} listings")
        asyncio.run(prepare(url))
    pool = asyncio.run(buffer_pool_mb(large))
    raised = args.buffer_pool_mb > pool
    if raised:
        print(f"raising the InnoDB buffer pool from {pool} MB to {args.buffer_pool_mb} MB for the run")
        asyncio.run(set_buffer_pool_mb(large, args.buffer_pool_mb))
    try:
        for size, url in urls.items():
            began, rng = time.perf_counter(), random.Random(SEED)  # the same first 10,000 in both
            asyncio.run(seed(url, rng, SIZES[0], with_owners=True))
            if size > SIZES[0]:
                asyncio.run(seed(url, rng, size - SIZES[0], with_owners=False))
            print(f"seeded {size:,} listings in {time.perf_counter() - began:.0f} s")
        with tempfile.TemporaryDirectory(prefix="homer-search-") as scratch:
            servers = {
                size: Server(server_env(url, "memory://", Path(scratch) / "uploads")) for size, url in urls.items()
            }
            try:
                for server in servers.values():
                    server.start(timeout=60)
                runs = run(servers, args.requests, warmup)
            except RuntimeError as exc:
                print(f"server did not start: {exc}", file=sys.stderr)
                return 1
            finally:
                for server in servers.values():
                    server.stop()
        runs = {size: dataclasses.replace(runs[size], storage=asyncio.run(storage(url))) for size, url in urls.items()}
    finally:
        if raised:
            asyncio.run(set_buffer_pool_mb(large, pool))
            print(f"InnoDB buffer pool back to {pool} MB")
    report(runs, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
