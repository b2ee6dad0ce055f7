"""histology outcomes of reviewed cases (case_outcomes, append-only)

A new table; no existing row changes. Downgrade drops it (and the outcomes recorded).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:20:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "case_outcomes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("diagnosis", sa.String(length=255), nullable=False),
        sa.Column("icd10", sa.String(length=10), nullable=True),
        sa.Column("outcome_date", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("excised", sa.Boolean(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_outcomes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_case_outcomes_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_outcomes")),
    )
    op.create_index(
        "ix_case_outcomes_case_id_recorded_at",
        "case_outcomes",
        ["case_id", "recorded_at"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_case_outcomes_case_id_recorded_at", table_name="case_outcomes")
    op.drop_table("case_outcomes")
