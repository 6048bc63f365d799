"""A small province written row by row through the ORM (so the database triggers run: the
year sums, the audit trail), for the scorecard's tests: units, cadres with their study logs,
training sessions with enrollments and evaluation markers, and approved or draft plans."""

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.cadre.models import Cadre
from app.credit_policy import engine
from app.enrollment.models import Enrollment
from app.enums import (
    CadreStatus,
    EnrollmentOrigin,
    EnrollmentStatus,
    Gender,
    OrgUnitKind,
    PlanStatus,
    Rank,
    SessionStatus,
    StudyLogKind,
    StudyLogSource,
    StudyLogStatus,
    TrainingForm,
)
from app.evaluation.models import EvaluationAnswered, EvaluationForm, SessionEvaluation
from app.ids import new_id
from app.org_unit.models import OrgUnit
from app.org_unit.tree import path_of
from app.study_log.models import StudyLog
from app.training_plan.models import TrainingPlan, TrainingPlanItem
from app.training_session.models import TrainingSession
from tests.factories import id_number


@dataclass(frozen=True)
class LogSpec:
    kind: StudyLogKind
    start_date: date
    end_date: date
    hours: Decimal
    days: Decimal
    status: StudyLogStatus = StudyLogStatus.approved


@dataclass(frozen=True)
class CadreSpec:
    unit: int  # index into World.units (0 is the root)
    rank: Rank
    promoted_on: date | None = None
    active: bool = True
    logs: tuple[LogSpec, ...] = ()


@dataclass(frozen=True)
class EnrollmentSpec:
    cadre: int  # index into the cadres
    status: EnrollmentStatus
    answered: bool = False


@dataclass(frozen=True)
class SessionSpec:
    status: SessionStatus
    end_date: date
    evaluated: bool
    enrollments: tuple[EnrollmentSpec, ...] = ()
    plan_item: tuple[int, int] | None = None  # (plan index, item index) it holds


@dataclass(frozen=True)
class PlanSpec:
    unit: int
    year: int
    status: PlanStatus
    items: int


@dataclass(frozen=True)
class ProvinceSpec:
    # parent index of each unit after the root (unit 0); a parent comes before its children
    parents: tuple[int, ...]
    cadres: tuple[CadreSpec, ...] = ()
    sessions: tuple[SessionSpec, ...] = ()
    plans: tuple[PlanSpec, ...] = ()


@dataclass
class World:
    units: list[OrgUnit] = field(default_factory=list)
    cadres: list[Cadre] = field(default_factory=list)
    logs: dict[uuid.UUID, list[engine.LogRecord]] = field(default_factory=dict)
    plan_items: list[list[TrainingPlanItem]] = field(default_factory=list)


async def _unit(db_session: AsyncSession, parent: OrgUnit | None) -> OrgUnit:
    unit_id = new_id()
    unit = OrgUnit(
        id=unit_id,
        code=f"S{unit_id.hex[-12:]}",
        name=f"单位{unit_id.hex[-4:]}",
        kind=OrgUnitKind.city if parent is None else OrgUnitKind.county,
        parent_id=None if parent is None else parent.id,
        path=path_of(None if parent is None else parent.path, unit_id),
        depth=0 if parent is None else parent.depth + 1,
        active=True,
    )
    db_session.add(unit)
    await db_session.flush()
    return unit


async def seed(db_session: AsyncSession, spec: ProvinceSpec) -> World:
    world = World()
    world.units.append(await _unit(db_session, None))
    for parent in spec.parents:
        world.units.append(await _unit(db_session, world.units[parent]))
    for c in spec.cadres:
        cadre = Cadre(
            hr_id=f"H{uuid.uuid4().hex[:12]}",
            name="测试",
            id_number=id_number(date(1980, 1, 1)),
            gender=Gender.male,
            birth_date=date(1980, 1, 1),
            org_unit_id=world.units[c.unit].id,
            rank=c.rank,
            promoted_on=c.promoted_on,
            status=CadreStatus.active if c.active else CadreStatus.inactive,
        )
        db_session.add(cadre)
        await db_session.flush()
        world.cadres.append(cadre)
        records = []
        for spec_log in c.logs:
            log = StudyLog(
                cadre_id=cadre.id,
                title="t",
                source=StudyLogSource.manual,
                kind=spec_log.kind,
                start_date=spec_log.start_date,
                end_date=spec_log.end_date,
                hours=spec_log.hours,
                days=spec_log.days,
                status=spec_log.status,
            )
            db_session.add(log)
            await db_session.flush()
            records.append(
                engine.LogRecord(
                    id=str(log.id),
                    kind=spec_log.kind,
                    start_date=spec_log.start_date,
                    end_date=spec_log.end_date,
                    hours=spec_log.hours,
                    days=spec_log.days,
                    status=spec_log.status,
                )
            )
        world.logs[cadre.id] = records
    for p in spec.plans:
        plan = TrainingPlan(
            org_unit_id=world.units[p.unit].id, year=p.year, title="计划", status=p.status
        )
        db_session.add(plan)
        await db_session.flush()
        items = []
        for n in range(p.items):
            item = TrainingPlanItem(
                training_plan_id=plan.id,
                title=f"班次{n}",
                form=TrainingForm.special_class,
                centralised=True,
                month=1 + n % 12,
                days=Decimal(3),
                credit_hours=Decimal(24),
                target_ranks=[],
                topic_tags=[],
                planned_seats=30,
            )
            db_session.add(item)
            items.append(item)
        await db_session.flush()
        world.plan_items.append(items)
    form: EvaluationForm | None = None
    for s in spec.sessions:
        held: TrainingPlanItem | None = None
        if s.plan_item is not None:
            held = world.plan_items[s.plan_item[0]][s.plan_item[1]]
        session = TrainingSession(
            title="班",
            form=TrainingForm.special_class,
            centralised=True,
            organiser_org_unit_id=world.units[0].id,
            start_date=s.end_date,
            end_date=s.end_date,
            days=Decimal(1),
            credit_hours=Decimal(8),
            capacity=100,
            enrolled=0,
            status=s.status,
            plan_item_id=None if held is None else held.id,
            closed_on=s.end_date if s.status is SessionStatus.closed else None,
        )
        db_session.add(session)
        await db_session.flush()
        if s.evaluated:
            if form is None:
                form_id = new_id()
                form = EvaluationForm(
                    id=form_id,
                    org_unit_id=world.units[0].id,
                    name="评估表",
                    lineage_id=form_id,
                    revision=1,
                    allow_comments=False,
                )
                db_session.add(form)
                await db_session.flush()
            db_session.add(
                SessionEvaluation(training_session_id=session.id, form_id=form.id, open_days=14)
            )
            await db_session.flush()
        for e in s.enrollments:
            enrollment = Enrollment(
                training_session_id=session.id,
                cadre_id=world.cadres[e.cadre].id,
                origin=EnrollmentOrigin.roll_call,
                status=e.status,
            )
            db_session.add(enrollment)
            await db_session.flush()
            if e.answered:
                db_session.add(EvaluationAnswered(enrollment_id=enrollment.id))
                await db_session.flush()
    return world
