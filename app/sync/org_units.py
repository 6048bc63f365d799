"""Org-unit sync: thousands of units at most, so each row goes through the org-unit service
(codes, parents, moves with their locks) inside a savepoint of its own: a bad row is rolled
back alone and reported. A snapshot also deactivates the subtree's active units it leaves out
(refused beyond a share of them unless forced), but never one that would leave active cadres or
units under an inactive unit."""

import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import repository as cadre_repository
from app.errors import AppError, ProblemFieldError, json_pointer, translated, validation_message
from app.i18n import N_, _
from app.org_unit import repository as org_unit_repository
from app.org_unit import service as org_units
from app.org_unit.models import OrgUnit
from app.org_unit.schemas import OrgUnitCreate, OrgUnitUpdate
from app.schema_types import UnstorableText, unstorable_text
from app.sync.errors import SnapshotTooDestructive
from app.sync.schemas import (
    OrgUnitSync,
    OrgUnitSyncItem,
    OrgUnitSyncReport,
    OrgUnitSyncRowResult,
    SyncCounts,
    SyncMode,
    SyncOutcome,
)
from app.sync.snapshot import snapshot_root

_ITEM = TypeAdapter(OrgUnitSyncItem)


def _rejected(
    index: int | None, code: Any, errors: list[ProblemFieldError]
) -> OrgUnitSyncRowResult:
    return OrgUnitSyncRowResult(
        index=index,
        code=code if isinstance(code, str) else None,
        outcome=SyncOutcome.rejected,
        errors=translated(errors),
    )


def _order(valid: list[tuple[int, OrgUnitSyncItem]]) -> list[tuple[int, OrgUnitSyncItem]]:
    """Parents before children when both are in the request (the rest keep their order)."""
    by_code = {item.code: (i, item) for i, item in valid}
    placed: set[str] = set()
    ordered: list[tuple[int, OrgUnitSyncItem]] = []

    def place(code: str, trail: frozenset[str]) -> None:
        if code in placed or code not in by_code or code in trail:
            return
        parent = by_code[code][1].parent_code
        if parent is not None:
            place(parent, trail | {code})
        placed.add(code)
        ordered.append(by_code[code])

    for _index, item in valid:
        place(item.code, frozenset())
    return ordered


async def sync_org_units(
    db_session: AsyncSession, data: OrgUnitSync, actor: Actor, max_share: Decimal
) -> OrgUnitSyncReport:
    if unstorable := unstorable_text(data.items, "body", "items"):
        raise UnstorableText(unstorable)
    results: list[OrgUnitSyncRowResult] = []
    valid: list[tuple[int, OrgUnitSyncItem]] = []
    seen: set[str] = set()
    # Every code the snapshot names, as a unit or as a parent, rejected rows included: a typo
    # in a unit's name must not deactivate it.
    named = {
        raw[field]
        for raw in data.items
        if isinstance(raw, dict)
        for field in ("code", "parent_code")
        if isinstance(raw.get(field), str)
    }
    root = None
    if data.mode == SyncMode.snapshot:
        root = await snapshot_root(db_session, data.snapshot_of, actor)
        await _guard(db_session, root, named, data.force, max_share)
    for index, raw in enumerate(data.items):
        code = raw.get("code") if isinstance(raw, dict) else None
        try:
            item = _ITEM.validate_python(raw)
        except ValidationError as exc:
            results.append(
                _rejected(
                    index,
                    code,
                    [
                        ProblemFieldError(
                            pointer=json_pointer(("body", "items", index, *e["loc"])),
                            detail=validation_message(e),
                            code=e["type"],
                        )
                        for e in exc.errors()
                    ],
                )
            )
            continue
        if item.code in seen:
            results.append(
                _rejected(
                    index,
                    code,
                    [
                        ProblemFieldError(
                            pointer=f"/body/items/{index}/code",
                            detail=N_("this code appears earlier in the same request"),
                            code="duplicate_in_request",
                        )
                    ],
                )
            )
            continue
        seen.add(item.code)
        valid.append((index, item))

    savepoint_all = await db_session.begin_nested() if data.dry_run else None
    for index, item in _order(valid):
        results.append(await _one(db_session, index, item, actor))
    if root is not None:
        # Judged on the tree as the items left it: they may have moved or created units.
        missing, refused = await _left_out(db_session, root, named)
        results += refused
        for unit_id, code in missing:
            unit = await org_units.get_org_unit(db_session, unit_id, actor)
            await org_units.update_org_unit(db_session, unit, OrgUnitUpdate(active=False), actor)
            results.append(
                OrgUnitSyncRowResult(index=None, code=code, outcome=SyncOutcome.deactivated)
            )
    if savepoint_all is not None:
        await savepoint_all.rollback()  # a dry run answers, and leaves everything as it was
    counts = Counter(r.outcome for r in results)
    return OrgUnitSyncReport(
        mode=data.mode,
        dry_run=data.dry_run,
        counts=SyncCounts(**{o.value: counts.get(o, 0) for o in SyncOutcome}),
        results=sorted(results, key=lambda r: (r.index is None, r.index or 0, r.code or "")),
    )


_Unit = tuple[uuid.UUID, uuid.UUID | None, str, int]


async def _active_units_below(db_session: AsyncSession, root: OrgUnit) -> list[_Unit]:
    """(id, parent_id, code, active cadres) of the active units below `root`, deepest first."""
    units = await org_unit_repository.active_below(db_session, root)
    cadres = await cadre_repository.active_counts_by_unit(db_session, root.path)
    return [
        (unit_id, parent_id, code, cadres.get(unit_id, 0)) for unit_id, parent_id, code in units
    ]


async def _guard(
    db_session: AsyncSession, root: OrgUnit, named: set[str], force: bool, max_share: Decimal
) -> None:
    """Before anything is written: more than `max_share` of the active units below the
    snapshot's root left out at once is refused (409) unless forced."""
    units = await _active_units_below(db_session, root)
    left_out = sum(1 for _, _, code, _ in units if code not in named)
    if units and Decimal(left_out) / len(units) > max_share and not force:
        raise SnapshotTooDestructive(
            _(
                "Deactivating would remove {left_out} of the {active} active units below "
                "{root}, more than {share}. Send `force: true` if the snapshot is right."
            ).format(left_out=left_out, active=len(units), root=root.code, share=f"{max_share:%}")
        )


async def _left_out(
    db_session: AsyncSession, root: OrgUnit, named: set[str]
) -> tuple[list[tuple[uuid.UUID, str]], list[OrgUnitSyncRowResult]]:
    """The active units below the root that the snapshot leaves out, deepest first, to be
    deactivated; and, reported as refused and kept, those that would leave something active
    under an inactive unit: active cadres of their own, or an active unit under them that
    stays."""
    units = await _active_units_below(db_session, root)
    deactivate: list[tuple[uuid.UUID, str]] = []
    refused: list[OrgUnitSyncRowResult] = []
    keeps_a_child: set[uuid.UUID | None] = set()  # units with an active unit under them that stays
    for unit_id, parent_id, code, active_cadres in units:  # children before their parents
        if code in named:
            keeps_a_child.add(parent_id)
            continue
        if not active_cadres and unit_id not in keeps_a_child:
            deactivate.append((unit_id, code))
            continue
        keeps_a_child.add(parent_id)
        why = (
            _("still has {count} active cadre(s): move or deactivate them first").format(
                count=active_cadres
            )
            if active_cadres
            else _("still has active units under it")
        )
        refused.append(
            _rejected(
                None,
                code,
                [
                    ProblemFieldError(
                        pointer="/body/items",
                        detail=_("{code} is missing from the snapshot but {why}").format(
                            code=code, why=why
                        ),
                        code="unit_still_in_use",
                    )
                ],
            )
        )
    return deactivate, refused


async def _one(
    db_session: AsyncSession, index: int, item: OrgUnitSyncItem, actor: Actor
) -> OrgUnitSyncRowResult:
    parent_id = None
    if item.parent_code is not None:
        parent = await org_unit_repository.get_by_code(db_session, item.parent_code)
        parent_id = parent.id if parent is not None else None
        if parent_id is None:
            return _rejected(
                index,
                item.code,
                [
                    ProblemFieldError(
                        pointer=f"/body/items/{index}/parent_code",
                        detail=N_("no such org unit (in the database or earlier in this request)"),
                        code="not_found",
                    )
                ],
            )
    savepoint = await db_session.begin_nested()
    try:
        current = await org_unit_repository.get_by_code(db_session, item.code)
        if current is None:
            await org_units.create_org_unit(
                db_session,
                OrgUnitCreate(code=item.code, name=item.name, kind=item.kind, parent_id=parent_id),
                actor,
                active=item.active,
            )
            outcome, changed = SyncOutcome.created, None
        else:
            current = await org_units.get_org_unit(db_session, current.id, actor)
            wanted: dict[str, Any] = {
                "name": item.name,
                "kind": item.kind,
                "parent_id": parent_id,
                "active": item.active,
            }
            changed = [k for k, v in wanted.items() if getattr(current, k) != v]
            if changed:
                await org_units.update_org_unit(
                    db_session,
                    current,
                    OrgUnitUpdate(**{k: wanted[k] for k in changed}),
                    actor,
                )
                outcome = SyncOutcome.updated
            else:
                outcome, changed = SyncOutcome.unchanged, None
    except AppError as exc:
        await savepoint.rollback()
        return _rejected(
            index,
            item.code,
            exc.errors
            or [
                ProblemFieldError(
                    pointer=f"/body/items/{index}", detail=exc.detail or exc.title, code=exc.code
                )
            ],
        )
    await savepoint.commit()
    return OrgUnitSyncRowResult(
        index=index, code=item.code, outcome=outcome, changed_fields=changed
    )
