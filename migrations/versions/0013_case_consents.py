"""the patient's consent per scope on a case (case_consents, append-only)

A new table; no existing row changes: every existing case has no consent recorded (unknown,
not refused). Downgrade drops the table (and the consents recorded).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:30:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_consents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=30), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scope IN ('ai_analysis', 'image_storage', 'teaching_research')",
            name=op.f("ck_case_consents_scope"),
        ),
        sa.CheckConstraint(
            "decision IN ('granted', 'refused')", name=op.f("ck_case_consents_decision")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_consents_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_case_consents_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_consents")),
    )
    op.create_index(
        "ix_case_consents_case_id_scope_recorded_at",
        "case_consents",
        ["case_id", "scope", "recorded_at"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_case_consents_case_id_scope_recorded_at", table_name="case_consents")
    op.drop_table("case_consents")
