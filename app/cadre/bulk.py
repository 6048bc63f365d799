"""The cadre table's bulk writes, for the HR sync: set-wise (one COPY, one UPDATE batch, one
deactivation), with their audit rows and change events in the same transaction. The caller
checks each row (scope, unit, unique keys); what changes, and the promotion date, are decided
here by the same rules as the single-record paths (`app.cadre.rules`)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.cadre import rules
from app.cadre.models import Cadre
from app.copy import copy_rows
from app.enums import AuditAction, CadreStatus, Gender, PostType, Rank
from app.ids import new_id
from app.personal_data import cipher

# The columns a bulk write sets besides the keys and the ID number, in the order a changed-fields
# report lists them.
FIELDS = (
    "name",
    "gender",
    "birth_date",
    "org_unit_id",
    "rank",
    "post_type",
    "position",
    "promoted_on",
    "status",
)


@dataclass(slots=True)  # not frozen: a sync builds 10,000 a request, and frozen ones cost twice
class Incoming:
    """A whole cadre record as HR sends it in bulk, its ID number already valid and consistent."""

    hr_id: str
    name: str
    id_number: str
    id_number_hash: bytes
    gender: Gender
    birth_date: date
    org_unit_id: uuid.UUID
    rank: Rank
    post_type: PostType | None  # None: not sent (a new cadre's is non_leading; else it is kept)
    position: str | None
    promoted_on: date | None  # None: no date named (HR not knowing one erases none)
    status: CadreStatus


def changes(current: Cadre, incoming: Incoming, today: date) -> dict[str, Any]:
    """The fields `incoming` changes in `current`, with their new values (`id_number` last);
    empty when it changes nothing. `today` is the write's effective date (a promotion's)."""
    post_type, promoted_on = rules.after_hr_record(
        rules.Post(current.rank, current.post_type),
        current=current.promoted_on,
        rank=incoming.rank,
        post_type=incoming.post_type,
        sent=incoming.promoted_on,
        today=today,
    )
    values = {
        "name": incoming.name,
        "gender": incoming.gender,
        "birth_date": incoming.birth_date,
        "org_unit_id": incoming.org_unit_id,
        "rank": incoming.rank,
        "post_type": post_type,
        "position": incoming.position,
        "promoted_on": promoted_on,
        "status": incoming.status,
    }
    out = {k: v for k, v in values.items() if getattr(current, k) != v}
    if current.id_number_hash != incoming.id_number_hash:  # no decryption needed to compare
        out["id_number"] = incoming.id_number
    return out


async def insert_many(db_session: AsyncSession, rows: Sequence[Incoming]) -> None:
    """Create the cadres (COPY). Creating a cadre is no promotion: its date is what HR sends."""
    if not rows:
        return
    box = cipher()
    records: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "version": 1,
            "hr_id": row.hr_id,
            "name": row.name,
            "gender": row.gender,
            "birth_date": row.birth_date,
            "org_unit_id": row.org_unit_id,
            "rank": row.rank,
            "post_type": row.post_type or PostType.non_leading,
            "position": row.position,
            "promoted_on": row.promoted_on,
            "status": row.status,
            "id_number_ciphertext": box.encrypt(row.id_number),
            "id_number_hash": row.id_number_hash,
        }
        for row in rows
    ]
    columns = ("id", "version", "hr_id", *FIELDS, "id_number_ciphertext", "id_number_hash")
    await copy_rows(
        db_session,
        "cadre",
        columns,
        [tuple(_plain(r[c]) for c in columns) for r in records],
    )
    await audit.record_many(
        db_session,
        action=AuditAction.create,
        entity_type="cadre",
        rows=[
            (
                r["id"],
                {k: audit.to_json(r[k]) for k in ("hr_id", *FIELDS) if r[k] is not None}
                | {"id_number": "<changed>"},
            )
            for r in records
        ],
    )


async def update_many(
    db_session: AsyncSession, updates: Sequence[tuple[Cadre, dict[str, Any]]]
) -> None:
    """Apply each cadre's `changes(...)` (one Core executemany): every row sets all fields,
    unchanged ones to their current values; the version goes up by one."""
    if not updates:
        return
    box = cipher()
    params = []
    for current, changed in updates:
        number = changed.get("id_number")
        params.append(
            {
                "b_id": current.id,
                **{f"b_{k}": changed.get(k, getattr(current, k)) for k in FIELDS},
                "b_ciphertext": (
                    current.id_number_ciphertext if number is None else box.encrypt(number)
                ),
                "b_hash": (current.id_number_hash if number is None else box.lookup_hash(number)),
            }
        )
    table = cast(Table, Cadre.__table__)
    # A Core executemany: the ORM's bulk-by-primary-key form would want every version.
    await db_session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            **{k: bindparam(f"b_{k}") for k in FIELDS},
            id_number_ciphertext=bindparam("b_ciphertext"),
            id_number_hash=bindparam("b_hash"),
            version=table.c.version + 1,
            updated_at=func.now(),
        ),
        params,
    )
    await audit.record_many(
        db_session,
        action=AuditAction.update,
        entity_type="cadre",
        rows=[
            (
                current.id,
                {
                    k: (
                        "<changed>"
                        if k == "id_number"
                        else {
                            "before": audit.to_json(getattr(current, k)),
                            "after": audit.to_json(v),
                        }
                    )
                    for k, v in changed.items()
                },
            )
            for current, changed in updates
        ],
    )


async def deactivate_many(db_session: AsyncSession, cadre_ids: Sequence[uuid.UUID]) -> None:
    """Deactivate active cadres (never erase them)."""
    if not cadre_ids:
        return
    await db_session.execute(
        update(Cadre)
        .where(Cadre.id.in_(cadre_ids))
        .values(status=CadreStatus.inactive, version=Cadre.version + 1)
        .execution_options(synchronize_session=False)
    )
    await audit.record_many(
        db_session,
        action=AuditAction.update,
        entity_type="cadre",
        rows=[
            (cadre_id, {"status": {"before": "active", "after": "inactive"}})
            for cadre_id in cadre_ids
        ],
    )


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value
