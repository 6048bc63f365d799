import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from app.auth.client_address import client_address
from app.auth.rate_limit import RateLimited, RateLimiter
from app.cadre.errors import CadreNotFound
from app.certificate import service
from app.certificate.errors import CertificateNotFound
from app.certificate.repository import CertificateView
from app.certificate.schemas import CertificateList, CertificateRead, CertificateVerification
from app.db import DbSession, ReadSession
from app.documents.spreadsheet import content_disposition
from app.enums import CertificateStatus, Language
from app.http import API_PREFIX, AppSettings, problems
from app.security import CurrentActor
from app.training_session.errors import NotSessionOrganiser, TrainingSessionNotFound

# Public: no token (registered beside the token route in app.main).
verify_router = APIRouter(prefix=f"{API_PREFIX}/certificates", tags=["certificates"])
router = APIRouter(prefix=API_PREFIX, tags=["certificates"])

Code = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
LangQuery = Annotated[
    Language,
    Query(
        description="The language of the certificate's fixed words: zh-CN (default, 结业证书) "
        "or en (Certificate of Completion); names and titles are printed as they are"
    ),
]


def _status(view: CertificateView) -> CertificateStatus:
    revoked = view.certificate.revoked_at is not None
    return CertificateStatus.revoked if revoked else CertificateStatus.valid


def _read(view: CertificateView) -> CertificateRead:
    c = view.certificate
    return CertificateRead(
        id=c.id,
        serial=c.serial,
        cadre_id=c.cadre_id,
        cadre_name=view.cadre_name,
        training_session_id=c.training_session_id,
        title=view.title,
        start_date=view.start_date,
        end_date=view.end_date,
        organiser_org_unit_id=c.organiser_org_unit_id,
        organiser_name=view.organiser_name,
        enrollment_id=c.enrollment_id,
        study_log_id=c.study_log_id,
        hours=c.hours,
        days=c.days,
        verification_code=c.verification_code,
        status=_status(view),
        revoked_at=c.revoked_at,
    )


@verify_router.get(
    "/verify/{code}",
    operation_id="verifyCertificate",
    response_model=CertificateVerification,
    responses=problems(CertificateNotFound, RateLimited),
)
async def verify_certificate(
    code: Code, request: Request, db_session: DbSession, settings: AppSettings
) -> CertificateVerification:
    """Check a certificate by the code printed on it (its QR code links here). Anyone may ask:
    the answer shows only what the paper shows, the holder's name masked (张*丰), and whether
    the certificate is `valid` or `revoked` (its study log was voided). An unknown code is 404;
    every client address is rate-limited here (`APP_RATE_LIMIT__VERIFY_PER_MINUTE`), apart from
    the token route's count, so checks never lock anyone out of signing in."""
    limiter: RateLimiter = request.app.state.verify_limiter
    limiter.check(f"ip:{client_address(request, settings.trusted_proxies)}")
    view = await service.verify(db_session, code)
    c = view.certificate
    return CertificateVerification(
        name=service.mask_name(view.cadre_name),
        title=view.title,
        start_date=view.start_date,
        end_date=view.end_date,
        hours=c.hours,
        status=_status(view),
    )


@router.get(
    "/training-sessions/{training_session_id}/certificates",
    operation_id="listSessionCertificates",
    response_model=CertificateList,
    responses=problems(TrainingSessionNotFound, NotSessionOrganiser),
)
async def list_session_certificates(
    training_session_id: uuid.UUID, db_session: DbSession, actor: CurrentActor
) -> CertificateList:
    """The certificates a closed session issued, by serial. For the session's organisers: an
    `admin` or an `org_admin` of the organising unit's tree (403 otherwise)."""
    views = await service.of_session(db_session, training_session_id, actor)
    return CertificateList(items=[_read(v) for v in views])


@router.get(
    "/cadres/{cadre_id}/certificates",
    operation_id="listCadreCertificates",
    response_model=CertificateList,
    responses=problems(CadreNotFound),
)
async def list_cadre_certificates(
    cadre_id: uuid.UUID, db_session: ReadSession, actor: CurrentActor
) -> CertificateList:
    """A cadre's certificates, oldest first, revoked ones included (`status`). A cadre outside
    the actor's scope is 404."""
    views = await service.of_cadre(db_session, cadre_id, actor)
    return CertificateList(items=[_read(v) for v in views])


def _file(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": what,
            "headers": {
                "Content-Disposition": {
                    "description": "attachment; filename*=UTF-8''结业证书-...",
                    "schema": {"type": "string"},
                }
            },
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


@router.get(
    "/certificates/{certificate_id}/pdf",
    operation_id="getCertificatePdf",
    response_class=Response,
    responses={
        **_file("application/pdf", "The certificate: one A4 page, in `lang`, with its QR code"),
        **problems(CertificateNotFound),
    },
)
async def get_certificate_pdf(
    certificate_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    lang: LangQuery = Language.zh_cn,
) -> Response:
    """结业证书 as a PDF to print: the serial, the trainee's name, the class, its dates, hours
    and days, the organiser, and a QR code of the verification address
    (`APP_CERTIFICATE_VERIFY_URL`). A revoked certificate prints 已撤销 (en: REVOKED). In
    Chinese by default; `lang=en` prints "Certificate of Completion". Anyone who may see the
    cadre may print it (a cadre their own); otherwise 404."""
    view = await service.get_certificate(db_session, certificate_id, actor)
    body = await asyncio.to_thread(service.to_pdf, view, settings.certificate_verify_url, lang)
    headers = {
        "Content-Disposition": content_disposition(service.file_name(view, lang)),
        "Content-Language": lang.value,
    }
    return Response(body, media_type="application/pdf", headers=headers)


@router.get(
    "/training-sessions/{training_session_id}/certificates.zip",
    operation_id="getSessionCertificatesZip",
    response_class=Response,
    responses={
        **_file("application/zip", "A ZIP of one PDF per certificate, named by serial"),
        **problems(TrainingSessionNotFound, NotSessionOrganiser),
    },
)
async def get_session_certificates_zip(
    training_session_id: uuid.UUID,
    db_session: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    lang: LangQuery = Language.zh_cn,
) -> Response:
    """All the certificates a session issued, one PDF each (`结业证书-<serial>-<name>.pdf`; en:
    `certificate-<serial>-<name>.pdf`), in `lang`, in a ZIP to print or hand out. For the
    session's organisers (403 otherwise)."""
    views = await service.of_session(db_session, training_session_id, actor)
    body = await asyncio.to_thread(service.to_zip, views, settings.certificate_verify_url, lang)
    prefix = "certificates" if lang == Language.en else "结业证书"
    filename = f"{prefix}-{training_session_id}.zip"
    headers = {"Content-Disposition": content_disposition(filename), "Content-Language": lang.value}
    return Response(body, media_type="application/zip", headers=headers)
