"""The online-anomalies report (docs/rules.md "Plausibility flags"): by unit, the flags per
rule, and the flagged records with their evidence."""

from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.online import repository
from app.online.report_schemas import (
    FlaggedRecord,
    FlagRead,
    OnlineAnomaliesRead,
    UnitAnomalies,
    rule_counts,
)
from app.org_unit.models import OrgUnit


def _flags(stored: list[dict[str, Any]]) -> list[FlagRead]:
    return [FlagRead.model_validate(item) for item in stored]


async def online_anomalies(
    db_session: AsyncSession, root: OrgUnit, year: int, top: int
) -> OnlineAnomaliesRead:
    units = await repository.anomaly_counts(db_session, root.path, year)
    records = await repository.flagged_records(db_session, root.path, year, top)
    total = sum(n for _unit, n, _rules in units)
    overall: Counter[str] = Counter()
    for _unit, _n, rules in units:
        overall.update(rules)
    return OnlineAnomaliesRead(
        org_unit_id=root.id,
        year=year,
        flagged_records=total,
        flags=rule_counts(dict(overall)),
        units=[
            UnitAnomalies(
                org_unit_id=unit.id,
                code=unit.code,
                name=unit.name,
                parent_id=unit.parent_id,
                depth=unit.depth,
                flagged_records=n,
                flags=rule_counts(rules),
            )
            for unit, n, rules in units
        ],
        records=[
            FlaggedRecord(
                online_record_id=row["id"],
                platform_code=row["platform_code"],
                external_id=row["external_id"],
                cadre_id=row["cadre_id"],
                cadre_name=row["cadre_name"],
                org_unit_id=row["org_unit_id"],
                course_title=row["course_title"],
                minutes=row["minutes"],
                course_minutes=row["course_minutes"],
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                study_log_id=row["study_log_id"],
                study_log_status=row["study_log_status"],
                start_date=row["start_date"],
                flags=_flags(row["flags"]),
            )
            for row in records
        ],
        truncated=total > len(records),
    )
