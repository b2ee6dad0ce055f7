"""idempotency_records remember the case (and photo) a failed attempt kept

Two nullable columns: ``kept_case_id`` (→ cases, deleted with the case) and ``kept_image_id``
(→ case_images, set null when the photo is deleted). A request sent with an
``Idempotency-Key`` that failed (5xx) after it had committed a case leaves its record with them
set instead of deleting it, so that a retry with the same key continues on that case instead of
opening another (app/services/idempotency.py). Existing rows keep both null: nothing changes
for them.

Downgrade first deletes the records that only remember a kept case (``status_code`` null,
``kept_case_id`` set), which is what a failed attempt did before this revision: without the
columns they would read as a request still running (409 for the rest of their 24 hours).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 20:30:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kept_case_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("kept_image_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_idempotency_records_kept_case_id_cases"),
            "cases",
            ["kept_case_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_idempotency_records_kept_image_id_case_images"),
            "case_images",
            ["kept_image_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    op.execute(
        "DELETE FROM idempotency_records WHERE status_code IS NULL AND kept_case_id IS NOT NULL"
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_idempotency_records_kept_image_id_case_images"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_idempotency_records_kept_case_id_cases"), type_="foreignkey"
        )
        batch_op.drop_column("kept_image_id")
        batch_op.drop_column("kept_case_id")
