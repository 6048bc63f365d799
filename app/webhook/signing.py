"""Standard Webhooks (standardwebhooks.com) secrets and signatures: pure functions, no I/O.

A secret is `whsec_` + base64 of random bytes; a signature is
`v1,` + base64(HMAC-SHA256(secret bytes, "{webhook-id}.{webhook-timestamp}.{body}")). Several
signatures are separated by spaces (during a secret rotation both secrets sign)."""

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(s, message_id, timestamp, body) for s in secrets_)


def message_id(
    subscription_id: uuid.UUID, first_event_id: int, last_event_id: int, count: int
) -> str:
    """Stable for a message, so a receiver can drop a retry it has already processed: the
    same subscription, events and count always give the same id."""
    return f"msg_{subscription_id.hex}_{first_event_id}_{last_event_id}_{count}"
