"""Every query of the certificate domain, and its scope."""

import uuid
from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre.models import Cadre
from app.cadre.repository import of_readable_cadre
from app.certificate.models import Certificate, CertificateSerial
from app.org_unit.models import OrgUnit
from app.training_session.models import TrainingSession


class CertificateView(NamedTuple):
    """A certificate with what it prints: the trainee, the class and its organiser."""

    certificate: Certificate
    cadre_name: str
    title: str
    start_date: date
    end_date: date
    organiser_name: str


async def take_serials(
    db_session: AsyncSession, organiser_org_unit_id: uuid.UUID, year: int, count: int
) -> int:
    """Raise the organiser's counter of `year` by `count` and return the first number taken.
    The UPSERT locks the counter row until the transaction ends: a concurrent close of the same
    organiser waits, and numbers never repeat or leave gaps."""
    statement = (
        insert(CertificateSerial)
        .values(organiser_org_unit_id=organiser_org_unit_id, year=year, last_seq=count)
        .on_conflict_do_update(
            index_elements=["organiser_org_unit_id", "year"],
            set_={"last_seq": CertificateSerial.last_seq + count},
        )
        .returning(CertificateSerial.last_seq)
    )
    last = (await db_session.execute(statement)).scalar_one()
    return int(last) - count + 1


def _views() -> Select[Certificate, str, str, date, date, str]:
    return (
        select(
            Certificate,
            Cadre.name,
            TrainingSession.title,
            TrainingSession.start_date,
            TrainingSession.end_date,
            OrgUnit.name,
        )
        .join(Cadre, Cadre.id == Certificate.cadre_id)
        .join(TrainingSession, TrainingSession.id == Certificate.training_session_id)
        .join(OrgUnit, OrgUnit.id == Certificate.organiser_org_unit_id)
    )


def _view(row: Sequence[object]) -> CertificateView:
    return CertificateView(*row)  # type: ignore[arg-type]


async def by_code(db_session: AsyncSession, code: str) -> CertificateView | None:
    row = (await db_session.execute(_views().where(Certificate.verification_code == code))).first()
    return _view(row) if row else None


async def readable_one(
    db_session: AsyncSession, certificate_id: uuid.UUID, actor: Actor
) -> CertificateView | None:
    statement = _views().where(
        Certificate.id == certificate_id, of_readable_cadre(Certificate.cadre_id, actor)
    )
    row = (await db_session.execute(statement)).first()
    return _view(row) if row else None


async def of_session(
    db_session: AsyncSession, training_session_id: uuid.UUID
) -> list[CertificateView]:
    statement = _views().where(Certificate.training_session_id == training_session_id)
    rows = await db_session.execute(statement.order_by(Certificate.seq))
    return [_view(row) for row in rows]


async def of_cadre(
    db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor
) -> list[CertificateView]:
    statement = _views().where(
        Certificate.cadre_id == cadre_id, of_readable_cadre(Certificate.cadre_id, actor)
    )
    rows = await db_session.execute(statement.order_by(Certificate.year, Certificate.seq))
    return [_view(row) for row in rows]
