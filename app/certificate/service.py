"""Issuing, verifying and reading certificates (结业证书, docs/certificates.md)."""

import io
import secrets
import uuid
import zipfile
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.cadre import service as cadres
from app.certificate import repository
from app.certificate.errors import CertificateNotFound
from app.certificate.models import Certificate
from app.certificate.repository import CertificateView
from app.documents.certificate import CertificatePage, certificates_pdf
from app.enums import Language
from app.training_session import service as sessions
from app.training_session.models import TrainingSession

# 32 random bytes: 256 bits, URL-safe base64 (43 characters). Unguessable, so the public
# verification answers only to the holder of the code.
CODE_BYTES = 32


@dataclass(frozen=True)
class Completion:
    """A completed trainee's study log, which the certificate certifies."""

    cadre_id: uuid.UUID
    enrollment_id: uuid.UUID
    study_log_id: uuid.UUID
    hours: Decimal
    days: Decimal


def serial_of(year: int, seq: int) -> str:
    return f"{year}-{seq:04d}"


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


async def issue_for_session(
    db_session: AsyncSession, ts: TrainingSession, completions: list[Completion]
) -> list[Certificate]:
    """One certificate per completed trainee, numbered on in the organiser's series of the
    session's closing year (its last day), in the order given."""
    if not completions:
        return []
    year = ts.end_date.year
    first = await repository.take_serials(
        db_session, ts.organiser_org_unit_id, year, len(completions)
    )
    issued = [
        Certificate(
            organiser_org_unit_id=ts.organiser_org_unit_id,
            year=year,
            seq=first + offset,
            serial=serial_of(year, first + offset),
            cadre_id=done.cadre_id,
            training_session_id=ts.id,
            enrollment_id=done.enrollment_id,
            study_log_id=done.study_log_id,
            hours=done.hours,
            days=done.days,
            verification_code=new_code(),
        )
        for offset, done in enumerate(completions)
    ]
    db_session.add_all(issued)
    await db_session.flush()
    return issued


def mask_name(name: str) -> str:
    """张三丰 → 张*丰, 张三 → 张*: only the first and (from three characters) last show."""
    name = name.strip()
    if len(name) <= 1:
        return name + "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


async def verify(db_session: AsyncSession, code: str) -> CertificateView:
    found = await repository.by_code(db_session, code)
    if found is None:
        raise CertificateNotFound()
    return found


async def get_certificate(
    db_session: AsyncSession, certificate_id: uuid.UUID, actor: Actor
) -> CertificateView:
    found = await repository.readable_one(db_session, certificate_id, actor)
    if found is None:
        raise CertificateNotFound()
    return found


async def of_session(
    db_session: AsyncSession, training_session_id: uuid.UUID, actor: Actor
) -> list[CertificateView]:
    """For the session's organisers only (as the sign-in sheet)."""
    ts = await sessions.get_training_session(db_session, training_session_id, actor)
    await sessions.check_manages(db_session, ts, actor)
    return await repository.of_session(db_session, ts.id)


async def of_cadre(
    db_session: AsyncSession, cadre_id: uuid.UUID, actor: Actor
) -> list[CertificateView]:
    await cadres.get_cadre(db_session, cadre_id, actor)  # out of scope: 404
    return await repository.of_cadre(db_session, cadre_id, actor)


def page_of(view: CertificateView, verify_url: str) -> CertificatePage:
    c = view.certificate
    return CertificatePage(
        serial=c.serial,
        name=view.cadre_name,
        title=view.title,
        start_date=view.start_date,
        end_date=view.end_date,
        hours=c.hours,
        days=c.days,
        organiser=view.organiser_name,
        verify_url=verify_url.replace("{code}", c.verification_code),
        revoked=c.revoked_at is not None,
    )


def file_name(view: CertificateView, lang: Language = Language.zh_cn) -> str:
    """结业证书-2025-0001-张三丰.pdf (en: certificate-2025-0001-张三丰.pdf): by serial, so a
    session's ZIP lists them in order."""
    name = "".join(ch for ch in view.cadre_name if ch not in '/\\:*?"<>|\x00')
    prefix = "certificate" if lang == Language.en else "结业证书"
    return f"{prefix}-{view.certificate.serial}-{name}.pdf"


def to_pdf(view: CertificateView, verify_url: str, lang: Language = Language.zh_cn) -> bytes:
    return certificates_pdf([page_of(view, verify_url)], lang.value)


def to_zip(views: list[CertificateView], verify_url: str, lang: Language = Language.zh_cn) -> bytes:
    """Each certificate its own PDF, as a person hands them out."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for view in views:
            info = zipfile.ZipInfo(file_name(view, lang), date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, to_pdf(view, verify_url, lang))
    return out.getvalue()
