"""Trial of issue 16's lever 3: `study_log` partitioned by the year of `end_date`, measured
beside the table as it is, in the same database and the same run. Nothing of the product
changes: the trial builds a partitioned COPY of the table (`study_log_part`), then measures

1. **bulk writes**: the same `rows` new logs COPYed into `study_log` and into `study_log_part`,
   each in a transaction rolled back, alternating, with the same work on both sides: all
   indexes, the foreign key to `cadre`, and the sums trigger of migration 0004 (the audit
   trigger is switched off on `study_log` for the comparison: the copy has none);
2. **the reports' typical reads**: five years of approved logs grouped by cadre (the issue's
   yardstick for the province report), one year of logs (an export's range), the logs ending
   after the evaluation day (the report's `later` correction), and a cadre's logs as the
   compliance engine reads them (`cadre_id = … AND end_date >= …`, 300 random cadres);
3. **sizes**: the heap and indexes of both, and the largest partition's `(cadre_id, end_date)`
   index (the one written at random, which must stay in shared_buffers).

Why `end_date`: the engine's read (`end_date >= the window's first day`), the five-year window
(`end_date >= …`), the report's correction (`end_date > as_of`) and retention (a log that ended
before the cut is wholly out of it) all bound `end_date`; `start_date` would prune none of the
first three. What the product would need is in docs/scaling.md ("study_log: indexes and bulk
writes").

    python -m bench.partition_trial --database-url postgresql://postgres@127.0.0.1:56177/bulk_sb2g

The copy stays for the next run (`--rebuild` builds it again, `--drop` removes it and exits).
"""

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from app.enums import StudyLogKind, StudyLogStatus
from bench.province import plain_url

PART = "study_log_part"
# The indexes of study_log (migrations 0001, 0004, 0007) on the partitioned copy. A unique
# index of a partitioned table must hold the partition key: the primary key becomes
# (id, end_date), and the one-log-per-enrollment rule could no longer be a unique index.
INDEXES = (
    f"ALTER TABLE {PART} ADD PRIMARY KEY (id, end_date)",
    f"CREATE INDEX ON {PART} (cadre_id, end_date) "
    "INCLUDE (id, kind, start_date, hours, days, status)",
    f"CREATE INDEX ON {PART} (end_date)",
    f"CREATE INDEX ON {PART} (kind, start_date)",
    f"CREATE INDEX ON {PART} (training_session_id) WHERE training_session_id IS NOT NULL",
    f"CREATE UNIQUE INDEX ON {PART} (enrollment_id, end_date) WHERE enrollment_id IS NOT NULL",
    f"CREATE INDEX ON {PART} (end_date) WHERE end_date - start_date > 366",
    f"ALTER TABLE {PART} ADD FOREIGN KEY (cadre_id) REFERENCES cadre (id)",
    f"CREATE TRIGGER {PART}_sums AFTER INSERT ON {PART} REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION study_log_sums_insert()",
)
AS_OF = date(2026, 11, 27)
READS = {
    "five years of approved logs grouped by cadre": (
        "SELECT cadre_id, sum(hours), sum(days) FROM {t} WHERE status = 'approved' "
        "AND end_date >= '2022-01-01' AND start_date <= '2026-11-27' GROUP BY cadre_id"
    ),
    "one year of logs (2025), counted": (
        "SELECT count(*), sum(hours) FROM {t} "
        "WHERE start_date <= '2025-12-31' AND end_date >= '2025-01-01'"
    ),
    "logs ending after the evaluation day": (
        "SELECT cadre_id, kind, sum(hours) FROM {t} WHERE end_date > '2026-06-30' "
        "AND start_date <= '2026-12-31' AND status = 'approved' GROUP BY cadre_id, kind"
    ),
}
CADRE_READ = (
    "SELECT id, kind, start_date, end_date, hours, days, status FROM {t} "
    "WHERE cadre_id = $1 AND end_date >= $2"
)
COLUMNS = ("id", "cadre_id", "kind", "title", "start_date", "end_date", "hours", "days")
COLUMNS_ALL = (*COLUMNS, "status", "source", "version", "reviewed_at")


async def _build(conn: asyncpg.Connection) -> dict[str, float]:
    """The partitioned copy: one partition per year of end_date, loaded, then indexed."""
    first, last = await conn.fetchrow(
        "SELECT EXTRACT(YEAR FROM min(end_date))::int, EXTRACT(YEAR FROM max(end_date))::int "
        "FROM study_log"
    )
    took: dict[str, float] = {}
    started = time.perf_counter()
    await conn.execute(f"DROP TABLE IF EXISTS {PART}")
    await conn.execute(
        f"CREATE TABLE {PART} (LIKE study_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        "PARTITION BY RANGE (end_date)"
    )
    for year in range(first, last + 2):
        await conn.execute(
            f"CREATE TABLE {PART}_{year} PARTITION OF {PART} "
            f"FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')"
        )
    await conn.execute(f"CREATE TABLE {PART}_default PARTITION OF {PART} DEFAULT")
    await conn.execute(f"INSERT INTO {PART} SELECT * FROM study_log")
    took["copy the rows"] = time.perf_counter() - started
    await conn.execute("SET maintenance_work_mem = '512MB'")
    started = time.perf_counter()
    for statement in INDEXES:
        await conn.execute(statement)
    took["build the indexes"] = time.perf_counter() - started
    await conn.execute(f"VACUUM (ANALYZE) {PART}")
    return took


def _rows(cadres: list[uuid.UUID], count: int, seed: int) -> list[tuple[Any, ...]]:
    """`count` new approved logs over ten years, as an HR import brings them."""
    rng = random.Random(seed)
    kinds = [k.value for k in StudyLogKind]
    now = datetime.now(UTC)
    out = []
    for n in range(count):
        start = date(2017, 1, 1) + timedelta(days=rng.randrange(3_600))
        end = start + timedelta(days=rng.randrange(3))
        out.append(
            (
                uuid.uuid4(),
                rng.choice(cadres),
                rng.choice(kinds),
                f"trial {seed}-{n}",
                start,
                end,
                Decimal(rng.randrange(1, 20)),
                Decimal(0),
                StudyLogStatus.approved.value,
                "import",
                1,
                now,
            )
        )
    return out


async def _copy(conn: asyncpg.Connection, table: str, rows: list[tuple[Any, ...]]) -> float:
    tx = conn.transaction()
    await tx.start()
    try:
        if table == "study_log":
            await conn.execute("ALTER TABLE study_log DISABLE TRIGGER audit_trail_insert")
        started = time.perf_counter()
        await conn.copy_records_to_table(table, columns=COLUMNS_ALL, records=rows)
        return time.perf_counter() - started
    finally:
        await tx.rollback()


async def _timed(conn: asyncpg.Connection, sql: str, *args: Any) -> float:
    started = time.perf_counter()
    await conn.fetch(sql, *args)
    return time.perf_counter() - started


async def _cadre_reads(conn: asyncpg.Connection, table: str, cadres: list[uuid.UUID]) -> float:
    statement = await conn.prepare(CADRE_READ.format(t=table))
    ending_from = date(AS_OF.year - 5, 1, 1)
    started = time.perf_counter()
    for cadre in cadres:
        await statement.fetch(cadre, ending_from)
    return (time.perf_counter() - started) / len(cadres)


async def _sizes(conn: asyncpg.Connection) -> dict[str, str]:
    def mb(n: int) -> str:
        return f"{n / 2**20:,.0f} MB"

    plain = await conn.fetchrow(
        "SELECT pg_table_size('study_log') AS heap, pg_indexes_size('study_log') AS idx, "
        "pg_relation_size('ix_study_log_cadre_id_end_date') AS cadre_idx"
    )
    part = await conn.fetchrow(
        "SELECT sum(pg_table_size(c.oid))::bigint AS heap, "
        "sum(pg_indexes_size(c.oid))::bigint AS idx FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
        PART,
    )
    biggest = await conn.fetchval(
        "SELECT max(pg_relation_size(x.indexrelid)) FROM pg_inherits i "
        "JOIN pg_index x ON x.indrelid = i.inhrelid "
        "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0] "
        "WHERE i.inhparent = $1::regclass AND a.attname = 'cadre_id'",
        PART,
    )
    return {
        "heap": f"{mb(plain['heap'])} / {mb(part['heap'])}",
        "all indexes": f"{mb(plain['idx'])} / {mb(part['idx'])}",
        "(cadre_id, end_date) index, largest piece": f"{mb(plain['cadre_idx'])} / {mb(biggest)}",
    }


async def run(args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(
        plain_url(args.database_url), server_settings={"jit": "off"}, command_timeout=None
    )
    try:
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", PART)
        if args.drop:
            await conn.execute(f"DROP TABLE IF EXISTS {PART}")
            print(f"{PART} dropped")
            return
        if args.rebuild or not exists:
            for what, seconds in (await _build(conn)).items():
                print(f"built {PART}: {what} in {seconds:.1f} s", flush=True)
        cadres = [
            r["id"] for r in await conn.fetch("SELECT id FROM cadre ORDER BY random() LIMIT 20000")
        ]
        print("\n| what | study_log | partitioned by year of end_date | partitioned / plain |")
        print("|---|---:|---:|---:|")
        rows = _rows(cadres, args.rows, args.seed)
        copies: dict[str, list[float]] = {"study_log": [], PART: []}
        for n in range(args.repeat):
            for table in ["study_log", PART] if n % 2 == 0 else [PART, "study_log"]:
                copies[table].append(await _copy(conn, table, rows))
        plain, part = (args.rows / statistics.median(copies[t]) for t in ("study_log", PART))
        print(
            f"| COPY of {args.rows:,} new logs (indexes, FK, sums trigger), rows/s "
            f"| {plain:,.0f} | {part:,.0f} | {part / plain:.2f} |",
            flush=True,
        )
        for what, sql in READS.items():
            times: dict[str, list[float]] = {"study_log": [], PART: []}
            for n in range(args.repeat):
                for table in ["study_log", PART] if n % 2 == 0 else [PART, "study_log"]:
                    times[table].append(await _timed(conn, sql.format(t=table)))
            a, b = (statistics.median(times[t]) for t in ("study_log", PART))
            print(f"| {what}, s | {a:.2f} | {b:.2f} | {b / a:.2f} |", flush=True)
        sample = cadres[: args.cadres]
        reads: dict[str, list[float]] = {"study_log": [], PART: []}
        for n in range(args.repeat):
            for table in ["study_log", PART] if n % 2 == 0 else [PART, "study_log"]:
                reads[table].append(await _cadre_reads(conn, table, sample))
        a, b = (1000 * statistics.median(reads[t]) for t in ("study_log", PART))
        print(
            f"| a cadre's logs since the window's first year, ms a cadre "
            f"({len(sample)} cadres) | {a:.2f} | {b:.2f} | {b / a:.2f} |"
        )
        for what, both in (await _sizes(conn)).items():
            print(f"| {what} (plain / partitioned) | {both} | | |")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=50_000, help="new logs per COPY")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; medians")
    parser.add_argument("--cadres", type=int, default=300, help="cadres whose logs are read")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true", help="build the partitioned copy anew")
    parser.add_argument("--drop", action="store_true", help="drop the partitioned copy and exit")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
