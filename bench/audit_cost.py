"""What the audit trigger (migration 0013) costs an UPDATE of cadres, per row and per statement.

    python -m bench.audit_cost --database-url postgresql://.../bench_tenth [--rows 10000]

Straight against the database, no service: in transactions that are rolled back, it times
- one `UPDATE cadre ... FROM unnest(...)` of `--rows` cadres (the shape of the HR sync's update,
  two columns changed a row): the per-row cost;
- `--statements` UPDATEs of one cadre each: the fixed cost of a statement;
each with the audit trigger in force and with `audit_trail_update` disabled in that transaction,
alternately, `--repeat` times. The difference is the trigger's cost (audit rows, change events,
and building the statement that writes them). Figures only: this asserts nothing.
"""

import argparse
import asyncio
import statistics
import time

import asyncpg

from bench.compliance import _plain

TRIGGER = "audit_trail_update"

UPDATE_MANY = """
UPDATE cadre AS c SET position = u.position, org_unit_id = u.org_unit_id,
                      version = c.version + 1, updated_at = now()
FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS u(id, position, org_unit_id)
WHERE c.id = u.id
"""
UPDATE_ONE = """
UPDATE cadre SET position = $2, version = version + 1, updated_at = now() WHERE id = $1
"""


async def _measure(
    conn: asyncpg.Connection, audited: bool, ids: list[object], units: list[object], n_one: int
) -> tuple[float, float]:
    """Seconds of the set-wise UPDATE, and of `n_one` one-row UPDATEs; rolled back."""
    tr = conn.transaction()
    await tr.start()
    try:
        if not audited:
            await conn.execute(f"ALTER TABLE cadre DISABLE TRIGGER {TRIGGER}")
        await conn.execute("SELECT set_config('app.actor_username', 'bench', true)")
        positions = [f"bench {i}" for i in range(len(ids))]
        moved = [units[i % len(units)] for i in range(len(ids))]
        started = time.perf_counter()
        await conn.execute(UPDATE_MANY, ids, positions, moved)
        many = time.perf_counter() - started
        one_stmt = await conn.prepare(UPDATE_ONE)
        started = time.perf_counter()
        for i in range(n_one):
            await one_stmt.fetch(ids[i], f"one {i}")
        one = time.perf_counter() - started
        return many, one
    finally:
        await tr.rollback()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--statements", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    conn = await asyncpg.connect(_plain(args.database_url))
    try:
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM cadre ORDER BY md5(id::text) LIMIT $1", args.rows
            )
        ]
        units = [r["id"] for r in await conn.fetch("SELECT id FROM org_unit WHERE active")]
        results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        await _measure(conn, True, ids, units, args.statements)  # warm-up
        for _ in range(args.repeat):
            for audited in (True, False):
                results[audited].append(await _measure(conn, audited, ids, units, args.statements))
    finally:
        await conn.close()
    medians = {}
    for audited, runs in results.items():
        many = statistics.median(r[0] for r in runs)
        one = statistics.median(r[1] for r in runs)
        medians[audited] = (many, one)
        what = "audit trigger on " if audited else "audit trigger off"
        print(
            f"{what}: UPDATE of {len(ids):,} rows {many:.3f} s "
            f"({1e6 * many / len(ids):.1f} µs a row; runs "
            f"{', '.join(f'{r[0]:.3f}' for r in runs)}); "
            f"{args.statements} one-row UPDATEs {one:.3f} s "
            f"({1e3 * one / args.statements:.3f} ms a statement)"
        )
    per_row = (medians[True][0] - medians[False][0]) / len(ids)
    per_stmt = (medians[True][1] - medians[False][1]) / args.statements
    print(
        f"audit trigger: +{1e6 * per_row:.1f} µs a row updated (set-wise), "
        f"+{1e3 * per_stmt:.3f} ms a one-row statement"
    )


if __name__ == "__main__":
    asyncio.run(main())
