"""Bulk cadre sync: every row checked on its own, then set-wise writes (one INSERT, one
UPDATE batch, one deactivation), with their audit rows and change events in the same
transaction. Idempotent: a row equal to the record is `unchanged` and writes nothing."""

import uuid
from collections import Counter
from decimal import Decimal
from enum import Enum
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import scope
from app.cadre.models import Cadre
from app.clock import local_today
from app.copy import copy_rows
from app.enums import LEADING_RANKS, CadreStatus, Rank
from app.errors import ProblemFieldError
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.org_unit.tree import in_subtree
from app.personal_data import cipher
from app.security import Actor
from app.sync.errors import SnapshotScopeNotFound, SnapshotTooDestructive
from app.sync.schemas import (
    CadreSync,
    CadreSyncItem,
    SyncCounts,
    SyncMode,
    SyncOutcome,
    SyncReport,
    SyncRowResult,
)

_ITEM = TypeAdapter(CadreSyncItem)
_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "org_unit_id",
    "rank",
    "position",
    "promoted_on",
    "status",
)
_RANK_ORDER = {rank: n for n, rank in enumerate(reversed(list(Rank)))}


def _pointer(index: int, loc: tuple[Any, ...]) -> str:
    return "/body/items/" + "/".join(str(p) for p in (index, *loc))


def _reject(index: int, raw: Any, errors: list[ProblemFieldError]) -> SyncRowResult:
    hr_id = raw.get("hr_id") if isinstance(raw, dict) else None
    return SyncRowResult.model_construct(
        index=index,
        hr_id=hr_id if isinstance(hr_id, str) else None,
        outcome=SyncOutcome.rejected,
        errors=errors,
    )


async def sync_cadres(
    db_session: AsyncSession, data: CadreSync, actor: Actor, max_share: Decimal
) -> SyncReport:
    results: list[SyncRowResult] = []
    valid: list[tuple[int, CadreSyncItem]] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.items):
        try:
            item = _ITEM.validate_python(raw)
        except ValidationError as exc:
            errors = [
                ProblemFieldError(
                    pointer=_pointer(index, tuple(e["loc"])), detail=e["msg"], code=e["type"]
                )
                for e in exc.errors()
            ]
            results.append(_reject(index, raw, errors))
            continue
        if item.hr_id in seen:
            results.append(
                _reject(
                    index,
                    raw,
                    [
                        ProblemFieldError(
                            pointer=_pointer(index, ("hr_id",)),
                            detail="this hr_id appears earlier in the same request",
                            code="duplicate_in_request",
                        )
                    ],
                )
            )
            continue
        seen.add(item.hr_id)
        valid.append((index, item))

    units = {
        row[0]: row[1]
        for row in await db_session.execute(
            select(OrgUnit.code, OrgUnit.id).where(
                OrgUnit.code.in_({item.org_unit_code for _, item in valid}),
                scope.org_units(actor),
            )
        )
    }
    existing = {
        c.hr_id: c
        for c in await db_session.scalars(
            select(Cadre).where(Cadre.hr_id.in_({item.hr_id for _, item in valid}))
        )
    }
    in_scope = set(
        (
            await db_session.scalars(
                select(Cadre.id).where(
                    Cadre.id.in_([c.id for c in existing.values()]), scope.cadres(actor)
                )
            )
        ).all()
    )
    box = cipher()
    hashes = {item.hr_id: box.lookup_hash(item.id_number) for _, item in valid}
    owners = {
        row[0]: row[1]
        for row in await db_session.execute(
            select(Cadre.id_number_hash, Cadre.hr_id).where(
                Cadre.id_number_hash.in_(list(hashes.values()))
            )
        )
    }
    number_counts = Counter(item.id_number for _, item in valid)

    to_create: list[dict[str, Any]] = []
    to_update: list[tuple[Cadre, dict[str, Any], list[str]]] = []
    today = local_today()
    for index, item in valid:
        problems: list[ProblemFieldError] = []
        unit_id = units.get(item.org_unit_code)
        if unit_id is None:
            problems.append(
                ProblemFieldError(
                    pointer=_pointer(index, ("org_unit_code",)),
                    detail="no such org unit",
                    code="not_found",
                )
            )
        current = existing.get(item.hr_id)
        if current is not None and current.id not in in_scope:
            problems.append(
                ProblemFieldError(
                    pointer=_pointer(index, ("hr_id",)), detail="no such cadre", code="not_found"
                )
            )
        owner = owners.get(hashes[item.hr_id])
        if (owner is not None and owner != item.hr_id) or number_counts[item.id_number] > 1:
            problems.append(
                ProblemFieldError(
                    pointer=_pointer(index, ("id_number",)),
                    detail="another cadre has this resident ID number",
                    code="id_number_taken",
                )
            )
        if problems:
            results.append(_reject(index, item.model_dump(), problems))
            continue
        values: dict[str, Any] = {
            "name": item.name,
            "gender": item.gender,
            "birth_date": item.birth_date,
            "org_unit_id": unit_id,
            "rank": item.rank,
            "position": item.position,
            "promoted_on": item.promoted_on,
            "status": item.status,
        }
        if current is None:
            to_create.append({"hr_id": item.hr_id, "id_number": item.id_number, **values})
            results.append(
                SyncRowResult.model_construct(
                    index=index, hr_id=item.hr_id, outcome=SyncOutcome.created
                )
            )
            continue
        # A promotion into a higher rank starts the grace year (SPEC §3 rule 4) even when HR
        # does not send the date: the day the change arrives is the best date known.
        if (
            _RANK_ORDER[item.rank] > _RANK_ORDER[current.rank]
            and item.rank in LEADING_RANKS
            and (item.promoted_on is None or item.promoted_on == current.promoted_on)
        ):
            values["promoted_on"] = today
        elif item.promoted_on is None:
            values["promoted_on"] = current.promoted_on
        changed = [k for k in _FIELDS if getattr(current, k) != values[k]]
        if current.id_number_hash != hashes[item.hr_id]:  # no decryption needed to compare
            changed.append("id_number")
        if changed:
            to_update.append((current, {**values, "id_number": item.id_number}, changed))
            results.append(
                SyncRowResult.model_construct(
                    index=index,
                    hr_id=item.hr_id,
                    outcome=SyncOutcome.updated,
                    changed_fields=changed,
                )
            )
        else:
            results.append(
                SyncRowResult.model_construct(
                    index=index, hr_id=item.hr_id, outcome=SyncOutcome.unchanged
                )
            )

    to_deactivate: list[tuple[uuid.UUID, str]] = []
    if data.mode == SyncMode.snapshot:
        # Rows rejected for a bad field still name their cadre: it is not missing.
        named = seen | {
            raw["hr_id"]
            for raw in data.items
            if isinstance(raw, dict) and isinstance(raw.get("hr_id"), str)
        }
        to_deactivate = await _missing_from_snapshot(db_session, data, actor, named, max_share)
        results += [
            SyncRowResult.model_construct(index=None, hr_id=hr_id, outcome=SyncOutcome.deactivated)
            for _, hr_id in to_deactivate
        ]

    if not data.dry_run:
        await _write(db_session, to_create, to_update, to_deactivate)
    counts = Counter(r.outcome for r in results)
    return SyncReport(
        mode=data.mode,
        dry_run=data.dry_run,
        counts=SyncCounts(**{o.value: counts.get(o, 0) for o in SyncOutcome}),
        results=sorted(results, key=lambda r: (r.index is None, r.index or 0)),
    )


async def snapshot_root(db_session: AsyncSession, code: str | None, actor: Actor) -> OrgUnit:
    """The unit a snapshot covers (with its subtree), if the caller may see it."""
    root = (
        await db_session.scalars(
            select(OrgUnit).where(OrgUnit.code == code, scope.org_units(actor))
        )
    ).one_or_none()
    if root is None:
        raise SnapshotScopeNotFound()
    return root


async def _missing_from_snapshot(
    db_session: AsyncSession, data: CadreSync, actor: Actor, seen: set[str], max_share: Decimal
) -> list[tuple[uuid.UUID, str]]:
    """Active cadres of the snapshot's subtree that it leaves out. A truncated file must not
    wipe a county: more than `max_share` of any unit's active cadres at once is refused."""
    root = await snapshot_root(db_session, data.snapshot_of, actor)
    active = (
        await db_session.execute(
            select(Cadre.id, Cadre.hr_id, Cadre.org_unit_id, OrgUnit.code)
            .join(OrgUnit, OrgUnit.id == Cadre.org_unit_id)
            .where(in_subtree(root.path), Cadre.status == CadreStatus.active)
        )
    ).all()
    per_unit = Counter(code for *_, code in active)
    missing = [(cadre_id, hr_id, code) for cadre_id, hr_id, _, code in active if hr_id not in seen]
    losing = Counter(code for *_, code in missing)
    too_many = sorted(code for code, n in losing.items() if Decimal(n) / per_unit[code] > max_share)
    if too_many and not data.force:
        shown = ", ".join(f"{code} ({losing[code]} of {per_unit[code]})" for code in too_many[:20])
        raise SnapshotTooDestructive(
            f"Deactivating would remove more than {max_share:%} of these units' active cadres: "
            f"{shown}. Send `force: true` if the snapshot is right."
        )
    return [(cadre_id, hr_id) for cadre_id, hr_id, _ in missing]


async def _write(
    db_session: AsyncSession,
    to_create: list[dict[str, Any]],
    to_update: list[tuple[Cadre, dict[str, Any], list[str]]],
    to_deactivate: list[tuple[uuid.UUID, str]],
) -> None:
    box = cipher()
    if to_create:
        rows = []
        for values in to_create:
            number = values.pop("id_number")
            rows.append(
                {
                    **values,
                    "id": new_id(),
                    "version": 1,
                    "id_number_ciphertext": box.encrypt(number),
                    "id_number_hash": box.lookup_hash(number),
                }
            )
        columns = ("id", "version", "hr_id", *_FIELDS, "id_number_ciphertext", "id_number_hash")
        await copy_rows(
            db_session,
            "cadre",
            columns,
            [
                tuple(v.value if isinstance(v, Enum) else v for v in (r[c] for c in columns))
                for r in rows
            ],
        )
    if to_update:
        params = []
        for current, values, _ in to_update:
            number = values.pop("id_number")
            params.append(
                {
                    "b_id": current.id,
                    **{f"b_{k}": v for k, v in values.items()},
                    "b_ciphertext": box.encrypt(number),
                    "b_hash": box.lookup_hash(number),
                }
            )
        table = cast(Table, Cadre.__table__)
        # A Core executemany: the ORM's bulk-by-primary-key form would want every version.
        await db_session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                **{k: bindparam(f"b_{k}") for k in _FIELDS},
                id_number_ciphertext=bindparam("b_ciphertext"),
                id_number_hash=bindparam("b_hash"),
                version=table.c.version + 1,
                updated_at=func.now(),
            ),
            params,
        )
    if to_deactivate:
        await db_session.execute(
            update(Cadre)
            .where(Cadre.id.in_([cadre_id for cadre_id, _ in to_deactivate]))
            .values(status=CadreStatus.inactive, version=Cadre.version + 1)
            .execution_options(synchronize_session=False)
        )
