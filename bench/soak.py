# ruff: noqa: E501 (the route table keeps one route a line)
"""Soak benchmark (issue 11): a mixed workload of reads, writes, reports and exports at a steady
rate for a long time, against one uvicorn process started here, with an export worker
(`python -m app.cli export-worker`) beside it for the export jobs.

    python -m bench.soak [--minutes 30] [--rate 10] [--database-url URL] [--scale 0.01]

Open loop: requests are started at `--rate` per second whatever the server's answers take (a
slow server gets more requests in flight, not fewer requests), each route drawn by its weight in
`ROUTES`. Without `--database-url` a throw-away PostgreSQL is started and migrated; a database
without cadres is filled by `bench.generate --scale`. The server is `bench.slow_uploads`'s (one
uvicorn worker, `--app-dir` to serve another tree), with the write limit raised: the soak
measures the service, not its rate limiter (nor its limit of active export jobs a user).

It prints the answers by status (any 5xx or transport error is a failure, and so is an export
job that failed, did not finish in time or whose file does not match its `Repr-Digest`),
p50/p99/max per route, the RSS of the server and of the export worker over time
(`/proc/<pid>/status`, every `--sample-seconds`), and whether each one's memory is flat: the
least-squares slope of the RSS over the last two thirds of the run (the first
third warms caches and the pool up) against `--flat-mb-per-hour` (a fitted growth under 2 MB
counts as flat too: RSS moves in steps a short run cannot tell from a slope). Figures only: this
is not a test; the exit status is 1 when a verdict failed.
"""

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO

import asyncpg
import httpx

from bench.compliance import _free_port, _plain, _prepare, _token, _wait_ready
from bench.slow_uploads import _memory, _start_server, throwaway_database

REPO = Path(__file__).resolve().parent.parent
TOKEN_REFRESH_S = 600.0  # access tokens last 15 minutes
FLAT_STEP_MB = 2.0
EXPORT_POLL_S = 0.5
EXPORT_WAIT_S = 120.0  # an export job not finished by then counts as a failure


@dataclass(frozen=True)
class Data:
    """What the routes draw from: ids in the benchmark database."""

    cadres: list[str]
    county: str
    units: list[str]  # units with few cadres: their archives are small exports
    year: int


Call = Callable[[httpx.AsyncClient, Data, random.Random], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Route:
    name: str
    kind: str  # read, write, report, export (or probe)
    weight: float
    call: Call


class _Draw(dict[str, str]):
    """Fills a path or parameter template: `{cadre}`, `{unit}` drawn at random; `{county}`,
    `{year}` fixed."""

    def __init__(self, d: Data, r: random.Random) -> None:
        super().__init__(county=d.county, year=str(d.year))
        self.d, self.r = d, r

    def __missing__(self, key: str) -> str:
        return self.r.choice({"cadre": self.d.cadres, "unit": self.d.units}[key])


Body = Callable[[Data, random.Random], dict[str, object]]


def request(method: str, path: str, body: Body | None = None, **params: str | int) -> Call:
    """A call of `method path?params` (templates as `_Draw` fills them), with a JSON body."""

    def call(c: httpx.AsyncClient, d: Data, r: random.Random) -> Awaitable[httpx.Response]:
        draw = _Draw(d, r)
        query = {k: v.format_map(draw) if isinstance(v, str) else v for k, v in params.items()}
        json = body(d, r) if body else None
        return c.request(method, path.format_map(draw), params=query, json=json)

    return call


def _new_log(d: Data, r: random.Random) -> dict[str, object]:
    start = date(d.year, 1, 1) + timedelta(days=r.randrange(300))
    return {
        "cadre_id": r.choice(d.cadres),
        "kind": "self_study",
        "title": f"soak {r.randrange(10**9)}",
        "start_date": start.isoformat(),
        "end_date": start.isoformat(),
        "hours": r.randrange(1, 8),
    }


def _new_position(d: Data, r: random.Random) -> dict[str, object]:
    return {"position": f"soak {r.randrange(10**6)}"}


class JobFailed(Exception):
    """A multi-request route that got its answers but not what it asked for: recorded under
    its message (not a status code, so a failure)."""


async def export_job(c: httpx.AsyncClient, d: Data, r: random.Random) -> httpx.Response:
    """An export job (a small unit's year archive, CSV): post it, poll it until it has
    finished (at most `EXPORT_WAIT_S`), download the file and check it against `Repr-Digest`."""
    body = {"org_unit_id": r.choice(d.units), "year": d.year, "format": "csv"}
    posted = await c.post("/api/v1/exports", json=body)
    if posted.status_code != 202:
        return posted
    job_url = f"/api/v1/exports/{posted.json()['id']}"
    deadline = time.perf_counter() + EXPORT_WAIT_S
    while True:
        polled = await c.get(job_url)
        if polled.status_code != 200:
            return polled
        status = polled.json()["status"]
        if status == "failed":
            raise JobFailed(f"job failed ({polled.json()['error_code']})")
        if status == "succeeded":
            break
        if time.perf_counter() > deadline:
            raise JobFailed(f"job {status} after {EXPORT_WAIT_S:.0f} s")
        await asyncio.sleep(EXPORT_POLL_S)
    file = await c.get(f"{job_url}/file")
    if file.status_code == 200:
        digest = base64.b64encode(hashlib.sha256(file.content).digest()).decode()
        if file.headers.get("Repr-Digest") != f"sha-256=:{digest}:":
            raise JobFailed("file != Repr-Digest")
    return file


# The workload, one line a route: name, kind, weight, call. `GET /health/live` (no database)
# shows how long requests wait for the event loop.
# fmt: off
ROUTES = [
    Route("GET /health/live", "probe", 5, request("GET", "/health/live")),
    Route("GET /cadres/{id}", "read", 20, request("GET", "/api/v1/cadres/{cadre}")),
    Route("GET /cadres?org_unit_id", "read", 10, request("GET", "/api/v1/cadres", org_unit_id="{unit}")),
    Route("GET /study-logs?cadre_id", "read", 15, request("GET", "/api/v1/study-logs", cadre_id="{cadre}")),
    Route("GET /cadres/{id}/credits", "read", 10, request("GET", "/api/v1/cadres/{cadre}/credits", year="{year}")),
    Route("GET /org-units?within", "read", 5, request("GET", "/api/v1/org-units", within="{county}", limit=100)),
    Route("POST /study-logs", "write", 10, request("POST", "/api/v1/study-logs", _new_log)),
    Route("PATCH /cadres/{id}", "write", 5, request("PATCH", "/api/v1/cadres/{cadre}", _new_position)),
    Route("GET /cadres/{id}/compliance", "report", 10, request("GET", "/api/v1/cadres/{cadre}/compliance")),
    Route("GET /reports/roll-call", "report", 2, request("GET", "/api/v1/reports/roll-call", org_unit_id="{county}", year="{year}", limit=100)),
    Route("GET /reports/compliance", "report", 1, request("GET", "/api/v1/reports/compliance", org_unit_id="{county}", year="{year}", levels=1)),
    Route("GET /cadres/{id}/archive", "export", 2, request("GET", "/api/v1/cadres/{cadre}/archive")),
    Route("GET /org-units/{id}/archive csv", "export", 1, request("GET", "/api/v1/org-units/{unit}/archive", year="{year}")),
    Route("GET /org-units/{id}/archive xlsx", "export", 0.5, request("GET", "/api/v1/org-units/{unit}/archive", year="{year}", format="xlsx")),
    Route("POST /exports csv job", "export", 1, export_job),
]
# fmt: on


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    lag: list[float] = field(default_factory=list)  # how late each request started
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # (seconds, MB)

    def record(self, route: str, outcome: str, seconds: float) -> None:
        self.latencies.setdefault(route, []).append(seconds)
        self.statuses.setdefault(route, Counter())[outcome] += 1

    def failures(self) -> int:
        return sum(
            n
            for counts in self.statuses.values()
            for outcome, n in counts.items()
            if not outcome[0].isdigit() or outcome.startswith("5")
        )


async def _data(url: str) -> Data:
    ids, _root, county = await _prepare(url)
    conn = await asyncpg.connect(_plain(url))
    try:
        units = await conn.fetch(
            "SELECT org_unit_id, count(*) AS n FROM cadre WHERE status = 'active' "
            "GROUP BY org_unit_id ORDER BY n, org_unit_id LIMIT 20"
        )
    finally:
        await conn.close()
    return Data(ids, county, [str(u["org_unit_id"]) for u in units], date.today().year)


def _generate_if_empty(url: str, scale: float) -> None:
    """Generates a province when the database has no cadres yet."""

    async def empty() -> bool:
        conn = await asyncpg.connect(_plain(url))
        try:
            return not await conn.fetchval("SELECT exists (SELECT FROM cadre)")
        finally:
            await conn.close()

    if asyncio.run(empty()):
        argv = [sys.executable, "-m", "bench.generate", "--database-url", url]
        subprocess.run([*argv, "--scale", str(scale)], check=True, cwd=REPO)


async def _one(
    client: httpx.AsyncClient, data: Data, route: Route, seed: int, stats: Stats
) -> None:
    started = time.perf_counter()
    try:
        outcome = str((await route.call(client, data, random.Random(seed))).status_code)
    except httpx.TransportError as exc:
        outcome = type(exc).__name__
    except JobFailed as exc:
        outcome = str(exc)
    stats.record(route.name, outcome, time.perf_counter() - started)


async def _drive(
    client: httpx.AsyncClient,
    data: Data,
    routes: list[Route],
    rate: float,
    seconds: float,
    stats: Stats,
    seed: int,
) -> None:
    """Starts request n at `n / rate` seconds, drawn by weight, whether or not earlier ones are
    answered (open loop)."""
    rng = random.Random(seed)
    weights = [r.weight for r in routes]
    in_flight: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    n = 0
    while n / rate < seconds:
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        stats.lag.append(max(0.0, -delay))
        route = rng.choices(routes, weights)[0]
        task = asyncio.create_task(_one(client, data, route, rng.randrange(2**32), stats))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        n += 1
    await asyncio.gather(*in_flight)


async def _sample(
    procs: dict[str, subprocess.Popen[bytes]], every: float, stats: Stats, stop: asyncio.Event
) -> None:
    start = time.perf_counter()
    last_print = -60.0
    while not stop.is_set():
        elapsed = time.perf_counter() - start
        for name, proc in procs.items():
            if proc.poll() is None:  # an exited process has no RSS to read
                stats.rss.setdefault(name, []).append((elapsed, _memory(proc.pid)[0]))
        if elapsed - last_print >= 60:
            last_print = elapsed
            done = sum(len(v) for v in stats.latencies.values())
            rss = ", ".join(
                f"{name} {stats.rss[name][-1][1]:6.1f} MB"
                if proc.poll() is None
                else f"{name} exited"
                for name, proc in procs.items()
            )
            print(
                f"  {elapsed / 60:5.1f} min: RSS {rss}; {done} answered, {stats.failures()} failed",
                flush=True,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def _refresh_token(client: httpx.AsyncClient, base: str, stop: asyncio.Event) -> None:
    while True:
        try:
            await asyncio.wait_for(stop.wait(), TOKEN_REFRESH_S)
            return
        except TimeoutError:
            client.headers["Authorization"] = f"Bearer {await _token(base)}"


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def _slope_mb_per_hour(points: list[tuple[float, float]]) -> float:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den * 3600 if den else 0.0


def _report(stats: Stats, args: argparse.Namespace, wall: float) -> bool:
    total = sum(len(v) for v in stats.latencies.values())
    print(
        f"\n{total} requests in {wall / 60:.1f} min ({total / wall:.1f}/s, asked {args.rate}/s); "
        f"start lag p99 {_pct(stats.lag, 0.99):.1f} ms, max {max(stats.lag) * 1000:.1f} ms"
    )
    print(f"{'route':<36} {'kind':<7} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  answers")
    kinds = {r.name: r.kind for r in ROUTES}
    for route in ROUTES:
        lat = stats.latencies.get(route.name)
        if not lat:
            continue
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(stats.statuses[route.name].items()))
        print(
            f"{route.name:<36} {kinds[route.name]:<7} {len(lat):>6} {_pct(lat, 0.5):>8.1f} "
            f"{_pct(lat, 0.99):>8.1f} {max(lat) * 1000:>8.1f}  {answers}"
        )
    by_status: Counter[str] = Counter()
    for counts in stats.statuses.values():
        by_status.update(counts)
    print(f"answers by status: {dict(sorted(by_status.items()))}")
    failures = stats.failures()
    print(f"errors (5xx or no answer): {failures} -> {'FAIL' if failures else 'ok'}")

    flat = [_memory_verdict(name, points, wall, args) for name, points in stats.rss.items()]
    return all(flat) and not failures


def _memory_verdict(
    name: str, points: list[tuple[float, float]], wall: float, args: argparse.Namespace
) -> bool:
    print(f"{name} RSS over time (MB):")
    step = max(1, len(points) // 30)
    print("  " + ", ".join(f"{t / 60:.1f} min {mb:.1f}" for t, mb in points[::step]))
    window = [p for p in points if p[0] >= wall / 3]
    if len(window) < 3:
        print(f"{name} memory: too few samples for a verdict")
        return True
    slope = _slope_mb_per_hour(window)
    growth = slope * (window[-1][0] - window[0][0]) / 3600
    # RSS moves in steps (allocator arenas, pages): below FLAT_STEP_MB over the window a short
    # run cannot tell a slope from a step.
    flat = slope <= args.flat_mb_per_hour or growth <= FLAT_STEP_MB
    print(
        f"{name} memory over the last two thirds ({window[0][0] / 60:.1f}-{window[-1][0] / 60:.1f} min): "
        f"{window[0][1]:.1f} -> {window[-1][1]:.1f} MB, min {min(p[1] for p in window):.1f}, "
        f"max {max(p[1] for p in window):.1f}; slope {slope:+.1f} MB/h, fitted growth "
        f"{growth:+.1f} MB (flat: under {args.flat_mb_per_hour} MB/h or {FLAT_STEP_MB} MB) "
        f"-> {'flat' if flat else 'GROWING'}"
    )
    return flat


async def _soak(
    base: str, procs: dict[str, subprocess.Popen[bytes]], data: Data, args: argparse.Namespace
) -> tuple[Stats, float]:
    stats = Stats()
    # An idle connection is dropped before uvicorn's keep-alive timeout (5 s) closes it: a
    # request sent on it just as the server closes it would fail on the client's side.
    limits = httpx.Limits(max_connections=args.max_connections, keepalive_expiry=2.0)
    headers = {"Authorization": f"Bearer {await _token(base)}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=120
    ) as client:
        stop = asyncio.Event()
        helpers = [
            asyncio.create_task(_sample(procs, args.sample_seconds, stats, stop)),
            asyncio.create_task(_refresh_token(client, base, stop)),
        ]
        started = time.perf_counter()
        routes = [r for r in ROUTES if not any(skip in r.name for skip in args.skip)]
        await _drive(client, data, routes, args.rate, args.minutes * 60, stats, args.seed)
        wall = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*helpers)
    return stats, wall


def _start_export_worker(url: str, app_dir: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """`python -m app.cli export-worker` with the server's environment (`_start_server`)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APP_ENV": "development",
        "APP_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(app_dir),
    }
    argv = [sys.executable, "-m", "app.cli", "export-worker"]
    return subprocess.Popen(argv, env=env, cwd=app_dir, stdout=log, stderr=log)


def _error_lines(name: str, log: IO[bytes]) -> int:
    log.seek(0)
    errors = [line for line in log if b'"level": "error"' in line]
    print(f"{name} log: {len(errors)} error lines")
    for line in errors[:3]:
        print("  " + line.decode(errors="replace")[:300])
    return len(errors)


async def run(url: str, args: argparse.Namespace) -> bool:
    data = await _data(url)
    # The soak measures the service, not the per-user write limit nor the active export jobs'.
    os.environ.setdefault("APP_RATE_LIMIT__WRITES_PER_MINUTE", "1000000")
    os.environ.setdefault("APP_EXPORTS__MAX_ACTIVE_PER_USER", "100")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    app_dir = args.app_dir.resolve()
    with (
        tempfile.NamedTemporaryFile(prefix="bench-soak-server-", suffix=".log") as log,
        tempfile.NamedTemporaryFile(prefix="bench-soak-export-worker-", suffix=".log") as wlog,
    ):
        server = _start_server(url, port, app_dir, log)
        worker = _start_export_worker(url, app_dir, wlog)
        try:
            await _wait_ready(base)
            print(
                f"server pid {server.pid}, export worker pid {worker.pid} ({args.app_dir}); "
                f"{len(data.cadres)} cadres sampled, {len(data.units)} small units; "
                f"{args.minutes} min at {args.rate} requests/s; "
                f"load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            procs = {"server": server, "export worker": worker}
            stats, wall = await _soak(base, procs, data, args)
        finally:
            worker.send_signal(signal.SIGTERM)
            server.terminate()
            worker_exit = worker.wait(timeout=60)
            server.wait(timeout=60)
        ok = _report(stats, args, wall)
        print(f"export worker: exit code {worker_exit} after SIGTERM")
        errors = _error_lines("server", log) + _error_lines("export worker", wlog)
    return ok and not errors and worker_exit == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10.0, help="requests started a second")
    parser.add_argument("--scale", type=float, default=0.01, help="bench.generate, when empty")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="RSS sampling")
    parser.add_argument("--flat-mb-per-hour", type=float, default=20.0)
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--skip", action="append", default=[], help="leave out the routes whose name has this"
    )
    parser.add_argument("--app-dir", type=Path, default=REPO, help="source tree to serve")
    args = parser.parse_args()
    if args.database_url:
        _generate_if_empty(args.database_url, args.scale)
        ok = asyncio.run(run(args.database_url, args))
    else:
        with throwaway_database("bench-soak-pg-") as url:
            _generate_if_empty(url, args.scale)
            ok = asyncio.run(run(url, args))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
