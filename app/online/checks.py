"""The plausibility checks of an import batch, wired to the database: the context loaded once a
batch in a few set-based statements (docs/rules.md "Plausibility flags"), then the pure rules of
`app.online.plausibility`."""

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.credit_policy.policy import Plausibility, policy_in_force
from app.credit_policy.service import load_policies
from app.enums import StudyLogKind
from app.online import repository
from app.online.plausibility import (
    Converted,
    PlausibilityContext,
    Watch,
    split_by_day,
    watch_of,
)


def _days(watch: Watch) -> set[date]:
    interval = watch.interval()
    return {watch.day} | (set(split_by_day(*interval)) if interval is not None else set())


async def plausibility_context(
    db_session: AsyncSession, platform_id: uuid.UUID, batch: Sequence[Converted]
) -> PlausibilityContext:
    """What `plausibility.flag_all` needs beyond the batch: the thresholds of the policy in force
    on each day (409 `credit_policy.none_in_force` when a day has none), the stored records of
    the batch's cadres and sources on its days (every platform's), and the centralised classes
    the cadres attended on those days."""
    watches = [watch_of(i, row) for i, row in enumerate(batch)]
    days = set().union(*(_days(w) for w in watches)) if watches else set()
    if not days:
        return PlausibilityContext(thresholds=lambda _day: Plausibility())
    policies = await load_policies(db_session)
    in_force = {day: policy_in_force(policies, day) for day in days}
    first, last = min(days), max(days)
    cadre_ids = {w.cadre_id for w in watches}
    stored = await repository.stored_watches(
        db_session,
        first,
        last,
        cadre_ids,
        {w.ip for w in watches if w.ip},
        {w.device for w in watches if w.device},
    )
    centralised: set[StudyLogKind] = set().union(*(p.centralised_kinds for p in in_force.values()))
    classes = await repository.class_windows(db_session, first, last, cadre_ids, centralised)

    def thresholds(day: date) -> Plausibility:
        policy = in_force.get(day) or policy_in_force(policies, day)
        return policy.online_plausibility

    return PlausibilityContext(
        thresholds=thresholds,
        stored=[w for w in stored if w.cadre_id in cadre_ids],
        stored_sources=stored,
        classes=classes,
    )
