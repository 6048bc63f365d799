"""idempotency answers stored encrypted

Stored answers to POSTs sent with an Idempotency-Key may show a whole ID number or a webhook's
signing secret; from now on they are kept sealed (app.personal_data.SecretBox, bound to the
caller and key). The rows stored before are sealed here, so their replays keep working.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 05:12:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings
from app.personal_data import SecretBox

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _context(principal_id: object, key: str) -> bytes:
    # As app.idempotency.route builds it, frozen here.
    return f"idempotency_record.body:{principal_id}:{key}".encode()


def _rewrite(seal: bool) -> None:
    conn = op.get_bind()
    box = SecretBox(get_settings().data_key_bytes)
    rows = conn.execute(sa.text("SELECT principal_id, key, body FROM idempotency_record")).all()
    for principal_id, key, body in rows:
        context = _context(principal_id, key)
        new = box.seal(body, context=context) if seal else box.open(body, context=context)
        conn.execute(
            sa.text(
                "UPDATE idempotency_record SET body = :body "
                "WHERE principal_id = :principal_id AND key = :key"
            ),
            {"body": new, "principal_id": principal_id, "key": key},
        )


def upgrade() -> None:
    _rewrite(seal=True)


def downgrade() -> None:
    _rewrite(seal=False)
