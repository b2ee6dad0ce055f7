"""cases.question_texts: the question text shown for each answered field

Existing rows are carried over with ``{}`` (the question texts were never kept: the FHIR
``QuestionnaireResponse`` falls back to each field's label for them).

Downgrade drops the column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 14:30:00

"""

from alembic import op
import sqlalchemy as sa

from app.models.base import JSONType

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "question_texts", JSONType, nullable=False, server_default=sa.text("'{}'")
            )
        )


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("question_texts")
