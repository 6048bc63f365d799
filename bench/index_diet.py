"""Issue 16 lever 4, the index diet: every index on `study_log` and `cadre_year_kind` with its
size, and the hot queries of the repositories with the plan PostgreSQL picks for each (which
index, which scan), EXPLAIN ANALYZE'd on the database given (the scale-1.0 province).

    python -m bench.index_diet --database-url postgresql://postgres@127.0.0.1:56100/bench_<you>
    python -m bench.index_diet --database-url … --slim-trial

`--slim-trial` weighs the one fat index, `(cadre_id, end_date) INCLUDE (id, kind, start_date,
hours, days, status)`, against the same key without the INCLUDE, both built afresh in one
transaction that is rolled back: its size, a COPY of new logs (the bench.partition_trial
comparison: indexes, FK, sums trigger) and a cadre's logs read as the engine reads them.

The queries are the repositories' own statements with typical values (the built-in policy's
centralised kinds, a current-year report judged on 2026-11-27, a five-year window from 2022);
foreign-key checks are shown as the lookup the referential trigger runs.
"""

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import asyncpg

from bench.partition_trial import _cadre_reads, _copy, _rows
from bench.province import plain_url

CADRE = "(SELECT id FROM cadre WHERE status = 'active' ORDER BY id LIMIT 1 OFFSET 777)"
SESSION = (
    "(SELECT training_session_id FROM study_log WHERE training_session_id IS NOT NULL LIMIT 1)"
)
ENROLLMENT = "(SELECT enrollment_id FROM study_log WHERE enrollment_id IS NOT NULL LIMIT 1)"
LOG = "(SELECT id FROM study_log ORDER BY id DESC LIMIT 1)"

# what, where in the code, SQL
QUERIES: tuple[tuple[str, str, str], ...] = (
    (
        "a cadre's logs for the engine (compliance, credits)",
        "study_log.repository.engine_rows",
        "SELECT id, kind, start_date, end_date, hours, days, status FROM study_log "
        f"WHERE cadre_id = {CADRE} AND end_date >= '2021-01-01'",
    ),
    (
        "a cadre's log list",
        "study_log.repository (list, cadre_id)",
        f"SELECT * FROM study_log WHERE cadre_id = {CADRE} ORDER BY start_date, id LIMIT 50",
    ),
    (
        "a log by id; the import's ON CONFLICT (id); certificate/thesis/online_record FKs",
        "study_log.repository.get, study_log.bulk.import_many",
        f"SELECT * FROM study_log WHERE id = {LOG}",
    ),
    (
        "report: centralised logs across the window's start (window_cut, 1st branch)",
        "compliance.repository._FIGURES_SQL",
        "SELECT cadre_id, hours, days FROM study_log WHERE kind = ANY('{centralised_training}') "
        "AND start_date >= '2020-01-01' AND start_date < '2021-01-01' "
        "AND end_date >= '2021-01-01'",
    ),
    (
        "report: logs longer than a year (window_cut, 2nd branch)",
        "compliance.repository._FIGURES_SQL",
        "SELECT cadre_id, hours, days FROM study_log WHERE end_date - start_date > 366 "
        "AND end_date >= '2021-01-01' AND start_date < '2020-01-01' "
        "AND kind = ANY('{centralised_training}')",
    ),
    (
        "report: logs after the evaluation day (later)",
        "compliance.repository._FIGURES_SQL",
        "SELECT cadre_id, kind, sum(hours) FROM study_log WHERE end_date > '2026-11-27' "
        "AND start_date <= '2026-12-31' AND status = 'approved' GROUP BY cadre_id, kind",
    ),
    (
        "roll-call: last centralised training per cadre (whole province)",
        "compliance.repository._ROLL_CALL_SQL",
        "SELECT cadre_id, max(LEAST(end_date, '2026-11-27')) FROM study_log "
        "WHERE kind = ANY('{centralised_training}') AND status = 'approved' "
        "AND start_date <= '2026-11-27' GROUP BY cadre_id",
    ),
    (
        "online checks: stored online records of two days",
        "online.repository.stored_watches",
        "SELECT id FROM study_log WHERE kind = 'online_course' "
        "AND start_date BETWEEN '2026-03-01' AND '2026-03-02' AND status <> 'voided'",
    ),
    (
        "FK check when a session is deleted; closing a session",
        "RESTRICT FK training_session_id",
        f"SELECT 1 FROM study_log WHERE training_session_id = {SESSION}",
    ),
    (
        "one log per enrollment (unique); FK check when an enrollment is deleted",
        "uq_study_log_enrollment_id",
        f"SELECT 1 FROM study_log WHERE enrollment_id = {ENROLLMENT}",
    ),
    (
        "report: five-year centralised sums (five)",
        "compliance.repository._FIGURES_SQL",
        "SELECT cadre_id, sum(days), sum(hours) FROM cadre_year_kind "
        "WHERE kind = ANY('{centralised_training}') AND year BETWEEN 2022 AND 2026 "
        "GROUP BY cadre_id",
    ),
    (
        "report: the year's sums per kind (per_kind)",
        "compliance.repository._FIGURES_SQL",
        "SELECT cadre_id, kind, hours, days, items FROM cadre_year_kind WHERE year = 2026",
    ),
    (
        "sums trigger upsert ON CONFLICT (cadre_id, year, kind); a cadre's sums",
        "migration 0004 study_log_sums_*",
        f"SELECT * FROM cadre_year_kind WHERE cadre_id = {CADRE} AND year = 2026",
    ),
)


def _scans(node: dict[str, Any], out: list[str]) -> None:
    kind = node["Node Type"]
    if "Index Name" in node:
        out.append(f"{kind} {node['Index Name']}")
    elif kind == "Seq Scan":
        out.append(f"Seq Scan {node['Relation Name']}")
    for child in node.get("Plans", []):
        _scans(child, out)


async def run(url: str) -> None:
    conn = await asyncpg.connect(plain_url(url), server_settings={"jit": "off"})
    try:
        print("| index | size | definition |")
        print("|---|---:|---|")
        for row in await conn.fetch(
            "SELECT c.relname, pg_relation_size(c.oid) AS size, pg_get_indexdef(c.oid) AS def "
            "FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
            "WHERE x.indrelid IN ('study_log'::regclass, 'cadre_year_kind'::regclass) "
            "ORDER BY x.indrelid, c.relname"
        ):
            definition = row["def"].split(" USING ", 1)[1]
            print(f"| {row['relname']} | {row['size'] / 2**20:,.0f} MB | `{definition}` |")
        print("\n| query | code | plan (scans) | ms |")
        print("|---|---|---|---:|")
        for what, where, sql in QUERIES:
            started = time.perf_counter()
            plan = json.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))[0]
            elapsed = 1000 * (time.perf_counter() - started)
            scans: list[str] = []
            _scans(plan["Plan"], scans)
            shown = "; ".join(dict.fromkeys(scans))
            print(f"| {what} | `{where}` | {shown} | {elapsed:,.1f} |", flush=True)
    finally:
        await conn.close()


COVERING = (
    "CREATE INDEX {name} ON study_log (cadre_id, end_date) "
    "INCLUDE (id, kind, start_date, hours, days, status)"
)
SLIM = "CREATE INDEX {name} ON study_log (cadre_id, end_date)"


async def slim_trial(url: str, rows: int, repeat: int) -> None:
    conn = await asyncpg.connect(
        plain_url(url), server_settings={"jit": "off"}, command_timeout=None
    )
    try:
        cadres = [
            r["id"] for r in await conn.fetch("SELECT id FROM cadre ORDER BY random() LIMIT 300")
        ]
        new_rows = _rows(cadres, rows, seed=3)
        print("| (cadre_id, end_date) index | size | build s | COPY rows/s | ms a cadre's logs |")
        print("|---|---:|---:|---:|---:|")
        outer = conn.transaction()
        await outer.start()
        try:
            await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            await conn.execute("DROP INDEX ix_study_log_cadre_id_end_date")
            for label, ddl in (("with INCLUDE (as today)", COVERING), ("without INCLUDE", SLIM)):
                await conn.execute("DROP INDEX IF EXISTS trial_cadre_end")
                started = time.perf_counter()
                await conn.execute(ddl.format(name="trial_cadre_end"))
                built = time.perf_counter() - started
                size = await conn.fetchval("SELECT pg_relation_size('trial_cadre_end')")
                await conn.execute("ANALYZE study_log")
                copies = [await _copy(conn, "study_log", new_rows) for _ in range(repeat)]
                await _cadre_reads(conn, "study_log", cadres)  # warm
                read = min([await _cadre_reads(conn, "study_log", cadres) for _ in range(repeat)])
                print(
                    f"| {label} | {size / 2**20:,.0f} MB | {built:.0f} | "
                    f"{rows / statistics.median(copies):,.0f} | {1000 * read:.2f} |",
                    flush=True,
                )
        finally:
            await outer.rollback()
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--slim-trial", action="store_true", help="the INCLUDE's cost and use")
    parser.add_argument("--rows", type=int, default=50_000, help="new logs per COPY (trial)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.slim_trial:
        asyncio.run(slim_trial(args.database_url, args.rows, args.repeat))
    else:
        asyncio.run(run(args.database_url))


if __name__ == "__main__":
    main()
