from fastapi import APIRouter, Response, status

from app.credit_policy import service
from app.credit_policy.errors import PolicyCodeTaken, PolicyOverlap
from app.credit_policy.schemas import CreditPolicyCreate, CreditPolicyList, CreditPolicyRead
from app.db import DbSession
from app.http import API_PREFIX, problems, set_etag
from app.idempotency.route import IdempotentRoute
from app.security import CurrentActor

router = APIRouter(
    prefix=f"{API_PREFIX}/credit-policies", tags=["credit policies"], route_class=IdempotentRoute
)


@router.get("", operation_id="listCreditPolicies")
async def list_credit_policies(db_session: DbSession, actor: CurrentActor) -> CreditPolicyList:
    """Every policy, oldest first; each period is evaluated under the one in force on its dates
    (a calendar year under the policy in force on its last evaluated day, a five-year window
    under the policy in force on its `as_of`). There are few, so this list is not paginated."""
    rows = await service.list_rows(db_session)
    return CreditPolicyList(items=[CreditPolicyRead.model_validate(r) for r in rows])


@router.post(
    "",
    operation_id="createCreditPolicy",
    status_code=status.HTTP_201_CREATED,
    responses=problems(PolicyCodeTaken, PolicyOverlap),
)
async def create_credit_policy(
    body: CreditPolicyCreate, db_session: DbSession, actor: CurrentActor, response: Response
) -> CreditPolicyRead:
    """Add a policy from `effective_from`. An open-ended policy in force before that date ends
    the day before; any other overlap is refused (409).

    `annual_hours_kinds` names the kinds whose credited hours count toward the annual hours
    alternative (`docs/rules.md` rule 5): `cn-2023` counts `centralised_training` only, a local
    学时学分制 may list every kind. Omitted, it is the policy's `centralised_kinds`; a kind
    without a rule in `kind_rules`, or an empty list while the annual rule has an hours
    threshold, is refused (422)."""
    row = await service.create_policy(db_session, body)
    set_etag(response, row.version)
    return CreditPolicyRead.model_validate(row)
