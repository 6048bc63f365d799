"""Benchmark: answering a session's evaluation (docs/evaluation.md), over real connections.

Each answer runs three transactions apart from the request's (the marker; the answer, which
rewrites every answer and comment row of the session in random order; a compensation only on
failure), so an answer costs more as the class fills: the n-th answer rewrites about 5·n rows
(the session, two courses, two teachers). Serves this tree with one uvicorn process on its own
throw-away PostgreSQL; for each class size, every trainee answers once, first one after the
other, then (a second class of the same size) `--concurrency` at a time. Reports the median and
the slowest answer, the wall time, and the check that every answer row of the session shares
one xmin (none of the markers').

    .venv/bin/python -m bench.evaluation_answers [--sizes 30,100,200] [--concurrency 10]

Figures only: this is not a test and asserts nothing.
"""

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.logins import REPO, _env, _free_port, _serve, _wait_live
from bench.nominations import _post, _token, _unit
from devtools.localpg import LocalPostgres
from tests.factories import cadre_body, id_number

API = "/api/v1"
_BIRTHS = iter(range(100_000))
ADMIN, PASSWORD = "bench-admin", secrets.token_urlsafe(16)
TRAINEE_PASSWORD = secrets.token_urlsafe(16)
INDICATORS = [
    {"subject": "session", "code": "content", "label": "教学内容", "weight": 3},
    {"subject": "session", "code": "organisation", "label": "组织管理", "weight": 2},
    {"subject": "session", "code": "facilities", "label": "后勤保障", "weight": 1},
    {"subject": "course", "code": "content", "label": "课程内容", "weight": 1},
    {"subject": "teacher", "code": "delivery", "label": "授课水平", "weight": 1},
]


async def _class(admin: httpx.AsyncClient, base: str, size: int) -> tuple[str, list[Any], Any]:
    unit = await _unit(admin, None, "city", secrets.randbelow(10**6))
    teachers = [
        await _post(admin, f"{API}/teachers", {"org_unit_id": unit, "name": n, "kind": "internal"})
        for n in ("李老师", "王老师")
    ]
    courses = [
        await _post(
            admin,
            f"{API}/courses",
            {"org_unit_id": unit, "title": t, "teacher_ids": [teacher["id"]]},
        )
        for t, teacher in zip(("党史", "公文写作"), teachers, strict=True)
    ]
    session = await _post(
        admin,
        f"{API}/training-sessions",
        {
            "title": "县处级干部进修班",
            "form": "refresher",
            "centralised": True,
            "organiser_org_unit_id": unit,
            "start_date": "2026-03-02",
            "end_date": "2026-03-06",
            "days": "5",
            "credit_hours": "40",
            "capacity": size,
            "status": "open",
        },
    )
    s = session["id"]
    r = await admin.put(
        f"{API}/training-sessions/{s}/courses", json={"course_ids": [c["id"] for c in courses]}
    )
    r.raise_for_status()
    form = await _post(
        admin,
        f"{API}/evaluation-forms",
        {"org_unit_id": unit, "name": "评估表", "allow_comments": True, "indicators": INDICATORS},
    )
    (await admin.put(f"{API}/training-sessions/{s}/evaluation", json={"form_id": form["id"]}))
    trainees = []
    for n in range(size):
        birth = date(1965, 1, 1) + timedelta(days=next(_BIRTHS))
        body = cadre_body(unit, birth_date=birth.isoformat(), id_number=id_number(birth))
        cadre = (await _post(admin, f"{API}/cadres", body))["id"]
        await _post(admin, f"{API}/training-sessions/{s}/enrollments", {"cadre_id": cadre})
        name = f"t{secrets.token_hex(6)}"
        await _post(
            admin,
            f"{API}/users",
            {"username": name, "password": TRAINEE_PASSWORD, "role": "cadre", "cadre_id": cadre},
        )
        c = httpx.AsyncClient(base_url=base, timeout=120)
        c.headers.update(await _token(c, name, TRAINEE_PASSWORD))
        trainees.append(c)
        del n
    (await admin.post(f"{API}/training-sessions/{s}/close")).raise_for_status()
    body = {
        "ratings": [
            {"subject": "session", "scores": [4, 5, 3]},
            *({"subject": "course", "subject_id": c["id"], "scores": [4]} for c in courses),
            *({"subject": "teacher", "subject_id": t["id"], "scores": [5]} for t in teachers),
        ],
        "comments": [{"subject": "session", "body": "收获很大"}],
    }
    return s, trainees, body


async def _answer(c: httpx.AsyncClient, s: str, body: Any) -> float:
    start = time.perf_counter()
    r = await c.post(f"{API}/training-sessions/{s}/evaluation/answers", json=body)
    r.raise_for_status()
    return time.perf_counter() - start


async def _xmins(dsn: str, s: str) -> tuple[int, int, bool]:
    conn = await asyncpg.connect(dsn)
    try:
        answers = await conn.fetch(
            "SELECT DISTINCT xmin::text FROM evaluation_answer WHERE training_session_id = $1",
            s,
        )
        rows = await conn.fetchval(
            "SELECT count(*) FROM evaluation_answer WHERE training_session_id = $1", s
        )
        markers = await conn.fetch(
            "SELECT a.xmin::text FROM evaluation_answered a JOIN enrollment e "
            "ON e.id = a.enrollment_id WHERE e.training_session_id = $1",
            s,
        )
    finally:
        await conn.close()
    shared = {r[0] for r in answers} & {r[0] for r in markers}
    return len(answers), rows, not shared


async def _run(base: str, dsn: str, sizes: list[int], concurrency: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as admin:
        await _wait_live(admin)
        admin.headers.update(await _token(admin, ADMIN, PASSWORD))
        print(
            f"{'trainees':>8} {'mode':>12} {'median ms':>9} {'max ms':>7} {'wall s':>7} "
            f"{'rows':>5} {'xmins':>5} {'apart':>5}"
        )
        for size in sizes:
            for mode in ("sequential", f"{concurrency} at once"):
                s, trainees, body = await _class(admin, base, size)
                start = time.perf_counter()
                if mode == "sequential":
                    times = [await _answer(c, s, body) for c in trainees]
                else:
                    gate = asyncio.Semaphore(concurrency)

                    async def one(
                        c: httpx.AsyncClient,
                        s: str = s,
                        body: Any = body,
                        gate: asyncio.Semaphore = gate,
                    ) -> float:
                        async with gate:
                            return await _answer(c, s, body)

                    times = list(await asyncio.gather(*(one(c) for c in trainees)))
                wall = time.perf_counter() - start
                xmins, rows, apart = await _xmins(dsn, s)
                print(
                    f"{size:>8} {mode:>12} {statistics.median(times) * 1000:>9.1f} "
                    f"{max(times) * 1000:>7.1f} {wall:>7.2f} {rows:>5} {xmins:>5} {apart!s:>5}"
                )
                for c in trainees:
                    await c.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="30,100,200")
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{platform.node()}: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-evaluation-pg-") as tmp:
        cluster = LocalPostgres(Path(tmp) / "pg", ephemeral=True)
        url = cluster.start()
        env = {
            **_env(url, 64, None),
            "APP_BOOTSTRAP_ADMIN_USERNAME": ADMIN,
            "APP_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
            "APP_RATE_LIMIT__WRITES_PER_MINUTE": "1000000",
            "APP_RATE_LIMIT__TOKEN_PER_MINUTE": "1000000",
        }
        port = _free_port()
        server = _serve(REPO, env, port)
        try:
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            asyncio.run(_run(f"http://127.0.0.1:{port}", dsn, sizes, args.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=30)
            cluster.stop()


if __name__ == "__main__":
    main()
