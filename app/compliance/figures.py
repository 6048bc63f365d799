"""The compliance figures of many cadres at once, computed in PostgreSQL.

Reports cover up to a whole province (200,000 cadres, millions of logs): loading every log into
Python is out of the question, so the sums of SPEC §3 — pro rata by calendar days at the edges of
the five-year window and of the year, per-kind factors, per-item credits and annual caps — are
taken in SQL, and only one row per cadre comes back. Whole years come from `cadre_year_kind`
(kept by triggers); only the logs across the period's edges are read one by one. The status
logic then runs on those figures with the same thresholds as the engine. A property test holds
the two paths to the same answers.

Numeric division in PostgreSQL rounds after about 20 significant digits where the engine's
fractions are exact; shares are multiplied before they are divided, and a figure a hair below
a threshold through rounding alone would need a sum of repeating decimals landing within 1e-16 of
it, which the tests have never produced.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text
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
cadres AS (
    SELECT c.id, c.org_unit_id, c.rank, c.promoted_on, u.path
    FROM cadre c JOIN org_unit u ON u.id = c.org_unit_id
    WHERE c.status = 'active' AND u.path >= :lo AND u.path < :hi
),
-- Whole calendar years from the kept sums...
sums AS (
    SELECT a.cadre_id, a.year, a.kind, a.hours, a.days, a.items
    FROM cadre_year_kind a JOIN cadres c ON c.id = a.cadre_id
    WHERE a.year BETWEEN :ws_year AND :y
),
-- ...less the parts of logs outside the period: before the window's first day in its first
-- year (centralised kinds only: the year's own figures start on Jan 1 anyway), and after the
-- evaluation day in its year.
excluded AS (
    SELECT l.cadre_id, :ws_year AS year, l.kind,
           SUM(l.hours * s.overlap / s.total) AS hours,
           SUM(l.days * s.overlap / s.total) AS days,
           SUM(s.overlap::numeric / s.total) AS items
    FROM study_log l JOIN cadres c ON c.id = l.cadre_id
    CROSS JOIN LATERAL (
        SELECT LEAST(l.end_date, :before_ws) - GREATEST(l.start_date, :ws_year_start) + 1
                   AS overlap,
               l.end_date - l.start_date + 1 AS total
    ) AS s
    WHERE :window_cut AND l.status = 'approved' AND l.kind = ANY(:centralised)
      AND l.start_date < :ws AND l.end_date >= :ws_year_start
    GROUP BY l.cadre_id, l.kind
    UNION ALL
    SELECT l.cadre_id, :y AS year, l.kind,
           SUM(l.hours * s.overlap / s.total),
           SUM(l.days * s.overlap / s.total),
           SUM(s.overlap::numeric / s.total)
    FROM study_log l JOIN cadres c ON c.id = l.cadre_id
    CROSS JOIN LATERAL (
        SELECT LEAST(l.end_date, :year_end) - GREATEST(l.start_date, :after_as_of) + 1
                   AS overlap,
               l.end_date - l.start_date + 1 AS total
    ) AS s
    WHERE :year_cut AND l.status = 'approved'
      AND l.end_date > :as_of AND l.start_date <= :year_end
    GROUP BY l.cadre_id, l.kind
),
net AS (
    SELECT cadre_id, year, kind, SUM(hours) AS hours, SUM(days) AS days, SUM(items) AS items
    FROM (
        SELECT cadre_id, year, kind, hours, days, items FROM sums
        UNION ALL
        SELECT cadre_id, year, kind, -hours, -days, -items FROM excluded
    ) AS parts
    GROUP BY cadre_id, year, kind
),
five AS (
    SELECT cadre_id, SUM(days) AS days, SUM(hours) AS hours
    FROM net WHERE kind = ANY(:centralised)
    GROUP BY cadre_id
),
per_kind AS (
    SELECT n.cadre_id, n.kind, n.days, r.cap,
           CASE WHEN r.mode = 'per_hour' THEN n.hours * r.factor
                WHEN r.mode = 'per_item' THEN n.items * r.credit ELSE 0 END AS credit
    FROM net n LEFT JOIN rules r ON r.kind = n.kind
    WHERE n.year = :y
),
year AS (
    SELECT cadre_id,
           SUM(CASE WHEN cap IS NULL THEN credit ELSE LEAST(credit, cap) END) AS credited,
           SUM(CASE WHEN kind = ANY(:centralised) THEN days ELSE 0 END) AS centralised_days,
           SUM(CASE WHEN kind = ANY(:online)
                    THEN (CASE WHEN cap IS NULL THEN credit ELSE LEAST(credit, cap) END)
                    ELSE 0 END) AS online
    FROM per_kind GROUP BY cadre_id
)
SELECT c.id, c.org_unit_id, c.rank, c.promoted_on, c.path,
       COALESCE(f.days, 0), COALESCE(f.hours, 0),
       COALESCE(y.credited, 0), COALESCE(y.centralised_days, 0), COALESCE(y.online, 0)
FROM cadres c
LEFT JOIN five f ON f.cadre_id = c.id
LEFT JOIN year y ON y.cadre_id = c.id
"""

_LAST_CENTRALISED_SQL = """
SELECT l.cadre_id, MAX(LEAST(l.end_date, :as_of))
FROM study_log l
WHERE l.cadre_id = ANY(:ids) AND l.status = 'approved' AND l.kind = ANY(:centralised)
  AND l.start_date <= :as_of
GROUP BY l.cadre_id
"""


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
    annual_status: RequirementStatus
    online_hours: Decimal
    online_status: RequirementStatus

    @property
    def trained(self) -> bool:
        """SPEC §3 rule 8: centralised days attributed to the year (up to the evaluation day)."""
        return self.annual_centralised_days > 0


def _reaches(actual: Decimal, required: Decimal | None) -> bool:
    return required is not None and actual >= required


def _status(applies: bool, met: bool) -> RequirementStatus:
    if not applies:
        return RequirementStatus.not_applicable
    return RequirementStatus.met if met else RequirementStatus.not_met


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


async def cadre_figures(
    db_session: AsyncSession, root_path: str, as_of: date, policy: Policy
) -> list[CadreFigures]:
    """Every active cadre of the subtree at `root_path`, evaluated on `as_of` under `policy` (the
    policy in force on `as_of`, as the engine's compliance view uses for all three blocks)."""
    ws = window_start(as_of, policy.five_year_years)
    ws_year_start = date(ws.year, 1, 1)
    year_end = date(as_of.year, 12, 31)
    lo, hi = subtree_bounds(root_path)
    rows = await db_session.execute(
        text(_FIGURES_SQL),
        {
            "rules": _rules_json(policy),
            "lo": lo,
            "hi": hi,
            "as_of": as_of,
            "y": as_of.year,
            "ws": ws,
            "ws_year": ws.year,
            "ws_year_start": ws_year_start,
            "before_ws": ws - timedelta(days=1),
            "window_cut": ws > ws_year_start,
            "year_end": year_end,
            "after_as_of": as_of + timedelta(days=1),
            "year_cut": as_of < year_end,
            "centralised": sorted(k.value for k in policy.centralised_kinds),
            "online": sorted(k.value for k in policy.online_kinds),
        },
    )
    out = []
    for cadre_id, unit_id, rank_value, promoted_on, path, fd, fh, credited, cdays, online in rows:
        rank = Rank(rank_value)
        deadline = None if promoted_on is None else add_years(promoted_on, policy.grace_years)
        five_met = _reaches(fd, policy.five_year_required_days) or _reaches(
            fh, policy.five_year_required_hours
        )
        five = _status(rank in policy.five_year_applies_to, five_met)
        if five is RequirementStatus.not_met and deadline is not None and as_of <= deadline:
            five = RequirementStatus.in_grace
        annual_met = _reaches(cdays, policy.annual_required_days) or _reaches(
            credited, policy.annual_required_hours
        )
        out.append(
            CadreFigures(
                cadre_id=cadre_id,
                org_unit_id=unit_id,
                org_path=path,
                rank=rank,
                promoted_on=promoted_on,
                five_year_days=fd,
                five_year_hours=fh,
                five_year_status=five,
                grace_deadline=deadline,
                annual_credited_hours=credited,
                annual_centralised_days=cdays,
                annual_status=_status(rank in policy.annual_applies_to, annual_met),
                online_hours=online,
                online_status=_status(
                    rank in policy.online_applies_to,
                    _reaches(online, policy.online_required_hours),
                ),
            )
        )
    return out


async def last_centralised(
    db_session: AsyncSession, cadre_ids: list[uuid.UUID], as_of: date, policy: Policy
) -> dict[uuid.UUID, date]:
    rows = await db_session.execute(
        text(_LAST_CENTRALISED_SQL),
        {
            "ids": cadre_ids,
            "as_of": as_of,
            "centralised": sorted(k.value for k in policy.centralised_kinds),
        },
    )
    return {row[0]: row[1] for row in rows}
