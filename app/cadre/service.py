"""Cadre master data: unique HR ids and ID numbers, a unit that exists, deactivation not erasure,
and the post type and promotion date of docs/rules.md rule 4 (`rules.after_write`, as the bulk
paths apply it)."""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.auth.principals import forget_scopes
from app.cadre import repository, rules
from app.cadre.errors import (
    CONFLICTS,
    CadreNotFound,
    CadreNotRegistrable,
    CadreOrgUnitNotFound,
    HrIdTaken,
    IdNumberTaken,
    ReferencedCadreNotFound,
)
from app.cadre.lookups import IdNumberLookups
from app.cadre.models import Cadre
from app.cadre.schemas import (
    CadreCreate,
    CadreFilter,
    CadrePage,
    CadreRead,
    CadreUpdate,
    CadreUpsert,
)
from app.clock import local_today
from app.db import flush_mapping_conflicts
from app.enums import CadreStatus
from app.errors import Conflict, ProblemFieldError, UnprocessableEntity
from app.i18n import N_
from app.org_unit import repository as org_units
from app.org_unit import service as org_unit_service
from app.pagination import PageParams
from app.personal_data import cipher


def to_read(cadre: Cadre, actor: Actor, *, in_list: bool = False) -> CadreRead:
    """ID numbers are masked in every list, and in reads for roles that do not see them whole
    (`rules.mask`). Every answer that shows a cadre goes through here (the archive too)."""
    return _read(_columns(cadre), actor, in_list=in_list)


def _read(values: Mapping[str, Any], actor: Actor, *, in_list: bool) -> CadreRead:
    read = CadreRead.model_validate({**values, "birth_month": f"{values['birth_date']:%Y-%m}"})
    if in_list or not actor.sees_id_numbers:
        read.id_number = rules.mask(read.id_number)
    if not actor.sees_id_numbers:
        read.birth_date = None
    return read


def _columns(cadre: Cadre) -> dict[str, object]:
    return {
        field: getattr(cadre, field) for field in CadreRead.model_fields if field != "birth_month"
    }


async def list_cadres(
    db_session: AsyncSession,
    actor: Actor,
    where: CadreFilter,
    params: PageParams,
    lookups: IdNumberLookups,
) -> CadrePage:
    """A page of the cadres the actor may see; a unit (`org_unit_id`) out of scope is 404. A
    search by ID number is a lookup (`lookups.search`): roles that see numbers masked may not."""
    if where.id_number is not None:
        lookups.search(actor)
    within = (
        await org_unit_service.get_org_unit(db_session, where.org_unit_id, actor)
        if where.org_unit_id
        else None
    )
    items, next_cursor = await repository.list_page(db_session, actor, where, within, params)
    return CadrePage(
        items=[to_read(c, actor, in_list=True) for c in items], next_cursor=next_cursor
    )


async def find_by_hr_id(db_session: AsyncSession, hr_id: str, actor: Actor) -> Cadre | None:
    """The cadre HR knows as `hr_id`, if there is one the actor may see."""
    return await repository.get_by_hr_id(db_session, hr_id, actor)


async def get_cadre_by_hr_id(db_session: AsyncSession, hr_id: str, actor: Actor) -> Cadre:
    cadre = await find_by_hr_id(db_session, hr_id, actor)
    if cadre is None:
        raise CadreNotFound()
    return cadre


async def get_cadre(db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor) -> Cadre:
    cadre = await repository.get(db_session, cadre_id, actor)
    if cadre is None:
        raise CadreNotFound()
    return cadre


async def read_cadre(
    db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor
) -> tuple[CadreRead, int]:
    """`getCadre`'s answer and version, from the row's columns: no ORM instance is built for a
    read that changes nothing (the ORM load was 13 % of a cadre read, issue 16)."""
    row = await repository.read_row(db_session, cadre_id, actor)
    if row is None:
        raise CadreNotFound()
    values = {field: row[field] for field in CadreRead.model_fields if field in row}
    values["id_number"] = cipher().decrypt(row["id_number_ciphertext"])
    return _read(values, actor, in_list=False), row["version"]


async def referenced_cadre(db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor) -> Cadre:
    """The cadre a request body names in `cadre_id`; one outside the actor's scope does not exist
    as far as the actor can tell (422 with a pointer to the field)."""
    cadre = await repository.get(db_session, cadre_id, actor)
    if cadre is None:
        raise ReferencedCadreNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/cadre_id", detail=N_("no such cadre"), code="not_found"
                )
            ]
        )
    return cadre


async def _check_org_unit(db_session: AsyncSession, org_unit_id: uuid.UUID, actor: Actor) -> None:
    if await org_units.get(db_session, org_unit_id, actor) is None:
        raise CadreOrgUnitNotFound(
            errors=[
                ProblemFieldError(
                    pointer="/body/org_unit_id", detail=N_("no such org unit"), code="not_found"
                )
            ]
        )


# Scope before uniqueness (issue 10): the org unit a write names is checked first, and a clash
# with a cadre the caller cannot see answers CadreNotRegistrable, the same for an HR id and an ID
# number, never the field-naming 409 a visible clash gets.
async def _clash(db_session: AsyncSession, other: Cadre, actor: Actor, visible: Conflict) -> None:
    if await repository.get(db_session, other.id, actor) is None:
        raise CadreNotRegistrable()
    raise visible


async def _check_hr_id_free(db_session: AsyncSession, hr_id: str, actor: Actor) -> None:
    other = await repository.get_by_hr_id(db_session, hr_id)
    if other is not None:
        await _clash(db_session, other, actor, HrIdTaken())


async def _check_id_number_free(
    db_session: AsyncSession,
    id_number: str,
    cadre_id: uuid.UUID | None,
    actor: Actor,
    lookups: IdNumberLookups,
) -> None:
    """409 if another cadre holds the number: for a role that sees numbers masked, a lookup."""
    lookups.uniqueness_check(actor)
    other = await repository.get_by_id_number(db_session, id_number)
    if other is not None and other.id != cadre_id:
        await _clash(db_session, other, actor, IdNumberTaken())


async def create_cadre(
    db_session: AsyncSession, data: CadreCreate, actor: Actor, lookups: IdNumberLookups
) -> Cadre:
    await _check_org_unit(db_session, data.org_unit_id, actor)
    await _check_hr_id_free(db_session, data.hr_id, actor)
    await _check_id_number_free(db_session, data.id_number, None, actor, lookups)
    cadre = Cadre(**_new(data), status=CadreStatus.active)
    db_session.add(cadre)
    await flush_mapping_conflicts(db_session, CONFLICTS)
    return cadre


async def update_cadre(
    db_session: AsyncSession,
    cadre: Cadre,
    data: CadreUpdate,
    actor: Actor,
    lookups: IdNumberLookups,
) -> Cadre:
    changes = {
        k: v
        for k, v in data.model_dump(exclude_unset=True).items()
        if v is not None or k in {"position", "promoted_on"}
    }
    # PATCH names what it changes: a date, or null to clear it; left out, the date is not named.
    sent = changes.pop("promoted_on", rules.NOT_NAMED)
    after, changes["promoted_on"] = rules.after_write(
        _post_of(cadre),
        current=cadre.promoted_on,
        rank=changes.get("rank", cadre.rank),
        post_type=changes.get("post_type"),
        sent=sent,
        today=local_today(),
    )
    changes |= _post_fields(after)
    await _apply(db_session, cadre, changes, actor, lookups)
    return cadre


def _new(data: CadreCreate | CadreUpsert) -> dict[str, Any]:
    """A new cadre's fields: creating one is no promotion, its date is what HR sends; its post
    type is stated only if the client named it."""
    values = data.model_dump(exclude={"post_type", "promoted_on"})
    after, values["promoted_on"] = rules.after_write(
        None,
        current=None,
        rank=data.rank,
        post_type=data.named_post_type(),
        sent=data.promoted_on,
        today=local_today(),
    )
    return values | _post_fields(after)


def _post_of(cadre: Cadre) -> rules.Post:
    return rules.Post(cadre.rank, cadre.post_type, cadre.post_type_stated)


def _post_fields(post: rules.Post) -> dict[str, Any]:
    return {"post_type": post.post_type, "post_type_stated": post.stated}


async def _apply(
    db_session: AsyncSession,
    cadre: Cadre,
    changes: dict[str, Any],
    actor: Actor,
    lookups: IdNumberLookups,
) -> bool:
    """Set the changed fields; True if anything changed. Unchanged writes keep the version
    (and ETag), which is what makes the HR upsert idempotent."""
    changes = {k: v for k, v in changes.items() if getattr(cadre, k) != v}
    if not changes:
        return False
    id_number = changes.get("id_number", cadre.id_number)
    birth_date = changes.get("birth_date", cadre.birth_date)
    if rules.id_number_mismatch(id_number, birth_date, changes.get("gender", cadre.gender)):
        raise UnprocessableEntity(
            N_("birth_date and gender must match the resident ID number."),
            errors=[
                ProblemFieldError(
                    pointer="/body/id_number",
                    detail=N_("does not match birth_date or gender"),
                    code="id_number_mismatch",
                )
            ],
        )
    if "org_unit_id" in changes:
        await _check_org_unit(db_session, changes["org_unit_id"], actor)
        # The cadre's user, if any, now acts in another unit's path.
        forget_scopes(db_session)
    if "id_number" in changes:
        await _check_id_number_free(db_session, id_number, cadre.id, actor, lookups)
    for field, value in changes.items():
        setattr(cadre, field, value)
    await flush_mapping_conflicts(db_session, CONFLICTS)
    return True


async def upsert_by_hr_id(
    db_session: AsyncSession,
    hr_id: str,
    data: CadreUpsert,
    actor: Actor,
    lookups: IdNumberLookups,
) -> tuple[Cadre, bool]:
    """Create or update the cadre HR knows as `hr_id`. Returns (cadre, created)."""
    # Concurrent first-time PUTs of one hr_id queue here: the second then finds the first's
    # row and answers like a retry, instead of failing on the unique constraint.
    await repository.lock_hr_id(db_session, hr_id)
    cadre = await repository.get_by_hr_id(db_session, hr_id, for_update=True)
    if cadre is not None and await repository.get(db_session, cadre.id, actor) is None:
        raise CadreNotFound()  # exists, but outside the caller's scope: reveal nothing
    if cadre is None:
        await _check_org_unit(db_session, data.org_unit_id, actor)
        await _check_id_number_free(db_session, data.id_number, None, actor, lookups)
        cadre = Cadre(hr_id=hr_id, **_new(data))
        db_session.add(cadre)
        await flush_mapping_conflicts(db_session, CONFLICTS)
        return cadre, True
    changes = data.model_dump(exclude={"post_type", "promoted_on"})
    after, changes["promoted_on"] = rules.after_hr_record(
        _post_of(cadre),
        current=cadre.promoted_on,
        rank=data.rank,
        post_type=data.post_type,
        sent=data.promoted_on,
        today=local_today(),
    )
    changes |= _post_fields(after)
    await _apply(db_session, cadre, changes, actor, lookups)
    return cadre, False


async def deactivate_cadre(db_session: AsyncSession, cadre: Cadre) -> None:
    if cadre.status != CadreStatus.inactive:
        cadre.status = CadreStatus.inactive
        await db_session.flush()
