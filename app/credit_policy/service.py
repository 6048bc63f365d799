"""Credit policies in the database, and the switch from one to the next."""

import uuid
from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.credit_policy import repository
from app.credit_policy.errors import PolicyCodeTaken, PolicyOverlap
from app.credit_policy.models import CreditPolicy
from app.credit_policy.policy import Policy, policy_in_force, validate_policies
from app.credit_policy.schemas import CreditPolicyCreate, definition_json, to_policy
from app.db import flush_mapping_conflicts
from app.i18n import _


def _engine_policy(row: CreditPolicy) -> Policy:
    return to_policy(
        code=row.code,
        name=row.name,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        definition=row.definition,
    )


# Parsed policies of this process, keyed by the (id, version) of every row: policies change
# rarely, and parsing their definitions on every request would dominate a compliance read. Each
# read checks the key with one small query (the ids and versions of a handful of rows), so every
# process sees a policy another one created at its next read, and a rolled-back policy is never
# served; the process that creates one also drops its copy at once.
_parsed: tuple[tuple[tuple[uuid.UUID, int], ...], tuple[Policy, ...]] | None = None


def forget_parsed() -> None:
    global _parsed
    _parsed = None


async def load_policies(db_session: AsyncSession) -> tuple[Policy, ...]:
    """Every policy, oldest first, parsed once per set in force: the engine picks the one in
    force for each period."""
    global _parsed
    signature = await repository.versions(db_session)
    if _parsed is not None and _parsed[0] == signature:
        return _parsed[1]
    policies = tuple(_engine_policy(row) for row in await repository.all_rows(db_session))
    _parsed = (signature, policies)
    return policies


async def create_policy(db_session: AsyncSession, data: CreditPolicyCreate) -> CreditPolicy:
    await repository.lock_changes(db_session)
    rows = await repository.all_rows(db_session, for_update=True)
    if any(row.code == data.code for row in rows):
        raise PolicyCodeTaken()
    new = CreditPolicy(
        code=data.code,
        name=data.name,
        effective_from=data.effective_from,
        effective_to=data.effective_to,
        definition=definition_json(data),
    )
    # Switching policy: the open-ended policy in force before the new one ends the day before.
    superseded = next(
        (
            row
            for row in rows
            if row.effective_to is None and row.effective_from < data.effective_from
        ),
        None,
    )
    if superseded is not None and data.effective_to is not None:
        # Otherwise the days after it would have no policy in force at all.
        raise PolicyOverlap(
            _("{code!r} is open-ended: a policy replacing it must be open-ended too.").format(
                code=superseded.code
            )
        )
    policies = [_engine_policy(row) for row in rows if row is not superseded]
    if superseded is not None:
        policies.append(
            replace(
                _engine_policy(superseded), effective_to=data.effective_from - timedelta(days=1)
            )
        )
    try:
        validate_policies([*policies, _engine_policy(new)])
    except ValueError as exc:
        raise PolicyOverlap(str(exc)) from exc
    if superseded is not None:
        superseded.effective_to = data.effective_from - timedelta(days=1)
    db_session.add(new)
    await flush_mapping_conflicts(db_session, {"uq_credit_policy_code": PolicyCodeTaken()})
    forget_parsed()
    return new


async def list_rows(db_session: AsyncSession) -> list[CreditPolicy]:
    return await repository.all_rows(db_session)


async def policy_on(db_session: AsyncSession, day: date) -> Policy:
    """The one policy in force on `day` (docs/rules.md: a period is evaluated under the policy
    in force on its last evaluated day); 409 `credit_policy.none_in_force` when none or several
    are."""
    return policy_in_force(await load_policies(db_session), day)
