"""app_user: token version and external identity

- `token_version`: carried in every access token and checked on each request; a password
  change, role change or deactivation raises it, which ends the tokens issued before. A
  bookkeeping column: the audit trail skips it (the change that raised it is recorded).
- `external_issuer` / `external_subject`: the identity at an external OIDC provider an admin
  linked the user to. Tokens of the provider map to a user by this pair, never by a username
  the user may choose there. Audited.

app_user's audit triggers are re-created with `token_version` among the skipped columns.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 02:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRANSITIONS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}
_HIDDEN = {"password_hash": "password_hash"}


def _recreate_triggers(skipped: tuple[str, ...]) -> None:
    arguments = ", ".join(
        "'" + a.replace("'", "''") + "'" for a in ("trail", ",".join(skipped), json.dumps(_HIDDEN))
    )
    for event, transition in _TRANSITIONS.items():
        op.execute(f"DROP TRIGGER audit_trail_{event} ON app_user")
        op.execute(
            f"CREATE TRIGGER audit_trail_{event} AFTER {event.upper()} ON app_user "
            f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION audit_trail({arguments})"
        )


def upgrade() -> None:
    op.add_column(
        "app_user",
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("app_user", sa.Column("external_issuer", sa.String(length=500), nullable=True))
    op.add_column("app_user", sa.Column("external_subject", sa.String(length=255), nullable=True))
    op.create_check_constraint(
        op.f("ck_app_user_external_identity_whole"),
        "app_user",
        "(external_issuer IS NULL) = (external_subject IS NULL)",
    )
    op.create_unique_constraint(
        op.f("uq_app_user_external_issuer_external_subject"),
        "app_user",
        ["external_issuer", "external_subject"],
    )
    _recreate_triggers(("failed_logins", "locked_until", "token_version"))


def downgrade() -> None:
    _recreate_triggers(("failed_logins", "locked_until"))
    op.drop_constraint(
        op.f("uq_app_user_external_issuer_external_subject"), "app_user", type_="unique"
    )
    op.drop_constraint(op.f("ck_app_user_external_identity_whole"), "app_user", type_="check")
    op.drop_column("app_user", "external_subject")
    op.drop_column("app_user", "external_issuer")
    op.drop_column("app_user", "token_version")
