"""Migration 0016 (the case and photo an idempotency key kept) upgrades and downgrades with rows."""

from __future__ import annotations

import uuid

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.test_migrations_identity import rows, scratch_app  # noqa: F401 - the fixture

REVISION, PREVIOUS = "0016", "0015"

_RECORD = (
    "INSERT INTO idempotency_records (user_id, key, fingerprint, status_code, response,"
    " created_at) VALUES (1, :key, :fp, :status, CAST(:response AS jsonb), now())"
)


def test_kept_case_columns_upgrade_and_downgrade_with_rows(scratch_app):  # noqa: F811
    case_id, image_id = uuid.uuid4(), uuid.uuid4()
    with scratch_app.app_context():
        upgrade(revision=PREVIOUS)
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
                " CAST('[]' AS jsonb), 'awaiting_image', now(), now())"
            ),
            {"id": case_id},
        )
        db.session.execute(
            text(
                "INSERT INTO case_images (id, case_id, storage_key, content_type, size_bytes,"
                " width, height, sha256, created_at) VALUES (:id, :case, 'k', 'image/jpeg', 1,"
                " 64, 64, :sha, now())"
            ),
            {"id": image_id, "case": case_id, "sha": "0" * 64},
        )
        db.session.execute(
            text(_RECORD), {"key": "done", "fp": "f" * 64, "status": 200, "response": "{}"}
        )
        db.session.execute(
            text(_RECORD), {"key": "running", "fp": "f" * 64, "status": None, "response": None}
        )
        db.session.commit()

        upgrade(revision=REVISION)
        assert rows(
            "SELECT key, status_code, kept_case_id, kept_image_id FROM idempotency_records"
            " ORDER BY key"
        ) == [("done", 200, None, None), ("running", None, None, None)]
        db.session.execute(
            text(_RECORD), {"key": "kept", "fp": "f" * 64, "status": None, "response": None}
        )
        db.session.execute(
            text(
                "UPDATE idempotency_records SET kept_case_id = :case, kept_image_id = :image"
                " WHERE key = 'kept'"
            ),
            {"case": case_id, "image": image_id},
        )
        db.session.commit()
        # A deleted photo is forgotten (the retry stores the photo again); a deleted case
        # takes the record with it.
        db.session.execute(text("DELETE FROM case_images"))
        db.session.commit()
        assert rows(
            "SELECT kept_case_id, kept_image_id FROM idempotency_records WHERE key = 'kept'"
        ) == [(case_id, None)]

        downgrade(revision=PREVIOUS)  # a record that only remembered a kept case is released
        assert rows("SELECT key, status_code FROM idempotency_records ORDER BY key") == [
            ("done", 200),
            ("running", None),
        ]
        upgrade()
        db.session.execute(
            text(_RECORD), {"key": "kept", "fp": "f" * 64, "status": None, "response": None}
        )
        db.session.execute(
            text("UPDATE idempotency_records SET kept_case_id = :case WHERE key = 'kept'"),
            {"case": case_id},
        )
        db.session.execute(text("DELETE FROM cases"))
        db.session.commit()
        assert rows("SELECT key FROM idempotency_records ORDER BY key") == [
            ("done",),
            ("running",),
        ]
        db.session.remove()
