"""Every query of the compliance domain: the compliance figures of many cadres at once,
computed in PostgreSQL (the per-cadre figures read a cadre's logs through the study-log
repository).

Reports cover up to a whole province (200,000 cadres, millions of logs): loading every log into
Python is out of the question, so the sums of the rules (docs/rules.md) — pro rata by calendar
days at the edges of the five-year window and of the year, per-kind factors, per-item credits and
annual caps — are taken in SQL, and only one row per cadre comes back. Whole years come from
`cadre_year_kind` (kept by triggers); only the logs across the period's edges are read one by
one. The status logic then runs on those figures with the same thresholds as the engine. A
property test holds the two paths to the same answers.

Numeric division in PostgreSQL rounds near the 16th significant digit where the engine's
fractions are exact: shares are multiplied before they are divided, and thresholds are compared
with a tolerance of 1e-9 (see TOLERANCE).
"""

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.credit_policy.engine import RequirementStatus, window_start
from app.credit_policy.engine.common import add_years
from app.credit_policy.policy import CreditMode, Policy
from app.enums import Rank

_FIGURES_SQL = """
WITH rules AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rules AS jsonb))
        AS r(kind text, mode text, factor numeric, credit numeric, cap numeric)
),
-- Read once; every part below joins it, so a county's report reads its own cadres' rows through
-- the indexes and a province's hashes its cadres once per table read.
cadres AS MATERIALIZED (
    SELECT c.id, c.org_unit_id, c.rank, c.promoted_on, u.path
    FROM cadre c JOIN org_unit u ON u.id = c.org_unit_id
    WHERE c.status = 'active' AND u.path >= :lo AND u.path < :hi
),
-- The window's first year is only partly in it. Either its whole-year sums count and the part
-- before the window's first day is taken off (edge_sign -1, edge [Jan 1, first day)), or the year
-- is left out and the part from the first day on is added (edge_sign 1, edge [first day, Dec 31]):
-- whichever edge is shorter, as each log across it is read one by one.
edge AS (
    SELECT l.cadre_id,
           SUM(l.days * s.overlap / s.total) AS days,
           SUM(l.hours * s.overlap / s.total) AS hours
    FROM (
        -- Two index ranges instead of all earlier history: the logs that started within a year
        -- before the edge (ix_study_log_kind_start_date), and the few longer than a year
        -- (ix_study_log_long); each joined to the cadres on its own, so that a county's cadres
        -- read theirs from the end date on instead (ix_study_log_cadre_id_end_date).
        SELECT l.cadre_id, l.start_date, l.end_date, l.hours, l.days
        FROM study_log l JOIN cadres c ON c.id = l.cadre_id
        WHERE l.kind = ANY(:centralised) AND l.start_date >= :long_bound
          AND l.start_date <= :edge_hi AND l.end_date >= :edge_lo AND l.status = 'approved'
        UNION ALL
        SELECT l.cadre_id, l.start_date, l.end_date, l.hours, l.days
        FROM study_log l JOIN cadres c ON c.id = l.cadre_id
        WHERE l.end_date - l.start_date > 366 AND l.end_date >= :edge_lo
          AND l.start_date < :long_bound AND l.kind = ANY(:centralised) AND l.status = 'approved'
    ) AS l
    CROSS JOIN LATERAL (
        SELECT LEAST(l.end_date, :edge_hi) - GREATEST(l.start_date, :edge_lo) + 1 AS overlap,
               l.end_date - l.start_date + 1 AS total
    ) AS s
    WHERE :edge
    GROUP BY l.cadre_id
),
-- Everything after the evaluation day in its year (classes recorded ahead of time).
later AS (
    SELECT l.cadre_id, l.kind,
           SUM(l.hours * s.overlap / s.total) AS hours,
           SUM(l.days * s.overlap / s.total) AS days,
           SUM(s.overlap::numeric / s.total) AS items
    FROM study_log l
    JOIN cadres c ON c.id = l.cadre_id
    CROSS JOIN LATERAL (
        SELECT LEAST(l.end_date, :year_end) - GREATEST(l.start_date, :after_as_of) + 1
                   AS overlap,
               l.end_date - l.start_date + 1 AS total
    ) AS s
    WHERE :year_cut AND l.end_date > :as_of AND l.start_date <= :year_end
      AND l.status = 'approved'
    GROUP BY l.cadre_id, l.kind
),
-- The evaluation year per kind: its sums up to the evaluation day, and the credit of the kind.
this_year AS (
    SELECT a.cadre_id, a.kind,
           a.days - COALESCE(x.days, 0) AS days,
           a.hours - COALESCE(x.hours, 0) AS hours,
           -- LEAST skips a NULL cap (no annual cap).
           LEAST(CASE WHEN r.mode = 'per_hour' THEN (a.hours - COALESCE(x.hours, 0)) * r.factor
                      WHEN r.mode = 'per_item' THEN (a.items - COALESCE(x.items, 0)) * r.credit
                      ELSE 0 END, r.cap) AS credited
    FROM cadre_year_kind a
    JOIN cadres c ON c.id = a.cadre_id
    LEFT JOIN later x ON x.cadre_id = a.cadre_id AND x.kind = a.kind
    LEFT JOIN rules r ON r.kind = a.kind
    -- Statuses and counts need the kinds they count only; the credited hours, every kind.
    WHERE a.year = :y AND (:every_kind OR a.kind = ANY(:status_kinds))
),
-- One row per part, summed per cadre in one pass: the window's whole earlier years (centralised
-- kinds), its edge, and the evaluation year.
sums AS (
    SELECT cadre_id, SUM(five_days) AS five_days, SUM(five_hours) AS five_hours,
           SUM(credited) AS credited, SUM(cdays) AS cdays, SUM(chours) AS chours,
           SUM(counted) AS counted, SUM(online) AS online
    FROM (
        SELECT a.cadre_id, a.days AS five_days, a.hours AS five_hours, 0 AS credited,
               0 AS cdays, 0 AS chours, 0 AS counted, 0 AS online
        FROM cadre_year_kind a
        JOIN cadres c ON c.id = a.cadre_id
        WHERE a.kind = ANY(:centralised) AND a.year >= :five_from AND a.year < :y
        UNION ALL
        SELECT cadre_id, :edge_sign * days, :edge_sign * hours, 0, 0, 0, 0, 0 FROM edge
        UNION ALL
        SELECT t.cadre_id,
               CASE WHEN t.kind = ANY(:centralised) THEN t.days ELSE 0 END,
               CASE WHEN t.kind = ANY(:centralised) THEN t.hours ELSE 0 END,
               t.credited,
               CASE WHEN t.kind = ANY(:centralised) THEN t.days ELSE 0 END,
               CASE WHEN t.kind = ANY(:centralised) THEN t.hours ELSE 0 END,
               -- docs/rules.md rule 5: the annual hours alternative counts these kinds only.
               CASE WHEN t.kind = ANY(:annual_kinds) THEN t.credited ELSE 0 END,
               CASE WHEN t.kind = ANY(:online) THEN t.credited ELSE 0 END
        FROM this_year t
    ) AS parts
    GROUP BY cadre_id
),
sums_of_cadre AS (
    SELECT c.id, c.org_unit_id, c.rank, c.promoted_on, c.path,
           COALESCE(s.five_days, 0) AS five_days, COALESCE(s.five_hours, 0) AS five_hours,
           COALESCE(s.credited, 0) AS credited, COALESCE(s.cdays, 0) AS cdays,
           COALESCE(s.chours, 0) AS chours, COALESCE(s.counted, 0) AS counted,
           COALESCE(s.online, 0) AS online
    FROM cadres c
    LEFT JOIN sums s ON s.cadre_id = c.id
),
-- docs/rules.md rules 4-6 on the sums, with the policy's thresholds (either alternative meets).
figures AS (
    SELECT s.*,
           CASE WHEN NOT (s.rank = ANY(:five_ranks)) THEN 'not_applicable'
                WHEN s.five_days >= CAST(:five_days_required AS numeric) - :tolerance
                  OR s.five_hours >= CAST(:five_hours_required AS numeric) - :tolerance
                    THEN 'met'
                WHEN s.promoted_on IS NOT NULL
                 AND s.promoted_on <= CAST(:as_of AS date)
                 AND CAST(:as_of AS date) <= s.promoted_on + make_interval(years => :grace_years)
                    THEN 'in_grace'
                ELSE 'not_met' END AS five_status,
           CASE WHEN NOT (s.rank = ANY(:annual_ranks)) THEN 'not_applicable'
                WHEN s.cdays >= CAST(:annual_days_required AS numeric) - :tolerance
                  OR s.counted >= CAST(:annual_hours_required AS numeric) - :tolerance
                    THEN 'met'
                ELSE 'not_met' END AS annual_status,
           CASE WHEN NOT (s.rank = ANY(:online_ranks)) THEN 'not_applicable'
                WHEN s.online >= CAST(:online_hours_required AS numeric) - :tolerance THEN 'met'
                ELSE 'not_met' END AS online_status
    FROM sums_of_cadre s
)
"""

# Numeric division rounds near the 16th significant digit and the roundings of a sum add up; a
# figure this close below a threshold is taken as reaching it (exact sums that close below one
# would need shares with denominators beyond 10^9).
TOLERANCE = Decimal("1e-9")

_PER_CADRE_SQL = (
    _FIGURES_SQL
    + """
SELECT id, org_unit_id, rank, promoted_on, path, five_days, five_hours, credited, cdays, online,
       chours, counted, five_status, annual_status, online_status
FROM figures
"""
)

_PER_UNIT_SQL = (
    _FIGURES_SQL
    + """
SELECT org_unit_id, path, COUNT(*),
       COUNT(*) FILTER (WHERE five_status = 'met'),
       COUNT(*) FILTER (WHERE five_status = 'in_grace'),
       COUNT(*) FILTER (WHERE five_status = 'not_met'),
       COUNT(*) FILTER (WHERE five_status = 'not_applicable'),
       COUNT(*) FILTER (WHERE annual_status = 'met'),
       COUNT(*) FILTER (WHERE annual_status = 'not_met'),
       COUNT(*) FILTER (WHERE annual_status = 'not_applicable'),
       COUNT(*) FILTER (WHERE online_status = 'met'),
       COUNT(*) FILTER (WHERE online_status = 'not_met'),
       COUNT(*) FILTER (WHERE online_status = 'not_applicable'),
       COUNT(*) FILTER (WHERE cdays > 0)
FROM figures
GROUP BY org_unit_id, path
"""
)

# A unit's year export: every cadre of the subtree (active or not) with its figures, and each
# study log of the year, in one statement read through a server-side cursor (app.archive).
_EXPORT_SQL = (  # constant text only: every value is a bound parameter
    _FIGURES_SQL
    + """
SELECT u.code, u.name, c.hr_id, c.name, c.rank, c.post_type, c.status,
       f.five_status, ROUND(f.five_days, 2), ROUND(f.five_hours, 2),
       f.annual_status, ROUND(f.cdays, 2), ROUND(f.chours, 2), ROUND(f.counted, 2),
       ROUND(f.credited, 2), f.online_status, ROUND(f.online, 2),
       l.start_date, l.end_date, l.kind, l.title, l.hours, l.days, l.status
FROM cadre c
JOIN org_unit u ON u.id = c.org_unit_id
LEFT JOIN figures f ON f.id = c.id
LEFT JOIN study_log l ON l.cadre_id = c.id
     AND l.start_date <= :export_year_end AND l.end_date >= :export_year_start
WHERE u.path >= :lo AND u.path < :hi
ORDER BY u.path, c.hr_id, l.start_date, l.id
"""
)


# asyncpg prepares each statement once per connection; after five runs PostgreSQL may switch a
# prepared statement to a generic plan, made without its parameters' values. For these the
# values decide the plan (a county reads its cadres through the indexes, a province hashes
# them; the window's edge is on or off), and a pooled connection's generic plan ran them 1.6-7x
# slower (bench/README.md). Planning anew costs a few milliseconds, so every figures statement
# runs with custom plans. And a province's sums group 200,000 cadres: with the server's default
# work_mem (4 MB) its hashes and sorts spill to disk in a hundred batches. Both are set for the
# statement's transaction only (SET LOCAL): the service's other statements keep their cached
# plans and the server's memory budget, and a pgbouncer in transaction mode sees no session
# state.
_REPORT_SETTINGS = (
    text("SET LOCAL plan_cache_mode = force_custom_plan"),
    text("SET LOCAL work_mem = '64MB'"),
)


async def _report_settings(db_session: AsyncSession) -> None:
    for statement in _REPORT_SETTINGS:
        await db_session.execute(statement)


def export_statement(
    root_path: str, year: int, as_of: date, policy: Policy
) -> tuple[TextClause, dict[str, object]]:
    params = _parameters(root_path, as_of, policy)
    params["export_year_start"] = date(year, 1, 1)
    params["export_year_end"] = date(year, 12, 31)
    return text(_EXPORT_SQL), params


async def export_rows(
    db_session: AsyncSession,
    root_path: str,
    year: int,
    as_of: date,
    policy: Policy,
    *,
    yield_per: int,
) -> AsyncIterator[Row[Any]]:
    """The rows of a unit's year export (`_EXPORT_SQL`), through a server-side cursor fetching
    `yield_per` rows at a time."""
    statement, params = export_statement(root_path, year, as_of, policy)
    await _report_settings(db_session)
    stream = await db_session.stream(statement.execution_options(yield_per=yield_per), params)
    async for record in stream:
        yield record


async def export_row_count(
    db_session: AsyncSession, root_path: str, year: int, as_of: date, policy: Policy
) -> int:
    """How many rows `export_rows` gives (an export job's progress: rows done of rows total)."""
    params = _parameters(root_path, as_of, policy)
    params["export_year_start"] = date(year, 1, 1)
    params["export_year_end"] = date(year, 12, 31)
    sql = "SELECT count(*) FROM (" + _EXPORT_SQL + ") AS export_rows"  # noqa: S608 (constant)
    await _report_settings(db_session)
    return int(await db_session.scalar(text(sql), params) or 0)


# docs/rules.md rule 8, ranked in the database so a province-wide roll-call returns only its top
# rows.
# The order is the engine's (`engine.rank_candidates`): five-year `not_met`, then `in_grace` by
# deadline, then the largest share still missing of the cadre's own requirement (five-year where
# it applies, else annual; the closer of its days and hours alternatives), then the longest since
# the last centralised training (never first), then the cadre id.
_ROLL_CALL_SQL = (  # constant text only: every value is a bound parameter
    _FIGURES_SQL  # noqa: S608
    + """,
ranked AS MATERIALIZED (
    SELECT f.id, f.org_unit_id, f.rank, f.promoted_on, f.five_status, f.measured, f.outstanding,
           CASE f.five_status WHEN 'not_met' THEN 0 WHEN 'in_grace' THEN 1 ELSE 2 END AS grp,
           -- The second key, never NULL: the grace deadline's order in group 1 (where
           -- promoted_on is set), the same value for everyone elsewhere.
           CASE WHEN f.five_status = 'in_grace' THEN f.promoted_on
                ELSE DATE '-infinity' END AS by_deadline
    FROM (
        SELECT f.*,
               CASE WHEN f.five_status <> 'not_applicable' THEN 'five_year'
                    WHEN f.annual_status <> 'not_applicable' THEN 'annual'
                    ELSE 'none' END AS measured,
               -- The missing share of each alternative; LEAST skips an alternative that is NULL.
               COALESCE(CASE
                   WHEN f.five_status <> 'not_applicable' THEN LEAST(
                       CASE WHEN q.fd = 0 THEN 0 ELSE GREATEST(q.fd - f.five_days, 0) / q.fd END,
                       CASE WHEN q.fh = 0 THEN 0 ELSE GREATEST(q.fh - f.five_hours, 0) / q.fh END)
                   WHEN f.annual_status <> 'not_applicable' THEN LEAST(
                       CASE WHEN q.ad = 0 THEN 0 ELSE GREATEST(q.ad - f.cdays, 0) / q.ad END,
                       CASE WHEN q.ah = 0 THEN 0 ELSE GREATEST(q.ah - f.counted, 0) / q.ah END)
               END, 0) AS outstanding
        FROM figures f
        CROSS JOIN (
            SELECT CAST(:five_days_required AS numeric) AS fd,
                   CAST(:five_hours_required AS numeric) AS fh,
                   CAST(:annual_days_required AS numeric) AS ad,
                   CAST(:annual_hours_required AS numeric) AS ah
        ) AS q
        WHERE f.cdays <= 0
    ) AS f
),
-- The last day of centralised training only breaks ties of the first three keys: the `limit`-th
-- candidate by those keys bounds the ones that can make the list (its ties included), and only
-- theirs is looked up, newest log first (ix_study_log_cadre_id_end_date).
cut AS (
    SELECT grp, by_deadline, outstanding FROM ranked
    ORDER BY grp, by_deadline, outstanding DESC
    OFFSET :limit - 1 LIMIT 1
),
contenders AS (
    SELECT r.*, t.last_day
    FROM ranked r
    LEFT JOIN LATERAL (
        SELECT LEAST(l.end_date, :as_of) AS last_day
        FROM study_log l
        WHERE l.cadre_id = r.id AND l.kind = ANY(:centralised) AND l.status = 'approved'
          AND l.start_date <= :as_of
        ORDER BY l.end_date DESC
        LIMIT 1
    ) AS t ON true
    WHERE NOT EXISTS (SELECT FROM cut)
       OR (r.grp, r.by_deadline, -r.outstanding)
          <= (SELECT c.grp, c.by_deadline, -c.outstanding FROM cut c)
),
counts AS (
    SELECT COUNT(*) AS active, COUNT(*) FILTER (WHERE cdays > 0) AS trained FROM figures
)
SELECT k.active, k.trained, r.id, r.org_unit_id, r.rank, r.promoted_on, r.five_status,
       r.grp, r.measured, r.outstanding, r.last_day
FROM counts k
LEFT JOIN LATERAL (
    SELECT * FROM contenders
    ORDER BY grp, by_deadline, outstanding DESC, last_day NULLS FIRST, CAST(id AS text)
    LIMIT :limit
) AS r ON true
"""
)


@dataclass(frozen=True, slots=True)
class CadreFigures:
    cadre_id: uuid.UUID
    org_unit_id: uuid.UUID
    org_path: str
    rank: Rank
    promoted_on: date | None
    five_year_days: Decimal
    five_year_hours: Decimal
    five_year_status: RequirementStatus
    grace_deadline: date | None
    annual_credited_hours: Decimal
    annual_centralised_days: Decimal
    annual_centralised_hours: Decimal
    annual_counted_hours: Decimal
    annual_status: RequirementStatus
    online_hours: Decimal
    online_status: RequirementStatus


def _rules_json(policy: Policy) -> str:
    return json.dumps(
        [
            {
                "kind": rule.kind.value,
                "mode": rule.mode.value,
                "factor": str(rule.factor) if rule.mode is CreditMode.per_hour else "0",
                "credit": str(rule.credit_per_item) if rule.mode is CreditMode.per_item else "0",
                "cap": None if rule.annual_cap is None else str(rule.annual_cap),
            }
            for rule in policy.kind_rules.values()
        ]
    )


def subtree_bounds(path: str) -> tuple[str, str]:
    """The [lo, hi) range of `org_unit.path` values of a subtree (see app.org_unit.tree)."""
    return path, path[:-1] + "0"


def _parameters(root_path: str, as_of: date, policy: Policy) -> dict[str, object]:
    ws = window_start(as_of, policy.five_year_years)
    ws_year_start, ws_year_end = date(ws.year, 1, 1), date(ws.year, 12, 31)
    year_end = date(as_of.year, 12, 31)
    lo, hi = subtree_bounds(root_path)
    # The shorter edge of the window's first year (see `edge` in _FIGURES_SQL): the part before
    # the first day, taken off that year's sums, or the part from it on, added without them.
    tail = ws.year < as_of.year and ws_year_end - ws < ws - ws_year_start
    edge_lo, edge_hi = (ws, ws_year_end) if tail else (ws_year_start, ws - timedelta(days=1))

    def ranks(group: frozenset[Rank]) -> list[str]:
        return sorted(rank.value for rank in group)

    return {
        "rules": _rules_json(policy),
        "lo": lo,
        "hi": hi,
        "as_of": as_of,
        "y": as_of.year,
        "five_from": ws.year + 1 if tail else ws.year,
        "edge": ws > ws_year_start,
        "edge_sign": 1 if tail else -1,
        "edge_lo": edge_lo,
        "edge_hi": edge_hi,
        "long_bound": edge_lo - timedelta(days=366),
        "year_end": year_end,
        "after_as_of": as_of + timedelta(days=1),
        "year_cut": as_of < year_end,
        "centralised": sorted(k.value for k in policy.centralised_kinds),
        "online": sorted(k.value for k in policy.online_kinds),
        "annual_kinds": sorted(k.value for k in policy.annual_hours_kinds),
        "five_ranks": ranks(policy.five_year_applies_to),
        "five_days_required": policy.five_year_required_days,
        "five_hours_required": policy.five_year_required_hours,
        "grace_years": policy.grace_years,
        "annual_ranks": ranks(policy.annual_applies_to),
        "annual_days_required": policy.annual_required_days,
        "annual_hours_required": policy.annual_required_hours,
        "online_ranks": ranks(policy.online_applies_to),
        "online_hours_required": policy.online_required_hours,
        "tolerance": TOLERANCE,
        # The per-cadre figures (and exports) carry the credited hours of every kind; the
        # per-unit counts and the roll-call, only statuses (see `status_only`).
        "every_kind": True,
        "status_kinds": sorted(
            k.value
            for k in policy.centralised_kinds | policy.annual_hours_kinds | policy.online_kinds
        ),
    }


def _status_only(params: dict[str, object]) -> dict[str, object]:
    """The parameters of a statement that reads the statuses and the centralised, counted and
    online sums of the figures, not `credited`: the evaluation year's rows of the other kinds
    are skipped (under cn-2023 ten of the twelve kinds, half the rows)."""
    return {**params, "every_kind": False}


async def cadre_figures(
    db_session: AsyncSession, root_path: str, as_of: date, policy: Policy
) -> list[CadreFigures]:
    """Every active cadre of the subtree at `root_path`, evaluated on `as_of` under `policy` (the
    policy in force on `as_of`, as the engine's compliance view uses for all three blocks)."""
    await _report_settings(db_session)
    rows = await db_session.execute(text(_PER_CADRE_SQL), _parameters(root_path, as_of, policy))
    return _figures_of(rows, policy)


# The cadres short of a requirement on `as_of` (the reminder job's "at risk", docs/rules.md
# "Requirement at risk"): the figures of those only, so a province returns its few thousand
# rows rather than 200,000.
_SHORT_SQL = {
    "five_year": _PER_CADRE_SQL + "WHERE five_status IN ('not_met', 'in_grace')\n",
    "annual": _PER_CADRE_SQL + "WHERE annual_status = 'not_met'\n",
}


async def short_cadre_figures(
    db_session: AsyncSession, root_path: str, as_of: date, policy: Policy, requirement: str
) -> list[CadreFigures]:
    """The active cadres of the subtree whose `requirement` (five_year, annual) is not met on
    `as_of` (in grace counts as short), with their figures."""
    await _report_settings(db_session)
    rows = await db_session.execute(
        text(_SHORT_SQL[requirement]), _parameters(root_path, as_of, policy)
    )
    return _figures_of(rows, policy)


def _figures_of(rows: Any, policy: Policy) -> list[CadreFigures]:
    out = []
    for row in rows:
        (cadre_id, unit_id, rank, promoted_on, path, fd, fh, credited, cdays, online) = row[:10]
        chours, counted = row[10:12]
        five, annual, online_status = (RequirementStatus(v) for v in row[12:])
        out.append(
            CadreFigures(
                cadre_id=cadre_id,
                org_unit_id=unit_id,
                org_path=path,
                rank=Rank(rank),
                promoted_on=promoted_on,
                five_year_days=fd,
                five_year_hours=fh,
                five_year_status=five,
                grace_deadline=(
                    None if promoted_on is None else add_years(promoted_on, policy.grace_years)
                ),
                annual_credited_hours=credited,
                annual_centralised_days=cdays,
                annual_centralised_hours=chours,
                annual_counted_hours=counted,
                annual_status=annual,
                online_hours=online,
                online_status=online_status,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class UnitCounts:
    """Status counts of the active cadres whose own unit is `org_unit_id` (no subtree)."""

    org_unit_id: uuid.UUID
    path: str
    headcount: int
    five_year: dict[RequirementStatus, int]
    annual: dict[RequirementStatus, int]
    online: dict[RequirementStatus, int]
    trained: int


async def unit_counts(
    db_session: AsyncSession, root_path: str, as_of: date, policy: Policy
) -> list[UnitCounts]:
    """The same figures counted per unit inside the database: one row per unit comes back."""
    await _report_settings(db_session)
    rows = await db_session.execute(
        text(_PER_UNIT_SQL), _status_only(_parameters(root_path, as_of, policy))
    )
    s = RequirementStatus
    return [
        UnitCounts(
            org_unit_id=r[0],
            path=r[1],
            headcount=r[2],
            five_year={s.met: r[3], s.in_grace: r[4], s.not_met: r[5], s.not_applicable: r[6]},
            annual={s.met: r[7], s.not_met: r[8], s.not_applicable: r[9]},
            online={s.met: r[10], s.not_met: r[11], s.not_applicable: r[12]},
            trained=r[13],
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class RollCallRow:
    cadre_id: uuid.UUID
    org_unit_id: uuid.UUID
    rank: Rank
    promoted_on: date | None
    five_year_status: RequirementStatus
    group: int
    measured: str
    outstanding: Decimal
    last_centralised_on: date | None


async def roll_call_rows(
    db_session: AsyncSession, root_path: str, as_of: date, policy: Policy, limit: int
) -> tuple[int, int, list[RollCallRow]]:
    """(active cadres, trained cadres, the first `limit` untrained ones in roll-call order)."""
    await _report_settings(db_session)
    rows = (
        await db_session.execute(
            text(_ROLL_CALL_SQL),
            {**_status_only(_parameters(root_path, as_of, policy)), "limit": limit},
        )
    ).all()
    active, trained = (rows[0][0], rows[0][1]) if rows else (0, 0)
    ranked = [
        RollCallRow(
            cadre_id=r[2],
            org_unit_id=r[3],
            rank=Rank(r[4]),
            promoted_on=r[5],
            five_year_status=RequirementStatus(r[6]),
            group=r[7],
            measured=r[8],
            outstanding=r[9],
            last_centralised_on=r[10],
        )
        for r in rows
        if r[2] is not None
    ]
    return active, trained, ranked
