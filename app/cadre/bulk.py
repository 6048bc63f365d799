"""The cadre table's bulk writes, for the HR sync: set-wise (one COPY, one UPDATE, one
deactivation); their audit rows and change events come from the table's trigger, as for every
write. The caller
checks each row (scope, unit, unique keys); what changes, and the promotion date, are decided
here by the same rules as the single-record paths (`app.cadre.rules`)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import forget_scopes
from app.cadre import rules
from app.cadre.models import Cadre
from app.copy import copy_rows
from app.db import any_of
from app.enums import CadreStatus, Gender, PostType, Rank
from app.ids import new_id
from app.org_unit.tree import subtree_ids
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
    "post_type_stated",
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
    post_type: PostType | None  # None: not sent (a new cadre's: non_leading, not stated; else kept)
    position: str | None
    promoted_on: date | None  # None: no date named (HR not knowing one erases none)
    status: CadreStatus


def changes(current: Cadre, incoming: Incoming, today: date) -> dict[str, Any]:
    """The fields `incoming` changes in `current`, with their new values (`id_number` last);
    empty when it changes nothing. `today` is the write's effective date (a promotion's)."""
    post, promoted_on = rules.after_hr_record(
        rules.Post(current.rank, current.post_type, current.post_type_stated),
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
        "post_type": post.post_type,
        "post_type_stated": post.stated,
        "position": incoming.position,
        "promoted_on": promoted_on,
        "status": incoming.status,
    }
    out = {k: v for k, v in values.items() if getattr(current, k) != v}
    if current.id_number_hash != incoming.id_number_hash:  # no decryption needed to compare
        out["id_number"] = incoming.id_number
    return out


async def insert_many(db_session: AsyncSession, rows: Sequence[Incoming]) -> None:
    """Create the cadres (COPY). Creating a cadre is no promotion: its date is what HR sends;
    its post type is stated only if HR sent one (`rules.post_after`, as for POST and PUT)."""
    if not rows:
        return
    box = cipher()
    posts = [rules.post_after(None, rank=row.rank, post_type=row.post_type) for row in rows]
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
            "post_type": post.post_type,
            "post_type_stated": post.stated,
            "position": row.position,
            "promoted_on": row.promoted_on,
            "status": row.status,
            "id_number_ciphertext": box.encrypt(row.id_number),
            "id_number_hash": row.id_number_hash,
        }
        for row, post in zip(rows, posts, strict=True)
    ]
    columns = ("id", "version", "hr_id", *FIELDS, "id_number_ciphertext", "id_number_hash")
    await copy_rows(
        db_session,
        "cadre",
        columns,
        [tuple(_plain(r[c]) for c in columns) for r in records],
    )


# One statement for the whole batch: the audit trigger (migration 0013) runs once a statement,
# so an executemany of one UPDATE a row would pay its fixed cost 10,000 times.
_UPDATE_MANY = text(
    """
    UPDATE cadre AS c SET
        name = u.name, gender = u.gender, birth_date = u.birth_date,
        org_unit_id = u.org_unit_id, rank = u.rank, post_type = u.post_type,
        post_type_stated = u.post_type_stated, position = u.position,
        promoted_on = u.promoted_on, status = u.status,
        id_number_ciphertext = u.ciphertext, id_number_hash = u.hash,
        version = c.version + 1, updated_at = now()
    FROM unnest(
        CAST(:id AS uuid[]), CAST(:name AS text[]), CAST(:gender AS text[]),
        CAST(:birth_date AS date[]), CAST(:org_unit_id AS uuid[]), CAST(:rank AS text[]),
        CAST(:post_type AS text[]), CAST(:post_type_stated AS boolean[]),
        CAST(:position AS text[]), CAST(:promoted_on AS date[]), CAST(:status AS text[]),
        CAST(:ciphertext AS bytea[]), CAST(:hash AS bytea[])
    ) AS u(id, name, gender, birth_date, org_unit_id, rank, post_type, post_type_stated,
           position, promoted_on, status, ciphertext, hash)
    WHERE c.id = u.id
    """
)


async def update_many(
    db_session: AsyncSession, updates: Sequence[tuple[Cadre, dict[str, Any]]]
) -> None:
    """Apply each cadre's `changes(...)` in one UPDATE: every row sets all fields, unchanged
    ones to their current values; the version goes up by one."""
    if not updates:
        return
    box = cipher()
    columns: dict[str, list[Any]] = {k: [] for k in ("id", *FIELDS, "ciphertext", "hash")}
    for current, changed in updates:
        number = changed.get("id_number")
        columns["id"].append(current.id)
        for k in FIELDS:
            columns[k].append(_plain(changed.get(k, getattr(current, k))))
        columns["ciphertext"].append(
            current.id_number_ciphertext if number is None else box.encrypt(number)
        )
        columns["hash"].append(
            current.id_number_hash if number is None else box.lookup_hash(number)
        )
    await db_session.execute(_UPDATE_MANY, columns)
    if any("org_unit_id" in changed for _, changed in updates):
        forget_scopes(db_session)  # a moved cadre's user acts in another unit's path


async def deactivate_many(
    db_session: AsyncSession, cadre_ids: Sequence[uuid.UUID], *, within: str
) -> None:
    """Deactivate active cadres of the subtree at path `within` (never erase them). The ids come
    from an earlier read: a cadre moved out of the subtree, or deactivated, meanwhile is left as
    it now is."""
    if not cadre_ids:
        return
    await db_session.execute(
        update(Cadre)
        .where(
            any_of(Cadre.id, cadre_ids),
            Cadre.status == CadreStatus.active,
            Cadre.org_unit_id.in_(subtree_ids(within)),
        )
        .values(status=CadreStatus.inactive, version=Cadre.version + 1)
        .execution_options(synchronize_session=False)
    )


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value
