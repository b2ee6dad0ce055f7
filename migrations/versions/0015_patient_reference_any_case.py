"""patient references unique per owner regardless of letter case (``PT-001`` = ``pt-001``)

Upgrade replaces the unique constraint on ``patients (owner_id, reference)`` by a unique index
on ``(owner_id, lower(reference))``. The references themselves are not changed (each stays as
the physician first typed it).

When an owner already has two patients whose references differ only in letter case, the
upgrade stops, changes nothing, and names them: whether they are one patient (merge) or two
(rename one) is a clinical decision, never taken by a migration. Decide for each, with
``flask patients merge <patient id> --into <patient id>`` or ``flask patients rename
<patient id> <new reference>`` (both audited; ``flask patients duplicates`` lists them), then
run ``flask db upgrade`` again.

Downgrade restores the case-sensitive constraint (always possible: references unique regardless
of case are unique).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 20:30:00

"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_INDEX = "uq_patients_owner_id_lower_reference"
_CONSTRAINT = "uq_patients_owner_id_reference"

_TWINS = sa.text(
    "SELECT p.owner_id, p.id, p.reference,"
    " (SELECT count(*) FROM lesions l WHERE l.patient_id = p.id),"
    " (SELECT count(*) FROM cases c WHERE c.patient_id = p.id)"
    " FROM patients p JOIN (SELECT owner_id, lower(reference) AS folded FROM patients"
    "  GROUP BY owner_id, lower(reference) HAVING count(*) > 1) twins"
    " ON twins.owner_id = p.owner_id AND twins.folded = lower(p.reference)"
    " ORDER BY p.owner_id, lower(p.reference), p.created_at, p.id"
)


def _refuse_twins():
    """Stop (``RuntimeError``: Flask-Migrate prints it as ``Error: ...`` and exits 1, the
    transaction rolled back) when references differing only in letter case exist."""
    found = op.get_bind().execute(_TWINS).all()
    if not found:
        return
    lines = [
        f"  owner {owner}: patient {patient_id} {reference!r} ({lesions} lesion(s), "
        f"{visits} visit(s))"
        for owner, patient_id, reference, lesions, visits in found
    ]
    raise RuntimeError(
        "Migration 0015 makes patient references unique regardless of letter case, but these "
        "patients of one physician have references that differ only in letter case. Nothing "
        "was changed.\n"
        + "\n".join(lines)
        + "\nFor each group decide, clinically: the same patient -> `flask patients merge "
        "<patient id> --into <patient id>` (moves the lesions and visits, audited); different "
        "patients -> `flask patients rename <patient id> <new reference>`. Then run `flask db "
        "upgrade` again. `flask patients duplicates` lists them."
    )


def upgrade():
    _refuse_twins()
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_constraint(_CONSTRAINT, type_="unique")
    op.create_index(
        _INDEX, "patients", ["owner_id", sa.text("lower(reference)")], unique=True
    )


def downgrade():
    op.drop_index(_INDEX, table_name="patients")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_unique_constraint(_CONSTRAINT, ["owner_id", "reference"])
