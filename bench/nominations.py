"""Benchmark: 50 parallel nominations against one class, over real connections (issue 13).

Serves this tree with one uvicorn process on its own throw-away PostgreSQL. A city with its
organisation department and five counties of ten cadres each; a class of `--capacity` seats for
the five counties, each with a quota of `--quota` (0: none). Each county's administrator
nominates its ten cadres at once: 50 concurrent requests. Reports the answers (nominated,
waitlisted, refused by code), the seats held per county and in the session, and the wall time.
The counts must match docs/rules.md rule 11 whatever the order; the time is a figure only.

    .venv/bin/python -m bench.nominations [--capacity 20] [--quota 4] [--rounds 3]

Figures only: this is not a test and asserts nothing.
"""

import argparse
import asyncio
import collections
import os
import platform
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.logins import REPO, _env, _free_port, _serve, _wait_live
from devtools.localpg import LocalPostgres
from tests.factories import cadre_body

API = "/api/v1"
ADMIN, PASSWORD = "bench-admin", secrets.token_urlsafe(16)


async def _token(c: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await c.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _post(c: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await c.post(url, json=body)
    r.raise_for_status()
    found: dict[str, Any] = r.json()
    return found


async def _unit(c: httpx.AsyncClient, parent: str | None, kind: str, n: int) -> str:
    body = {"code": f"B{n}-{secrets.token_hex(4)}", "name": f"单位{n}", "kind": kind}
    return str((await _post(c, f"{API}/org-units", {**body, "parent_id": parent}))["id"])


async def _cadre(c: httpx.AsyncClient, unit: str) -> str:
    return str((await _post(c, f"{API}/cadres", cadre_body(unit)))["id"])


async def _round(base: str, admin: httpx.AsyncClient, capacity: int, quota: int | None) -> None:
    city = await _unit(admin, None, "city", 0)
    dept = await _unit(admin, city, "department", 1)
    counties = [await _unit(admin, city, "county", 2 + i) for i in range(5)]
    session = await _post(
        admin,
        f"{API}/training-sessions",
        {
            "title": "县处级干部进修班",
            "form": "refresher",
            "centralised": True,
            "organiser_org_unit_id": dept,
            "start_date": "2026-03-02",
            "end_date": "2026-03-06",
            "days": "5",
            "credit_hours": "40",
            "capacity": capacity,
            "status": "open",
        },
    )
    units = [{"org_unit_id": u, "seat_quota": quota} for u in counties]
    r = await admin.put(f"{API}/training-sessions/{session['id']}/audience", json={"units": units})
    r.raise_for_status()
    jobs = []
    clients = []
    for county in counties:
        username, password = f"county-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        body = {"username": username, "password": password, "role": "org_admin"}
        await _post(admin, f"{API}/users", {**body, "org_unit_id": county})
        client = httpx.AsyncClient(base_url=base, timeout=120)
        client.headers.update(await _token(client, username, password))
        clients.append(client)
        for _ in range(10):
            jobs.append((client, county, await _cadre(admin, county)))
    url = f"{API}/training-sessions/{session['id']}/enrollments"
    start = time.perf_counter()
    answers = await asyncio.gather(
        *(c.post(url, json={"cadre_id": cadre, "origin": "nomination"}) for c, _, cadre in jobs)
    )
    wall = time.perf_counter() - start
    for client in clients:
        await client.aclose()
    outcomes = collections.Counter(
        r.json()["status"] if r.status_code == 201 else r.json()["code"] for r in answers
    )
    audience = (await admin.get(f"{API}/training-sessions/{session['id']}/audience")).json()
    print(
        f"  capacity {capacity}, quota {quota}: {dict(sorted(outcomes.items()))}; "
        f"seats held {audience['seats_taken']}, per county "
        f"{[u['seats_taken'] for u in audience['units']]}; 50 requests in {wall * 1000:.0f} ms"
    )


async def _measure(base: str, capacity: int, quota: int | None, rounds: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as admin:
        await _wait_live(admin)
        admin.headers.update(await _token(admin, ADMIN, PASSWORD))
        for _ in range(rounds):
            await _round(base, admin, capacity, quota)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capacity", type=int, default=20)
    parser.add_argument("--quota", type=int, default=4, help="per county; 0 for none")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.node()}: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-nominations-pg-") as tmp:
        cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
        url = cluster.start()
        env = {
            **_env(url, 64, None),
            "APP_BOOTSTRAP_ADMIN_USERNAME": ADMIN,
            "APP_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
            "APP_RATE_LIMIT__WRITES_PER_MINUTE": "1000000",
        }
        port = _free_port()
        server = _serve(REPO, env, port)
        try:
            quota = args.quota or None
            asyncio.run(_measure(f"http://127.0.0.1:{port}", args.capacity, quota, args.rounds))
        finally:
            server.terminate()
            server.wait(timeout=30)
            cluster.stop()


if __name__ == "__main__":
    main()
