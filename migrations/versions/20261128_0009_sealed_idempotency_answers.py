"""idempotency answers stored encrypted, requests fingerprinted with a key

Stored answers to POSTs sent with an Idempotency-Key may show a whole ID number or a webhook's
signing secret; from now on they are kept sealed (app.personal_data.SecretBox, bound to the
caller and key). The request's SHA-256 becomes an HMAC of it: a plain hash of a body that
carries an ID number gives the number away to a search over its candidates. The rows stored
before are converted here, so their replays keep working. A downgrade cannot undo an HMAC: it
empties the table (a retry cache of 24 hours).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 05:12:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.exceptions import InvalidTag

from app.config import get_settings
from app.personal_data import SecretBox

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _context(principal_id: object, key: str) -> bytes:
    # As app.idempotency.route builds it, frozen here.
    return f"idempotency_record.body:{principal_id}:{key}".encode()


def upgrade() -> None:
    conn = op.get_bind()
    box = SecretBox(get_settings().data_key_bytes)
    rows = conn.execute(
        sa.text("SELECT principal_id, key, request_hash, body FROM idempotency_record")
    ).all()
    for principal_id, key, request_hash, body in rows:
        context = _context(principal_id, key)
        try:  # written by the code of revision 0008, which sealed answers already
            box.open(body, context=context)
            sealed = body
        except InvalidTag:
            sealed = box.seal(body, context=context)
        conn.execute(
            sa.text(
                "UPDATE idempotency_record SET body = :body, request_hash = :request_hash "
                "WHERE principal_id = :principal_id AND key = :key"
            ),
            {
                "body": sealed,
                "request_hash": box.fingerprint(bytes.fromhex(request_hash)),
                "principal_id": principal_id,
                "key": key,
            },
        )


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_record")
