import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from app.enums import CertificateStatus


class CertificateVerification(BaseModel):
    """What anyone holding a certificate's code may learn: the holder's masked name, the class,
    its dates and hours, and whether the certificate holds. Not its serial (a per-organiser
    count of certificates) nor anything else about the holder."""

    name: str = Field(description="The holder's name, its middle masked (张*丰; 张*)")
    title: str = Field(description="The class (training session) title")
    start_date: date
    end_date: date
    hours: Decimal
    status: CertificateStatus


class CertificateRead(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: uuid.UUID
    serial: str = Field(examples=["2026-0001"])
    cadre_id: uuid.UUID
    cadre_name: str
    training_session_id: uuid.UUID
    title: str
    start_date: date
    end_date: date
    organiser_org_unit_id: uuid.UUID
    organiser_name: str
    enrollment_id: uuid.UUID
    study_log_id: uuid.UUID
    hours: Decimal
    days: Decimal
    verification_code: str
    status: CertificateStatus
    revoked_at: datetime | None = Field(description="When its study log was voided")


class CertificateList(BaseModel):
    items: list[CertificateRead]
