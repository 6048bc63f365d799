"""The national roll-up: provinces aggregated through their change feeds, no shared database.

Each province is one deployment with its own database. The national level is a consumer with a
database of its own: it reads each province only through that province's API, as a client (an
`auditor`: ID numbers never leave a province, they are masked or `"<changed>"`), and keeps

- a mirror of the few columns its figures need (a cadre's rank and status; a study log's cadre,
  kind, dates, hours and status), one row per (province, entity), with, per column, the id of the
  change event that last set it;
- one cursor per province.

Start: take the end of the province's feed (`GET /api/v1/changes`, paged to its end), THEN copy
the current rows through the list APIs (`GET /api/v1/cadres`, `GET /api/v1/study-logs`): a
generated or long-running province holds rows whose creation is no longer (or never was) in the
feed. Then follow the feed from that cursor. Whatever changed between the cursor and the copy
comes again from the feed: at least once.

Apply is idempotent and order-proof: an event sets a column only if its id is higher than the id
that set the column last. Two transactions that change one row are serialised by the row's lock,
so the later change always has the higher event id, even when the feed (ordered by transaction
id) lists it first. A replayed event changes nothing; the snapshot's values count as event 0.

A 410 (the province pruned the feed past the cursor, `APP_CHANGES_RETENTION_DAYS`) marks the
province as needing a new snapshot: `NeedsSnapshot`.

The figures (`national_figures`) are computed in the national database with the service's own
rules: active cadres by rank; approved hours per calendar year and kind, each log split pro rata
by calendar days (docs/rules.md rule 2), the same expression `cadre_year_kind` is kept with
(migration 0004), so they equal the province's own figures to the last digit
(`province_figures`, which reads a province's database: checks only, never the consumer).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

API = "/api/v1"
# The API's largest page (app.pagination.MAX_PAGE_SIZE); the consumer reads at it.
PAGE_SIZE = 500

# What the national figures need of each entity the feed carries; the rest is skipped.
MIRRORED: Mapping[str, tuple[str, ...]] = {
    "cadre": ("rank", "status"),
    "study_log": ("cadre_id", "kind", "start_date", "end_date", "hours", "status"),
}
FEED = f"{API}/changes"
_LISTS = {"cadre": f"{API}/cadres", "study_log": f"{API}/study-logs"}

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS national_province (
        province text PRIMARY KEY,
        cursor text,
        needs_snapshot boolean NOT NULL DEFAULT true,
        events_applied bigint NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS national_entity (
        province text NOT NULL,
        entity_type text NOT NULL,
        id uuid NOT NULL,
        data jsonb NOT NULL,
        stamps jsonb NOT NULL,
        deleted_event bigint,
        PRIMARY KEY (province, entity_type, id)
    )""",
)


class NeedsSnapshot(Exception):
    """The province answered 410: its feed was pruned past our cursor (or, for a consumer without
    a cursor, it has ever been pruned). Copy the province again."""

    def __init__(self, province: str) -> None:
        super().__init__(f"province {province}: the change feed was pruned past the cursor")
        self.province = province


@dataclass(frozen=True)
class Province:
    """A province as the national consumer sees it: a code and an authenticated API client."""

    code: str
    client: httpx.AsyncClient


@dataclass
class Figures:
    """A province's figures: active cadres by rank; approved hours by (year, kind)."""

    active_by_rank: dict[str, int] = field(default_factory=dict)
    hours: dict[tuple[int, str], Decimal] = field(default_factory=dict)


@dataclass
class Progress:
    events: int = 0  # events read from the feed
    applied: int = 0  # of those, events of a mirrored entity
    pages: int = 0
    seconds: float = 0.0
    apply_seconds: float = 0.0  # of which in the national database (the rest: the province)


async def prepare(conn: AsyncConnection) -> None:
    """The consumer's own schema in its own database (no migration of the service's)."""
    async with conn.begin():
        for statement in SCHEMA:
            await conn.execute(text(statement))


async def _get(province: Province, url: str, params: dict[str, str | int]) -> dict[str, Any]:
    response = await province.client.get(url, params=params)
    if response.status_code == 410:
        raise NeedsSnapshot(province.code)
    response.raise_for_status()
    page: dict[str, Any] = response.json()
    return page


async def _pages(
    province: Province, url: str, cursor: str | None, *, feed: bool, ahead: bool = False
) -> AsyncGenerator[dict[str, Any], None]:
    """The pages of a cursor-paged read at the largest page size. With `ahead`, the next page is
    requested while the caller works on this one (a round trip to the province hidden behind
    the national database's write); measured slower on this 2-core machine (bench/national.py),
    so off by default. The feed ends on an empty page (its cursor stays); a list
    on a null `next_cursor`."""

    async def fetch(after: str | None) -> dict[str, Any]:
        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        if after:
            params["cursor"] = after
        return await _get(province, url, params)

    pending: asyncio.Task[dict[str, Any]] | None = None
    try:
        page = await fetch(cursor)
        while True:
            last = not page["items"] if feed else not page["next_cursor"]
            if ahead and not last:
                pending = asyncio.ensure_future(fetch(page["next_cursor"]))
            yield page
            if last:
                return
            page = await pending if pending is not None else await fetch(page["next_cursor"])
            pending = None
    finally:
        if pending is not None:
            pending.cancel()


async def feed_end(province: Province) -> str | None:
    """The cursor after the last settled event: the feed read to its end, nothing applied."""
    cursor: str | None = None
    async with aclosing(_pages(province, FEED, None, feed=True)) as pages:
        async for page in pages:
            if page["items"]:
                cursor = page["next_cursor"]
    return cursor


async def snapshot(conn: AsyncConnection, province: Province) -> int:
    """Copy the province's cadres and study logs through its list APIs, after taking the end of
    its feed as the cursor to follow from; the rows copied. One transaction: the old mirror of
    the province is replaced whole."""
    cursor = await feed_end(province)
    async with conn.begin():
        return await _replace(conn, province, cursor)


async def _replace(conn: AsyncConnection, province: Province, cursor: str | None) -> int:
    await conn.execute(
        text("DELETE FROM national_entity WHERE province = :p"), {"p": province.code}
    )
    rows = 0
    for entity_type, columns in MIRRORED.items():
        async with aclosing(_pages(province, _LISTS[entity_type], None, feed=False)) as pages:
            async for page in pages:
                items = page["items"]
                await _write(
                    conn,
                    province.code,
                    entity_type,
                    [
                        (item["id"], {c: _text(item.get(c)) for c in columns}, {}, None)
                        for item in items
                    ],
                )
                rows += len(items)
    await conn.execute(
        text(
            "INSERT INTO national_province (province, cursor, needs_snapshot) "
            "VALUES (:p, :c, false) ON CONFLICT (province) DO UPDATE "
            "SET cursor = EXCLUDED.cursor, needs_snapshot = false"
        ),
        {"p": province.code, "c": cursor},
    )
    return rows


def _text(value: object) -> str | None:
    return None if value is None else str(value)


Row = tuple[str, dict[str, str | None], dict[str, int], int | None]


async def _write(conn: AsyncConnection, province: str, entity_type: str, rows: list[Row]) -> None:
    """Upsert mirror rows: one statement a page (arrays unnested), not one per row."""
    if not rows:
        return
    await conn.execute(
        text(
            "INSERT INTO national_entity (province, entity_type, id, data, stamps, deleted_event) "
            "SELECT :p, :t, r.id, r.data::jsonb, r.stamps::jsonb, r.deleted FROM unnest("
            "CAST(:ids AS uuid[]), CAST(:data AS text[]), CAST(:stamps AS text[]), "
            "CAST(:deleted AS bigint[])) AS r(id, data, stamps, deleted) "
            "ON CONFLICT (province, entity_type, id) DO UPDATE SET "
            "data = EXCLUDED.data, stamps = EXCLUDED.stamps, deleted_event = EXCLUDED.deleted_event"
        ),
        {
            "p": province,
            "t": entity_type,
            "ids": [entity_id for entity_id, _, _, _ in rows],
            "data": [json.dumps(data) for _, data, _, _ in rows],
            "stamps": [json.dumps(stamps) for _, _, stamps, _ in rows],
            "deleted": [deleted for _, _, _, deleted in rows],
        },
    )


def merge(data: dict[str, str | None], stamps: dict[str, int], event: Mapping[str, Any]) -> bool:
    """Apply one creation or update event to a mirror row's columns in place; whether anything
    changed. A column takes the event's value only if no later event (a higher id) set it: a
    creation sets every column (one it leaves out is null), an update the columns it names."""
    event_id = int(event["id"])
    changed = False
    for column in MIRRORED[event["entity_type"]]:
        if column not in event["changes"] and event["action"] == "update":
            continue
        if stamps.get(column, 0) >= event_id:
            continue
        change = event["changes"].get(column)
        data[column] = _text(change["after"] if isinstance(change, dict) else change)
        stamps[column] = event_id
        changed = True
    return changed


async def apply_events(
    conn: AsyncConnection, province: str, events: Sequence[Mapping[str, Any]]
) -> int:
    """Apply a page of feed events to the mirror (events of other entities are skipped); the
    count of events of mirrored entities. Idempotent: a page applied twice changes nothing."""
    applied = 0
    for entity_type in MIRRORED:
        mine = [e for e in events if e["entity_type"] == entity_type]
        if not mine:
            continue
        applied += len(mine)
        ids = sorted({str(e["entity_id"]) for e in mine})
        found = await conn.execute(
            text(
                "SELECT id::text, data, stamps, deleted_event FROM national_entity "
                "WHERE province = :p AND entity_type = :t AND id = ANY(CAST(:ids AS uuid[])) "
                "FOR UPDATE"
            ),
            {"p": province, "t": entity_type, "ids": ids},
        )
        rows: dict[str, list[Any]] = {r[0]: [r[0], r[1], r[2], r[3]] for r in found}
        touched: set[str] = set()
        for event in mine:
            key = str(event["entity_id"])
            row = rows.setdefault(key, [key, {}, {}, None])
            if event["action"] == "delete":
                if row[3] is None or row[3] < int(event["id"]):
                    row[3] = int(event["id"])
                    touched.add(key)
            elif merge(row[1], row[2], event):
                touched.add(key)
        await _write(
            conn,
            province,
            entity_type,
            [(r[0], r[1], r[2], r[3]) for key, r in rows.items() if key in touched],
        )
    return applied


async def catch_up(conn: AsyncConnection, province: Province, *, ahead: bool = False) -> Progress:
    """Follow the province's feed from the stored cursor to its end, a page at a time, each page
    applied and the cursor moved in one transaction of the national database (so a crash
    repeats at most the page under way, which applies idempotently). A 410 marks the province
    as needing a new snapshot and raises `NeedsSnapshot`."""
    progress = Progress()
    started = time.perf_counter()
    async with conn.begin():
        state = (
            await conn.execute(
                text("SELECT cursor, needs_snapshot FROM national_province WHERE province = :p"),
                {"p": province.code},
            )
        ).first()
    if state is None or state[1]:
        raise NeedsSnapshot(province.code)
    try:
        async with aclosing(_pages(province, FEED, state[0], feed=True, ahead=ahead)) as pages:
            async for page in pages:
                items = page["items"]
                if not items:
                    break
                applying = time.perf_counter()
                async with conn.begin():
                    progress.applied += await apply_events(conn, province.code, items)
                    await conn.execute(
                        text(
                            "UPDATE national_province SET cursor = :c, "
                            "events_applied = events_applied + :n WHERE province = :p"
                        ),
                        {"p": province.code, "c": page["next_cursor"], "n": len(items)},
                    )
                progress.apply_seconds += time.perf_counter() - applying
                progress.events += len(items)
                progress.pages += 1
    except NeedsSnapshot:
        async with conn.begin():
            await conn.execute(
                text("UPDATE national_province SET needs_snapshot = true WHERE province = :p"),
                {"p": province.code},
            )
        raise
    progress.seconds = time.perf_counter() - started
    return progress


async def needs_snapshot(conn: AsyncConnection, province: str) -> bool:
    async with conn.begin():
        state = await conn.scalar(
            text("SELECT needs_snapshot FROM national_province WHERE province = :p"),
            {"p": province},
        )
    return state is None or bool(state)


# docs/rules.md rule 2, as migration 0004 keeps `cadre_year_kind`: each approved log's share of
# each calendar year it touches, by calendar days, per log the same numeric expression.
_HOURS = """
SELECT y.year, l.kind, SUM(1 * l.hours * s.overlap / s.total) AS hours
FROM (
    SELECT data->>'kind' AS kind, (data->>'start_date')::date AS start_date,
           (data->>'end_date')::date AS end_date, (data->>'hours')::numeric AS hours
    FROM national_entity
    WHERE province = :p AND entity_type = 'study_log' AND deleted_event IS NULL
      AND data->>'status' = 'approved'
) l
CROSS JOIN LATERAL generate_series(
    EXTRACT(YEAR FROM l.start_date)::int, EXTRACT(YEAR FROM l.end_date)::int
) AS y(year)
CROSS JOIN LATERAL (
    SELECT LEAST(l.end_date, make_date(y.year, 12, 31))
           - GREATEST(l.start_date, make_date(y.year, 1, 1)) + 1 AS overlap,
           l.end_date - l.start_date + 1 AS total
) AS s
GROUP BY y.year, l.kind
"""
_RANKS = """
SELECT data->>'rank', count(*) FROM national_entity
WHERE province = :p AND entity_type = 'cadre' AND deleted_event IS NULL
  AND data->>'status' = 'active'
GROUP BY 1
"""


def _figures(ranks: Iterable[Any], hours: Iterable[Any]) -> Figures:
    # A year and kind whose hours sum to zero (a log approved, then voided) is no figure.
    return Figures(
        active_by_rank={str(r[0]): int(r[1]) for r in ranks},
        hours={(int(h[0]), str(h[1])): Decimal(h[2]) for h in hours if Decimal(h[2]) != 0},
    )


async def national_figures(conn: AsyncConnection, province: str) -> Figures:
    """A province's figures as the national database holds them."""
    p = {"p": province}
    async with conn.begin():
        return _figures(
            (await conn.execute(text(_RANKS), p)).all(), (await conn.execute(text(_HOURS), p)).all()
        )


async def province_figures(conn: AsyncConnection) -> Figures:
    """The same figures from a province's own database (what its reports read): for checks."""
    async with conn.begin():
        ranks = await conn.execute(
            text("SELECT rank, count(*) FROM cadre WHERE status = 'active' GROUP BY rank")
        )
        hours = await conn.execute(
            text("SELECT year, kind, SUM(hours) FROM cadre_year_kind GROUP BY year, kind")
        )
        return _figures(ranks.all(), hours.all())


def differences(national: Figures, province: Figures) -> list[str]:
    """Every figure on which the two disagree, as text; empty when they are equal."""
    out: list[str] = []
    for rank in sorted(set(national.active_by_rank) | set(province.active_by_rank)):
        a, b = national.active_by_rank.get(rank, 0), province.active_by_rank.get(rank, 0)
        if a != b:
            out.append(f"active {rank}: national {a}, province {b}")
    for key in sorted(set(national.hours) | set(province.hours)):
        h, k = national.hours.get(key, Decimal(0)), province.hours.get(key, Decimal(0))
        if h != k:
            out.append(f"hours {key[0]} {key[1]}: national {h}, province {k}")
    return out
