"""the clinical record: analysis inputs, AI responses and evidence, answer order, review history

Existing rows are carried over:

- ``cases.answer_order``: the order of asking was never kept, so old cases get the order the
  portal used to show (age, sex, body site, duration, then by name, the photo last);
- ``analyses.inputs``: rebuilt from the case as it is now and the analysed image, marked
  ``"reconstructed": true`` (the answers at the time of the analysis were not kept);
- ``analyses.ai_responses``: rebuilt from the stored columns, also marked ``reconstructed``;
- ``analyses.urgency`` and ``cases.urgency``: the one headline urgency (red flags × triage ×
  tier, ``app.services.clinical_record.headline``) instead of the red flags' urgency alone;
- ``case_reviews``: the current review of every reviewed case becomes its first history entry.

Downgrade drops the new columns and table and gives back the red flags' urgency.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 12:40:00

"""

from alembic import op
import sqlalchemy as sa

from app.models.base import JSONType
from app.services.clinical_record.answers import legacy_order
from app.services.clinical_record.headline import headline_for_results

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CASE_FIELDS = ("patient_age", "patient_sex", "body_site", "fitzpatrick_type", "chief_complaint")

cases = sa.table(
    "cases",
    sa.column("id", sa.Uuid()),
    sa.column("anamnesis", JSONType),
    sa.column("answer_order", JSONType),
    sa.column("urgency", sa.String()),
    sa.column("final_diagnosis", sa.String()),
    sa.column("final_icd10", sa.String()),
    sa.column("agrees_with_ai", sa.Boolean()),
    sa.column("review_notes", sa.Text()),
    sa.column("reviewed_at", sa.DateTime(timezone=True)),
    sa.column("reviewed_by_id", sa.Integer()),
    *(sa.column(name) for name in _CASE_FIELDS),
)
analyses = sa.table(
    "analyses",
    sa.column("id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
    sa.column("image_id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("model_version", sa.String()),
    sa.column("accepted_low_quality", sa.Boolean()),
    sa.column("image_validity", JSONType),
    sa.column("predictions", JSONType),
    sa.column("tier", sa.String()),
    sa.column("confidence", sa.Float()),
    sa.column("refer_to_specialist", sa.Boolean()),
    sa.column("highlight_count", sa.Integer()),
    sa.column("red_flags", JSONType),
    sa.column("urgency", sa.String()),
    sa.column("triage", JSONType),
    sa.column("inputs", JSONType),
    sa.column("ai_responses", JSONType),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
images = sa.table("case_images", sa.column("id", sa.Uuid()), sa.column("sha256", sa.String()))
reviews = sa.table(
    "case_reviews",
    sa.column("id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
    sa.column("analysis_id", sa.Uuid()),
    sa.column("final_diagnosis", sa.String()),
    sa.column("final_icd10", sa.String()),
    sa.column("agrees_with_ai", sa.Boolean()),
    sa.column("notes", sa.Text()),
    sa.column("reviewed_at", sa.DateTime(timezone=True)),
    sa.column("reviewed_by_id", sa.Integer()),
)


def upgrade():
    op.create_table(
        "case_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("analysis_id", sa.Uuid(), nullable=True),
        sa.Column("final_diagnosis", sa.String(length=255), nullable=False),
        sa.Column("final_icd10", sa.String(length=10), nullable=True),
        sa.Column("agrees_with_ai", sa.Boolean(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened_by_id", sa.Integer(), nullable=True),
        sa.Column("reopen_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_case_reviews_analysis_id_analyses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_reviews_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reopened_by_id"],
            ["users.id"],
            name=op.f("fk_case_reviews_reopened_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["users.id"],
            name=op.f("fk_case_reviews_reviewed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_reviews")),
    )
    with op.batch_alter_table("case_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_reviews_case_id"), ["case_id"], unique=False)
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", JSONType, nullable=True))
        batch_op.add_column(sa.Column("inputs", JSONType, nullable=True))
        batch_op.add_column(sa.Column("ai_responses", JSONType, nullable=True))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answer_order", JSONType, nullable=True, server_default=sa.text("'[]'"))
        )

    _carry_over()

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("answer_order", existing_type=JSONType, nullable=False)


def _carry_over():
    bind = op.get_bind()
    sha256 = dict(bind.execute(sa.select(images.c.id, images.c.sha256)).all())
    case_rows = {row.id: row for row in bind.execute(sa.select(cases)).all()}
    for case_id, row in case_rows.items():
        order = legacy_order(row.anamnesis or {})
        bind.execute(cases.update().where(cases.c.id == case_id).values(answer_order=order))
    latest: dict = {}
    for a in bind.execute(sa.select(analyses).order_by(analyses.c.created_at)).all():
        case = case_rows[a.case_id]
        validity = a.image_validity or {}
        overridden = bool(a.accepted_low_quality) and validity.get("isValid") is False
        values = {
            "inputs": {
                "anamnesis": dict(case.anamnesis or {}),
                "answer_order": legacy_order(case.anamnesis or {}),
                "case": {name: getattr(case, name) for name in _CASE_FIELDS},
                "image": (
                    {"id": str(a.image_id), "sha256": sha256.get(a.image_id)}
                    if a.image_id is not None
                    else None
                ),
                "reconstructed": True,
            },
        }
        if a.status == "completed":
            values["ai_responses"] = {
                "image_validity": a.image_validity,
                "prediction": {
                    "diagnoses": a.predictions,
                    "tier": a.tier,
                    "confidence": a.confidence,
                    "refer_to_specialist": a.refer_to_specialist,
                    "highlight_count": a.highlight_count,
                    "metadata": {"model_version": a.model_version},
                },
                "red_flags": a.red_flags,
                "triage": a.triage,
                "reconstructed": True,
            }
            values["urgency"] = headline_for_results(
                red_flags=a.red_flags,
                triage=a.triage,
                tier=a.tier,
                refer_to_specialist=a.refer_to_specialist,
                low_quality_override=overridden,
            ).urgency
            latest[a.case_id] = (a.id, values["urgency"])
        bind.execute(analyses.update().where(analyses.c.id == a.id).values(**values))
    for case_id, (_, urgency) in latest.items():
        bind.execute(cases.update().where(cases.c.id == case_id).values(urgency=urgency))
    for case_id, case in case_rows.items():
        if case.reviewed_at is None:
            continue
        bind.execute(
            reviews.insert().values(
                id=case_id,  # one review per case so far: the case id is a unique id for it
                case_id=case_id,
                analysis_id=latest.get(case_id, (None,))[0],
                final_diagnosis=case.final_diagnosis or "",
                final_icd10=case.final_icd10,
                agrees_with_ai=case.agrees_with_ai,
                notes=case.review_notes,
                reviewed_at=case.reviewed_at,
                reviewed_by_id=case.reviewed_by_id,
            )
        )


def downgrade():
    bind = op.get_bind()
    latest: dict = {}
    for a in bind.execute(sa.select(analyses).order_by(analyses.c.created_at)).all():
        if a.status != "completed":
            continue
        urgency = (a.red_flags or {}).get("urgency")
        bind.execute(analyses.update().where(analyses.c.id == a.id).values(urgency=urgency))
        latest[a.case_id] = urgency
    for case_id, urgency in latest.items():
        bind.execute(cases.update().where(cases.c.id == case_id).values(urgency=urgency))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("answer_order")
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_column("ai_responses")
        batch_op.drop_column("inputs")
        batch_op.drop_column("evidence")
    with op.batch_alter_table("case_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_reviews_case_id"))
    op.drop_table("case_reviews")
