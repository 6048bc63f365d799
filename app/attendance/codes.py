"""Rotating sign-in codes (docs/rules.md rule 12): `v1.<part id>.<issued second>.<signature>`,
signed with HMAC-SHA256 under a key derived from the service's secret key with its own purpose
label (a code can never pass for a token, nor a token for a code). A code is valid for
`APP_ATTENDANCE__CODE_SECONDS` (30) after it was issued; the organiser's screen fetches a new
one before it runs out."""

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_PURPOSE = b"cadre-training/attendance-sign-in-code/v1"
_VERSION = "v1"


class CodeMalformed(Exception):
    pass


class CodeForged(Exception):
    pass


class CodeExpired(Exception):
    pass


@dataclass(frozen=True)
class SignInCode:
    code: str
    session_part_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime


def _key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _signature(secret_key: str, part_id: uuid.UUID, issued: int) -> str:
    mac = hmac.new(_key(secret_key), f"{part_id}.{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def issue(secret_key: str, part_id: uuid.UUID, now: datetime, seconds: int) -> SignInCode:
    issued = int(now.timestamp())
    at = datetime.fromtimestamp(issued, UTC)
    return SignInCode(
        code=f"{_VERSION}.{part_id.hex}.{issued}.{_signature(secret_key, part_id, issued)}",
        session_part_id=part_id,
        issued_at=at,
        expires_at=at + timedelta(seconds=seconds),
    )


def verify(secret_key: str, code: str, now: datetime, seconds: int) -> uuid.UUID:
    """The part a genuine, unexpired code was issued for."""
    pieces = code.split(".")
    if len(pieces) != 4 or pieces[0] != _VERSION or not pieces[2].isdigit():
        raise CodeMalformed()
    try:
        part_id = uuid.UUID(hex=pieces[1])
    except ValueError:
        raise CodeMalformed() from None
    issued = int(pieces[2])
    if not hmac.compare_digest(pieces[3], _signature(secret_key, part_id, issued)):
        raise CodeForged()
    age = now.timestamp() - issued
    # A code from the future was not issued by this clock: as stale as an old one.
    if age < 0 or age >= seconds:
        raise CodeExpired()
    return part_id
