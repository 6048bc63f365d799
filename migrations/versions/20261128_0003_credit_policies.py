"""credit policies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 02:47:17.945878
"""

import datetime
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# docs/rules.md, the default policy `cn-2023`, frozen here as data: later code changes must not
# rewrite what this migration installed.
CN_2023_DEFINITION = json.loads(
    """
{
    "kind_rules": [
        {
            "kind": "centralised_training",
            "mode": "per_hour",
            "factor": "1",
            "credit_per_item": "0",
            "annual_cap": null
        },
        {
            "kind": "online_course",
            "mode": "per_hour",
            "factor": "1",
            "credit_per_item": "0",
            "annual_cap": null
        },
        {
            "kind": "lecture",
            "mode": "per_hour",
            "factor": "1",
            "credit_per_item": "0",
            "annual_cap": null
        },
        {
            "kind": "seminar",
            "mode": "per_hour",
            "factor": "1",
            "credit_per_item": "0",
            "annual_cap": null
        },
        {
            "kind": "central_group_study",
            "mode": "per_item",
            "factor": "1",
            "credit_per_item": "3",
            "annual_cap": "24"
        },
        {
            "kind": "self_study",
            "mode": "per_hour",
            "factor": "1",
            "credit_per_item": "0",
            "annual_cap": "20"
        },
        {
            "kind": "reading_note",
            "mode": "per_item",
            "factor": "1",
            "credit_per_item": "2",
            "annual_cap": "12"
        },
        {
            "kind": "thesis",
            "mode": "per_item",
            "factor": "1",
            "credit_per_item": "12",
            "annual_cap": "24"
        },
        {
            "kind": "teaching",
            "mode": "per_hour",
            "factor": "2",
            "credit_per_item": "0",
            "annual_cap": "24"
        },
        {
            "kind": "secondment",
            "mode": "per_hour",
            "factor": "1",
            "credit_per_item": "0",
            "annual_cap": "48"
        },
        {
            "kind": "job_rotation",
            "mode": "per_hour",
            "factor": "1",
            "credit_per_item": "0",
            "annual_cap": "48"
        },
        {
            "kind": "study_tour",
            "mode": "per_hour",
            "factor": "1",
            "credit_per_item": "0",
            "annual_cap": "48"
        }
    ],
    "leading_ranks": [
        "county_division",
        "department_bureau",
        "provincial_ministerial"
    ],
    "centralised_kinds": [
        "centralised_training"
    ],
    "online_kinds": [
        "online_course"
    ],
    "five_year_applies_to": [
        "county_division",
        "department_bureau",
        "provincial_ministerial"
    ],
    "five_year_years": 5,
    "five_year_required_days": "90",
    "five_year_required_hours": "550",
    "grace_years": 1,
    "annual_applies_to": [
        "section_member",
        "township_section"
    ],
    "annual_required_days": "12",
    "annual_required_hours": "90",
    "online_applies_to": [
        "county_division",
        "department_bureau",
        "provincial_ministerial",
        "section_member",
        "township_section"
    ],
    "online_required_hours": "50",
    "leave_cap": {
        "numerator": 1,
        "denominator": 7
    },
    "roll_call": {
        "numerator": 1,
        "denominator": 5
    }
}

"""
)


def upgrade() -> None:
    op.create_table(
        "credit_policy",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from",
            name=op.f("ck_credit_policy_range_ordered"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_policy")),
        sa.UniqueConstraint("code", name=op.f("uq_credit_policy_code")),
    )

    policy = sa.table(
        "credit_policy",
        sa.column("id", sa.Uuid()),
        sa.column("code", sa.String()),
        sa.column("name", sa.String()),
        sa.column("effective_from", sa.Date()),
        sa.column("effective_to", sa.Date()),
        sa.column("definition", postgresql.JSONB()),
        sa.column("version", sa.Integer()),
    )
    op.bulk_insert(
        policy,
        [
            {
                "id": uuid.UUID("01a22000-0000-7000-8000-00000c202301"),
                "code": "cn-2023",
                "name": "干部教育培训工作条例 (2023) and the 2023–2027 national plan",
                "effective_from": datetime.date(1900, 1, 1),
                "effective_to": None,
                "definition": CN_2023_DEFINITION,
                "version": 1,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("credit_policy")
