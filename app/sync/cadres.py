"""Bulk cadre sync: every row checked on its own (shape, unit, scope, unique ID numbers), then
handed to the cadre domain's set-wise writes (`app.cadre.bulk`: one COPY, one UPDATE batch, one
deactivation), which decide what changes by the cadre's own rules. Idempotent: a row equal to the
record is `unchanged` and writes nothing."""

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import bulk
from app.cadre import repository as cadres
from app.cadre.errors import CONFLICTS, PostTypeRequired
from app.cadre.models import Cadre
from app.clock import local_today
from app.db import mapping_conflicts
from app.errors import ProblemFieldError, json_pointer, translated, validation_message
from app.i18n import N_, _
from app.org_unit import repository as org_units
from app.personal_data import cipher
from app.schema_types import UnstorableText, unstorable_text
from app.sync.errors import SnapshotTooDestructive
from app.sync.schemas import (
    CadreSync,
    CadreSyncItem,
    SyncCounts,
    SyncMode,
    SyncOutcome,
    SyncReport,
    SyncRowResult,
)
from app.sync.snapshot import snapshot_root

_ITEM = TypeAdapter(CadreSyncItem)


def _pointer(index: int, loc: tuple[Any, ...]) -> str:
    return json_pointer(("body", "items", index, *loc))


def _reject(index: int, raw: Any, errors: list[ProblemFieldError]) -> SyncRowResult:
    hr_id = raw.get("hr_id") if isinstance(raw, dict) else None
    return SyncRowResult.model_construct(
        index=index,
        hr_id=hr_id if isinstance(hr_id, str) else None,
        outcome=SyncOutcome.rejected,
        errors=translated(errors),
    )


async def sync_cadres(
    db_session: AsyncSession, data: CadreSync, actor: Actor, max_share: Decimal
) -> SyncReport:
    """Parse each row → check it against the database → let the cadre domain decide what
    changes → report; then write, unless this is a dry run."""
    if unstorable := unstorable_text(data.items, "body", "items"):
        raise UnstorableText(unstorable)
    results, valid = _parse(data)
    known = await _known(db_session, valid, actor, lock=not data.dry_run)
    to_create, to_update = _plan(valid, known, results, local_today())

    to_deactivate: list[tuple[uuid.UUID, str]] = []
    within = "/"
    if data.mode == SyncMode.snapshot:
        # Rows rejected for a bad field still name their cadre: it is not missing.
        named = {item.hr_id for _, item in valid} | {
            raw["hr_id"]
            for raw in data.items
            if isinstance(raw, dict) and isinstance(raw.get("hr_id"), str)
        }
        within, to_deactivate = await _missing_from_snapshot(
            db_session, data, actor, named, max_share
        )
        results += [
            SyncRowResult.model_construct(index=None, hr_id=hr_id, outcome=SyncOutcome.deactivated)
            for _, hr_id in to_deactivate
        ]

    if not data.dry_run:
        # The cadre domain writes its table; the sync only decided what to send it. A cadre
        # created meanwhile by another sync or a PUT (its HR id or ID number) is a conflict.
        with mapping_conflicts(CONFLICTS):
            await bulk.insert_many(db_session, to_create)
            await bulk.update_many(db_session, to_update)
            await bulk.deactivate_many(
                db_session, [cadre_id for cadre_id, _ in to_deactivate], within=within
            )
    counts = Counter(r.outcome for r in results)
    return SyncReport(
        mode=data.mode,
        dry_run=data.dry_run,
        counts=SyncCounts(**{o.value: counts.get(o, 0) for o in SyncOutcome}),
        results=sorted(results, key=lambda r: (r.index is None, r.index or 0)),
    )


def _parse(data: CadreSync) -> tuple[list[SyncRowResult], list[tuple[int, CadreSyncItem]]]:
    """Each row's shape, on its own: the rejected ones reported, the valid ones kept."""
    results: list[SyncRowResult] = []
    valid: list[tuple[int, CadreSyncItem]] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.items):
        try:
            item = _ITEM.validate_python(raw)
        except ValidationError as exc:
            errors = [
                ProblemFieldError(
                    pointer=_pointer(index, tuple(e["loc"])),
                    detail=validation_message(e),
                    code=e["type"],
                )
                for e in exc.errors()
            ]
            results.append(_reject(index, raw, errors))
            continue
        if item.hr_id in seen:
            duplicate = ProblemFieldError(
                pointer=_pointer(index, ("hr_id",)),
                detail=N_("this hr_id appears earlier in the same request"),
                code="duplicate_in_request",
            )
            results.append(_reject(index, raw, [duplicate]))
            continue
        seen.add(item.hr_id)
        valid.append((index, item))
    return results, valid


@dataclass(frozen=True, slots=True)
class _Known:
    """What the database knows of the rows' units, cadres and ID numbers."""

    units: dict[str, uuid.UUID]  # by code, within the caller's scope
    existing: dict[str, Cadre]  # by hr_id
    in_scope: set[uuid.UUID]  # the existing ones the caller may write
    hashes: dict[str, bytes]  # each row's ID number lookup hash, by hr_id
    owners: dict[bytes, str]  # the hr_id holding each of those numbers
    number_counts: Counter[str]  # each ID number's rows in this request


async def _known(
    db_session: AsyncSession, valid: list[tuple[int, CadreSyncItem]], actor: Actor, *, lock: bool
) -> _Known:
    """`lock`: the existing cadres stay locked until the write, so that the changes planned
    from them overwrite no concurrent PATCH (it waits, then finds its version stale)."""
    units = await org_units.ids_by_code(
        db_session, {item.org_unit_code for _, item in valid}, actor
    )
    existing = await cadres.by_hr_ids(
        db_session, {item.hr_id for _, item in valid}, for_update=lock
    )
    box = cipher()
    hashes = {item.hr_id: box.lookup_hash(item.id_number) for _, item in valid}
    return _Known(
        units=units,
        existing=existing,
        in_scope=await cadres.in_scope(db_session, [c.id for c in existing.values()], actor),
        hashes=hashes,
        owners=await cadres.hr_ids_by_id_number_hash(db_session, list(hashes.values())),
        number_counts=Counter(item.id_number for _, item in valid),
    )


def _problems(index: int, item: CadreSyncItem, known: _Known) -> list[ProblemFieldError]:
    """Why the row cannot be written: its unit, its cadre out of scope, its ID number taken."""
    problems: list[ProblemFieldError] = []
    if item.org_unit_code not in known.units:
        problems.append(
            ProblemFieldError(
                pointer=_pointer(index, ("org_unit_code",)),
                detail=N_("no such org unit"),
                code="not_found",
            )
        )
    current = known.existing.get(item.hr_id)
    if current is not None and current.id not in known.in_scope:
        problems.append(
            ProblemFieldError(
                pointer=_pointer(index, ("hr_id",)), detail=N_("no such cadre"), code="not_found"
            )
        )
    owner = known.owners.get(known.hashes[item.hr_id])
    if (owner is not None and owner != item.hr_id) or known.number_counts[item.id_number] > 1:
        problems.append(
            ProblemFieldError(
                pointer=_pointer(index, ("id_number",)),
                detail=N_("another cadre has this resident ID number"),
                code="id_number_taken",
            )
        )
    return problems


def _plan(
    valid: list[tuple[int, CadreSyncItem]],
    known: _Known,
    results: list[SyncRowResult],
    today: date,
) -> tuple[list[bulk.Incoming], list[tuple[Cadre, dict[str, Any]]]]:
    """The rows to create and the changes to make, each row's outcome added to `results`.
    What changes, the promotion date included (docs/rules.md rule 4), is the cadre domain's
    decision (`bulk.changes`), as it is for PUT by HR id."""
    to_create: list[bulk.Incoming] = []
    to_update: list[tuple[Cadre, dict[str, Any]]] = []
    for index, item in valid:
        if problems := _problems(index, item, known):
            results.append(_reject(index, item.model_dump(), problems))
            continue
        incoming = bulk.Incoming(
            hr_id=item.hr_id,
            name=item.name,
            id_number=item.id_number,
            id_number_hash=known.hashes[item.hr_id],
            gender=item.gender,
            birth_date=item.birth_date,
            org_unit_id=known.units[item.org_unit_code],
            rank=item.rank,
            post_type=item.post_type,
            position=item.position,
            promoted_on=item.promoted_on,
            status=item.status,
        )
        current = known.existing.get(item.hr_id)
        try:
            changed = {} if current is None else bulk.changes(current, incoming, today)
        except PostTypeRequired as exc:
            problem = ProblemFieldError(
                pointer=_pointer(index, ("post_type",)),
                detail=exc.detail or exc.title,
                code=exc.code,
            )
            results.append(_reject(index, item.model_dump(), [problem]))
            continue
        if current is None:
            to_create.append(incoming)
            outcome = SyncOutcome.created
        elif changed:
            to_update.append((current, changed))
            outcome = SyncOutcome.updated
        else:
            outcome = SyncOutcome.unchanged
        results.append(
            SyncRowResult.model_construct(
                index=index,
                hr_id=item.hr_id,
                outcome=outcome,
                changed_fields=list(changed) if changed else None,
            )
        )
    return to_create, to_update


async def _missing_from_snapshot(
    db_session: AsyncSession, data: CadreSync, actor: Actor, seen: set[str], max_share: Decimal
) -> tuple[str, list[tuple[uuid.UUID, str]]]:
    """The snapshot's subtree (its root's path) and its active cadres that the snapshot leaves
    out. A truncated file must not wipe a county: more than `max_share` of any unit's active
    cadres at once is refused."""
    root = await snapshot_root(db_session, data.snapshot_of, actor)
    active = await cadres.active_in_subtree(db_session, root.path)
    per_unit = Counter(code for *_, code in active)
    missing = [(cadre_id, hr_id, code) for cadre_id, hr_id, code in active if hr_id not in seen]
    losing = Counter(code for *_, code in missing)
    too_many = sorted(code for code, n in losing.items() if Decimal(n) / per_unit[code] > max_share)
    if too_many and not data.force:
        shown = ", ".join(
            _("{code} ({count} of {total})").format(
                code=code, count=losing[code], total=per_unit[code]
            )
            for code in too_many[:20]
        )
        raise SnapshotTooDestructive(
            _(
                "Deactivating would remove more than {share} of these units' active cadres: "
                "{units}. Send `force: true` if the snapshot is right."
            ).format(share=f"{max_share:%}", units=shown)
        )
    return root.path, [(cadre_id, hr_id) for cadre_id, hr_id, _ in missing]
