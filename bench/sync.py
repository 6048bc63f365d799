"""Benchmark of the HR sync: N new cadres in batches of 10,000, then the same again (idempotent
pass, nothing to write), then every one of them changed (a reshuffle: each cadre moves to another
unit and gets a new position, so each batch is one `UPDATE ... FROM unnest(...)` of 10,000 rows
and its audit rows and change events), against a server started here.

    python -m bench.sync --database-url postgresql://.../bench_tenth --count 200000
"""

import argparse
import asyncio
import random
import time
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
from stdnum.cn import ric

from bench.compliance import _free_port, _plain, _prepare, _start_server, _token, _wait_ready

BATCH = 10_000


def _items(units: list[str], count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    items = []
    for n in range(count):
        # Unique numbers: 500 people a birth day, the sequence from the position; the seed moves
        # the birth days, so runs with different seeds rarely meet.
        born = date(1950, 1, 1) + timedelta(days=(seed % 7) * 1_200 + n // 500)
        male = n % 2 == 1
        sequence = (n % 500) * 2 + (1 if male else 0)
        body = f"340102{born:%Y%m%d}{sequence:03d}"
        items.append(
            {
                "hr_id": f"SYNC-{seed}-{n:07d}",
                "name": rng.choice("王李张刘陈杨黄赵") + rng.choice(["伟", "芳", "娜", "敏", "静"]),
                "id_number": body + ric.calc_check_digit(body + "0"),
                "gender": "male" if male else "female",
                "birth_date": born.isoformat(),
                "org_unit_code": rng.choice(units),
                "rank": rng.choice(["township_section", "section_member", "county_division"]),
            }
        )
    return items


def _reshuffled(items: list[dict[str, Any]], units: list[str], seed: int) -> list[dict[str, Any]]:
    """The same cadres, each in another unit (when there is one) and with a new position."""
    rng = random.Random(seed + 1)
    changed = []
    for item in items:
        others = [u for u in rng.sample(units, min(2, len(units))) if u != item["org_unit_code"]]
        unit = others[0] if others else item["org_unit_code"]
        changed.append({**item, "org_unit_code": unit, "position": f"调整后岗位 {seed}"})
    return changed


async def _pass(base: str, token: str, items: list[dict[str, Any]]) -> tuple[float, dict[str, int]]:
    totals: dict[str, int] = {}
    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600
    ) as client:
        for i in range(0, len(items), BATCH):
            r = await client.post("/api/v1/sync/cadres", json={"items": items[i : i + BATCH]})
            r.raise_for_status()
            for key, value in r.json()["counts"].items():
                totals[key] = totals.get(key, 0) + value
    return time.perf_counter() - started, totals


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    await _prepare(args.database_url)
    conn = await asyncpg.connect(_plain(args.database_url))
    try:
        units = [r["code"] for r in await conn.fetch("SELECT code FROM org_unit WHERE active")]
    finally:
        await conn.close()
    items = _items(units, args.count, args.seed)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(args.database_url, port, 1)
    try:
        await _wait_ready(base)
        token = await _token(base)
        elapsed, counts = await _pass(base, token, items)
        print(
            f"first pass: {args.count} cadres in {elapsed:.1f} s "
            f"({args.count / elapsed:,.0f}/s): {counts}"
        )
        elapsed, counts = await _pass(base, token, items)
        print(f"second pass (same rows): {elapsed:.1f} s: {counts}")
        elapsed, counts = await _pass(base, token, _reshuffled(items, units, args.seed))
        print(
            f"third pass (every row changed: unit and position): {elapsed:.1f} s "
            f"({args.count / elapsed:,.0f}/s): {counts}"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
