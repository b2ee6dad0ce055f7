"""Migration 0005 (the clinical record) upgrades and downgrades with rows in the tables."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.conftest import ADMIN_URL

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def scratch_url():
    """A database of its own (the session database stays at the head)."""
    name = f"dermadetect_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _seed(session) -> dict[str, uuid.UUID]:
    ids = {"case": uuid.uuid4(), "image": uuid.uuid4(), "analysis": uuid.uuid4()}
    session.execute(
        text(
            "INSERT INTO users (email, password_hash, full_name, role, is_active, created_at, "
            "session_version) "
            "VALUES ('old@example.org', 'x', 'Dr. Old', 'physician', true, :now, 1)"
        ),
        {"now": NOW},
    )
    session.execute(
        text(
            "INSERT INTO cases (id, owner_id, patient_reference, patient_age, patient_sex, "
            "body_site, chief_complaint, anamnesis, status, urgency, final_diagnosis, "
            "agrees_with_ai, reviewed_at, reviewed_by_id, created_at, updated_at) VALUES "
            "(:id, 1, 'PT-OLD', 70, 'male', 'back', 'Old lesion', CAST(:anamnesis AS jsonb), "
            "'reviewed', 'low', 'Seborrhoeic keratosis', false, :now, 1, :now, :now)"
        ),
        {
            "id": ids["case"],
            "now": NOW,
            "anamnesis": json.dumps({"bleeding": True, "age": 70, "color": ["brown"]}),
        },
    )
    session.execute(
        text(
            "INSERT INTO case_images (id, case_id, storage_key, content_type, size_bytes, "
            "width, height, sha256, created_at) VALUES (:id, :case, 'k1', 'image/jpeg', 10, "
            "64, 64, :sha, :now)"
        ),
        {"id": ids["image"], "case": ids["case"], "sha": "ab" * 32, "now": NOW},
    )
    session.execute(
        text(
            "INSERT INTO analyses (id, case_id, image_id, status, model_version, "
            "accepted_low_quality, image_validity, predictions, tier, confidence, "
            "refer_to_specialist, highlight_count, red_flags, urgency, triage, created_at) "
            "VALUES (:id, :case, :image, 'completed', 'reference-1.0', false, "
            "CAST(:validity AS jsonb), CAST(:predictions AS jsonb), 'refer', 0.37, true, 0, "
            "CAST(:flags AS jsonb), 'low', CAST(:triage AS jsonb), :now)"
        ),
        {
            "id": ids["analysis"],
            "case": ids["case"],
            "image": ids["image"],
            "validity": json.dumps({"isValid": True, "score": 0.9}),
            "predictions": json.dumps([{"disease": "Melanoma", "probability": 0.37}]),
            "flags": json.dumps({"hasRedFlags": False, "flags": [], "urgency": "low"}),
            "triage": json.dumps({"priority": "soon"}),
            "now": NOW,
        },
    )
    session.commit()
    return ids


def test_0005_carries_rows_over_and_back(make_app, scratch_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=scratch_url)
    with app.app_context():
        upgrade(revision="0003")
        ids = _seed(db.session)
        upgrade(revision="0005")
        row = db.session.execute(
            text("SELECT answer_order, urgency FROM cases WHERE id = :id"), {"id": ids["case"]}
        ).one()
        assert row.answer_order == ["age", "bleeding", "color"]
        assert row.urgency == "medium"  # tier refer + triage soon: never "low" any more
        analysis = db.session.execute(
            text("SELECT inputs, ai_responses, urgency FROM analyses WHERE id = :id"),
            {"id": ids["analysis"]},
        ).one()
        assert analysis.inputs["reconstructed"] is True
        assert analysis.inputs["anamnesis"] == {"bleeding": True, "age": 70, "color": ["brown"]}
        assert analysis.inputs["case"]["patient_age"] == 70
        assert analysis.inputs["image"] == {"id": str(ids["image"]), "sha256": "ab" * 32}
        assert analysis.ai_responses["reconstructed"] is True
        assert analysis.ai_responses["prediction"]["tier"] == "refer"
        assert analysis.urgency == "medium"
        review = db.session.execute(
            text("SELECT final_diagnosis, analysis_id, reviewed_by_id FROM case_reviews")
        ).one()
        assert review.final_diagnosis == "Seborrhoeic keratosis"
        assert review.analysis_id == ids["analysis"]
        db.session.commit()

        downgrade(revision="0004")
        row = db.session.execute(
            text("SELECT urgency FROM cases WHERE id = :id"), {"id": ids["case"]}
        ).one()
        assert row.urgency == "low"  # the red flags' urgency, as before
        columns = db.session.execute(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'analyses' AND column_name = 'inputs'"
            )
        ).all()
        assert columns == []
        db.session.commit()
        upgrade()  # and up again, rows still there
        assert db.session.execute(text("SELECT count(*) FROM analyses")).scalar() == 1
        db.session.remove()
        db.engine.dispose()
