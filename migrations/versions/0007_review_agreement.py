"""the review's agreement with the AI in three values: top1 | in_differential | differs

``cases.agrees_with_ai`` and ``case_reviews.agrees_with_ai`` (yes/no) become ``ai_agreement``
(``clinical_terms.AI_AGREEMENTS``). Existing rows: true → ``top1``, false → ``differs``, null
stays null (the old question asked whether the diagnosis agreed with the AI's suggestion; a
"yes" is read as the first suggestion, which is what the portal showed first).

Downgrade: ``top1`` → true; ``in_differential`` and ``differs`` → false (the yes/no column
cannot hold "among the other suggestions"; it said "agrees" only for the first).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:10:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TABLES = ("cases", "case_reviews")
_VALUES = "ai_agreement IS NULL OR ai_agreement IN ('top1', 'in_differential', 'differs')"


def upgrade():
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("ai_agreement", sa.String(length=20), nullable=True))
        op.execute(
            f"UPDATE {table} SET ai_agreement = CASE WHEN agrees_with_ai THEN 'top1' "
            "ELSE 'differs' END WHERE agrees_with_ai IS NOT NULL"
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("agrees_with_ai")
            batch_op.create_check_constraint(batch_op.f(f"ck_{table}_ai_agreement"), _VALUES)


def downgrade():
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"ck_{table}_ai_agreement"), type_="check")
            batch_op.add_column(sa.Column("agrees_with_ai", sa.Boolean(), nullable=True))
        op.execute(
            f"UPDATE {table} SET agrees_with_ai = (ai_agreement = 'top1') "
            "WHERE ai_agreement IS NOT NULL"
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("ai_agreement")
