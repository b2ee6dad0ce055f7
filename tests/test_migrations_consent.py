"""Migration 0013 (``case_consents``) upgrades and downgrades with cases and consents in it."""

from __future__ import annotations

import uuid

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.test_migrations_identity import rows, scratch_app  # noqa: F401 - the fixture

REVISION, PREVIOUS = "0013", "0012"


def test_case_consents_upgrade_and_downgrade_with_rows(scratch_app):  # noqa: F811
    case_id = uuid.uuid4()
    with scratch_app.app_context():
        upgrade(revision="0011")  # the cases columns every later migration carries over
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
                " VALUES (:id, 1, 'PT-OLD', 'male', 'back', 'Old lesion', CAST('{}' AS jsonb),"
                " CAST('[]' AS jsonb), 'draft', now(), now())"
            ),
            {"id": case_id},
        )
        db.session.commit()
        upgrade(revision=PREVIOUS)
        upgrade(revision=REVISION)
        assert rows("SELECT count(*) FROM case_consents") == [(0,)]  # old cases: not recorded
        db.session.execute(
            text(
                "INSERT INTO case_consents (id, case_id, scope, decision, recorded_by_id,"
                " recorded_at) VALUES (:id, :case, 'ai_analysis', 'refused', 1, now())"
            ),
            {"id": uuid.uuid4(), "case": case_id},
        )
        db.session.commit()
        assert rows("SELECT scope, decision FROM case_consents") == [("ai_analysis", "refused")]
        downgrade(revision=PREVIOUS)
        assert rows("SELECT patient_reference FROM cases") == [("PT-OLD",)]
        assert rows("SELECT to_regclass('case_consents') IS NULL") == [(True,)]
        upgrade()
        assert rows("SELECT count(*) FROM case_consents") == [(0,)]
        db.session.remove()
