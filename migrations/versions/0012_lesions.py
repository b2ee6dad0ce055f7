"""patients, lesions and re-analyses; every existing case becomes one visit of a lesion

Upgrade: one patient per (owner, patient_reference) of the existing cases (created when its
first case was), one lesion per existing case (label "<body site>: <chief complaint>", cut at
120 characters; the case's body site; status ``monitoring``; created with the case), and
``cases.patient_id`` / ``cases.lesion_id`` set. No case field changes, nothing is dropped.

Downgrade drops the two case columns and the three tables (the cases keep their
``patient_reference``, which was never moved; lesion labels, body-map points, statuses, birth
years and re-analyses recorded since are lost).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 15:30:00

"""

import uuid

from alembic import op
import sqlalchemy as sa

from app.models.base import JSONType

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: Body-site labels as they were when this migration was written (app/services/clinical_record/
#: words.py; mucosa and other shortened as app/services/lesions/records.py does), frozen here
#: so that the migration's output never changes.
_SITE_LABELS = {
    "scalp": "Scalp",
    "face": "Face",
    "ear": "Ear",
    "neck": "Neck",
    "chest": "Chest or breast",
    "abdomen": "Abdomen or flank",
    "back": "Back",
    "upper_arm": "Upper arm, shoulder or axilla",
    "forearm": "Forearm or elbow",
    "hand": "Hand or finger",
    "genital": "Genital or perianal",
    "buttock": "Buttock",
    "thigh": "Thigh or hip",
    "lower_leg": "Lower leg or knee",
    "foot": "Foot or toe",
    "nail": "Nail (finger or toe)",
    "mucosa": "Mucosa",
    "other": "Other site",
}
_LESION_STATUSES = ("monitoring", "excised", "resolved")
_BODY_SITES = tuple(_SITE_LABELS)
_MAX_LABEL = 120


def _one_of(column, values):
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def _create_tables():
    op.create_table(
        "patients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_patients_owner_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
        sa.UniqueConstraint("owner_id", "reference", name="uq_patients_owner_id_reference"),
    )
    op.create_table(
        "lesions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("body_site", sa.String(length=20), nullable=False),
        sa.Column("map_x", sa.Float(), nullable=True),
        sa.Column("map_y", sa.Float(), nullable=True),
        sa.Column("map_view", sa.String(length=5), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_one_of("status", _LESION_STATUSES), name=op.f("ck_lesions_status")),
        sa.CheckConstraint(_one_of("body_site", _BODY_SITES), name=op.f("ck_lesions_body_site")),
        sa.CheckConstraint(
            f"map_view IS NULL OR {_one_of('map_view', ('front', 'back'))}",
            name=op.f("ck_lesions_map_view"),
        ),
        sa.CheckConstraint(
            "(map_x IS NULL AND map_y IS NULL AND map_view IS NULL) OR "
            "(map_x BETWEEN 0 AND 1 AND map_y BETWEEN 0 AND 1 AND map_view IS NOT NULL)",
            name=op.f("ck_lesions_map_point"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_lesions_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesions")),
    )
    op.create_index(
        "ix_lesions_patient_id_created_at", "lesions", ["patient_id", "created_at"], unique=False
    )
    op.create_table(
        "reanalyses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("image_id", sa.Uuid(), nullable=True),
        sa.Column("original_analysis_id", sa.Uuid(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("predictions", JSONType, nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("refer_to_specialist", sa.Boolean(), nullable=True),
        sa.Column("accepted_low_quality", sa.Boolean(), nullable=False),
        sa.Column("image_validity", JSONType, nullable=True),
        sa.Column("red_flags", JSONType, nullable=True),
        sa.Column("urgency", sa.String(length=20), nullable=True),
        sa.Column("triage", JSONType, nullable=True),
        sa.Column("inputs", JSONType, nullable=True),
        sa.Column("ai_responses", JSONType, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_reanalyses_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["case_images.id"],
            name=op.f("fk_reanalyses_image_id_case_images"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["original_analysis_id"],
            ["analyses.id"],
            name=op.f("fk_reanalyses_original_analysis_id_analyses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_reanalyses_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reanalyses")),
    )
    op.create_index(
        "ix_reanalyses_case_id_created_at", "reanalyses", ["case_id", "created_at"], unique=False
    )


def _label(body_site, chief_complaint):
    site = _SITE_LABELS.get(body_site, (body_site or "").replace("_", " ").capitalize())
    complaint = " ".join((chief_complaint or "").split())
    label = f"{site}: {complaint}" if complaint else site
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def _fill():
    """One patient per (owner, reference), one lesion per case, cases linked."""
    conn = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.Uuid()),
        sa.column("owner_id", sa.Integer()),
        sa.column("patient_reference", sa.String()),
        sa.column("body_site", sa.String()),
        sa.column("chief_complaint", sa.Text()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("patient_id", sa.Uuid()),
        sa.column("lesion_id", sa.Uuid()),
    )
    patients = sa.table(
        "patients",
        sa.column("id", sa.Uuid()),
        sa.column("owner_id", sa.Integer()),
        sa.column("reference", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    lesions = sa.table(
        "lesions",
        sa.column("id", sa.Uuid()),
        sa.column("patient_id", sa.Uuid()),
        sa.column("label", sa.String()),
        sa.column("body_site", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    rows = conn.execute(
        sa.select(
            cases.c.id,
            cases.c.owner_id,
            cases.c.patient_reference,
            cases.c.body_site,
            cases.c.chief_complaint,
            cases.c.created_at,
        ).order_by(cases.c.created_at, cases.c.id)
    ).all()
    new_patients: dict[tuple[int, str], dict] = {}
    new_lesions, links = [], []
    for row in rows:
        key = (row.owner_id, row.patient_reference)
        if key not in new_patients:  # rows come oldest first: the first case's time
            new_patients[key] = {
                "id": uuid.uuid4(),
                "owner_id": row.owner_id,
                "reference": row.patient_reference,
                "created_at": row.created_at,
                "updated_at": row.created_at,
            }
        lesion_id = uuid.uuid4()
        new_lesions.append(
            {
                "id": lesion_id,
                "patient_id": new_patients[key]["id"],
                "label": _label(row.body_site, row.chief_complaint),
                "body_site": row.body_site,
                "status": "monitoring",
                "created_at": row.created_at,
                "updated_at": row.created_at,
            }
        )
        links.append({"b_id": row.id, "b_patient": new_patients[key]["id"], "b_lesion": lesion_id})
    if not rows:
        return
    op.bulk_insert(patients, list(new_patients.values()))
    op.bulk_insert(lesions, new_lesions)
    conn.execute(
        cases.update()
        .where(cases.c.id == sa.bindparam("b_id"))
        .values(patient_id=sa.bindparam("b_patient"), lesion_id=sa.bindparam("b_lesion")),
        links,
    )


def upgrade():
    _create_tables()
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patient_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("lesion_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_lesion_id"), ["lesion_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_patient_id_patients"),
            "patients",
            ["patient_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_lesion_id_lesions"),
            "lesions",
            ["lesion_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    _fill()


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_lesion_id_lesions"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_cases_patient_id_patients"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_cases_lesion_id"))
        batch_op.drop_index(batch_op.f("ix_cases_patient_id"))
        batch_op.drop_column("lesion_id")
        batch_op.drop_column("patient_id")
    op.drop_index("ix_reanalyses_case_id_created_at", table_name="reanalyses")
    op.drop_table("reanalyses")
    op.drop_index("ix_lesions_patient_id_created_at", table_name="lesions")
    op.drop_table("lesions")
    op.drop_table("patients")
