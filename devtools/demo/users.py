"""One user of each role for the demo data set (development only), printed by `make run`."""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.assessment.models import Assessment
from app.auth.passwords import hash_password
from app.cadre.models import Cadre
from app.compliance.service import cadre_logs
from app.credit_policy import engine
from app.credit_policy.engine.common import add_years
from app.credit_policy.service import load_policies
from app.enums import CadreStatus, Role
from app.org_unit.models import OrgUnit
from app.user.models import User

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 (documented demo credential, development only)
DEMO_COUNTY_CODE = "341122"  # 来安县


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: Role
    note: str


async def ensure_demo_users(db_session: AsyncSession) -> list[DemoLogin]:
    county = (
        await db_session.scalars(select(OrgUnit).where(OrgUnit.code == DEMO_COUNTY_CODE))
    ).one_or_none()
    if county is None:
        return []
    cadre = (
        await db_session.scalars(
            select(Cadre)
            .where(Cadre.org_unit_id == county.id, Cadre.status == CadreStatus.active)
            .order_by(Cadre.hr_id)
            .limit(1)
        )
    ).one_or_none()
    wanted: list[tuple[DemoLogin, uuid.UUID | None, uuid.UUID | None]] = [
        (DemoLogin("admin", Role.admin, "市委组织部干部教育科, everything"), None, None),
        (
            DemoLogin("laian-admin", Role.org_admin, f"{county.name} and its subtree"),
            county.id,
            None,
        ),
        (
            DemoLogin("provincial-hr", Role.hr_system, "machine client: client_credentials"),
            None,
            None,
        ),
        (DemoLogin("auditor", Role.auditor, "read-only, whole tree"), None, None),
    ]
    if cadre is not None:
        wanted.append(
            (DemoLogin("cadre", Role.cadre, f"{cadre.name} ({county.name})"), None, cadre.id)
        )
    password_hash = hash_password(DEMO_PASSWORD)
    for login, org_unit_id, cadre_id in wanted:
        exists = await db_session.scalar(select(User.id).where(User.username == login.username))
        if exists is None:
            db_session.add(
                User(
                    username=login.username,
                    password_hash=password_hash,
                    role=login.role,
                    org_unit_id=org_unit_id,
                    cadre_id=cadre_id,
                    active=True,
                    failed_logins=0,
                )
            )
    await db_session.flush()
    return [login for login, _, _ in wanted]


async def freeze_demo_snapshots(db_session: AsyncSession) -> None:
    """Give the demo's assessments the engine's snapshot, as a real decision would have."""
    policies = await load_policies(db_session)
    assessments = (await db_session.scalars(select(Assessment))).all()
    for assessment in assessments:
        cadre = await db_session.get(Cadre, assessment.cadre_id)
        assert cadre is not None
        earliest = add_years(date(assessment.year, 12, 31), -5)
        logs = await cadre_logs(db_session, cadre.id, ending_from=earliest)
        _, snapshot = engine.excellent_allowed(
            logs, assessment.year, cadre.rank, cadre.promoted_on, policies
        )
        assessment.training_snapshot = dict(snapshot)
    await db_session.flush()
