"""Migration 0011 (``cases.question_texts``) upgrades and downgrades with cases in the table."""

from __future__ import annotations

import uuid

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.test_migrations_identity import rows, scratch_app  # noqa: F401 - the fixture


def test_question_texts_upgrade_and_downgrade_with_cases(scratch_app):  # noqa: F811
    case_id = uuid.uuid4()
    with scratch_app.app_context():
        upgrade(revision="0010")
        db.session.execute(
            text(
                "INSERT INTO users (email, password_hash, full_name, role, is_active, created_at,"
                " session_version) VALUES ('a@example.org', 'h', 'Dr. A', 'physician', true,"
                " now(), 1)"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO cases (id, owner_id, patient_reference, patient_sex, body_site,"
                " chief_complaint, anamnesis, answer_order, status, created_at, updated_at)"
                " VALUES (:id, 1, 'PT-OLD', 'male', 'back', 'Old lesion',"
                ' CAST(\'{"duration": "1-3 months"}\' AS jsonb), CAST(\'["duration"]\' AS jsonb),'
                " 'questionnaire', now(), now())"
            ),
            {"id": case_id},
        )
        db.session.commit()
        upgrade(revision="0011")
        assert rows("SELECT patient_reference, question_texts FROM cases") == [("PT-OLD", {})]
        db.session.execute(
            text("UPDATE cases SET question_texts = CAST(:texts AS jsonb)"),
            {"texts": '{"duration": "How long has it been present?"}'},
        )
        db.session.commit()
        downgrade(revision="0010")
        assert rows("SELECT patient_reference, anamnesis FROM cases") == [
            ("PT-OLD", {"duration": "1-3 months"})
        ]
        upgrade()
        assert rows("SELECT question_texts FROM cases") == [({},)]
        db.session.remove()
