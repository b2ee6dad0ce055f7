"""Migration 0012 (patients, lesions, re-analyses) turns every existing case into a visit of a
lesion of its patient, and downgrades with rows present, nothing lost."""

from __future__ import annotations

import uuid

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.test_migrations_identity import rows, scratch_app  # noqa: F401 - the fixture

_USER = (
    "INSERT INTO users (email, password_hash, full_name, role, is_active, created_at,"
    " session_version) VALUES (:email, 'h', 'Dr. A', 'physician', true, now(), 1)"
)
_CASE = (
    "INSERT INTO cases (id, owner_id, patient_reference, patient_sex, body_site,"
    " chief_complaint, anamnesis, answer_order, question_texts, status, created_at, updated_at)"
    " VALUES (:id, :owner, :ref, 'male', :site, :complaint, CAST('{\"duration\": \"1-3 months\"}'"
    " AS jsonb), CAST('[\"duration\"]' AS jsonb), CAST('{}' AS jsonb), 'questionnaire',"
    " now() - make_interval(days => :age_days), now())"
)


def _seed_cases() -> dict[str, uuid.UUID]:
    db.session.execute(text(_USER), {"email": "a@example.org"})
    db.session.execute(text(_USER), {"email": "b@example.org"})
    ids = {name: uuid.uuid4() for name in ("a1", "a2", "a3", "b1")}
    for name, owner, ref, site, complaint, days in (
        ("a1", 1, "PT-1", "back", "Mole that grew", 30),
        ("a2", 1, "PT-1", "face", "", 10),
        ("a3", 1, "PT-2", "thigh", "x" * 300, 5),
        ("b1", 2, "PT-1", "back", "Other physician's patient", 1),
    ):
        db.session.execute(
            text(_CASE),
            {
                "id": ids[name],
                "owner": owner,
                "ref": ref,
                "site": site,
                "complaint": complaint,
                "age_days": days,
            },
        )
    db.session.commit()
    return ids


def test_lesions_migration_makes_each_case_a_lesion_of_its_patient(scratch_app):  # noqa: F811
    with scratch_app.app_context():
        upgrade(revision="0011")
        ids = _seed_cases()
        upgrade(revision="0012")
        patients = rows(
            "SELECT owner_id, reference, created_at = (SELECT min(created_at) FROM cases c"
            " WHERE c.owner_id = p.owner_id AND c.patient_reference = p.reference)"
            " FROM patients p ORDER BY owner_id, reference"
        )
        assert patients == [(1, "PT-1", True), (1, "PT-2", True), (2, "PT-1", True)]
        linked = {
            row[0]: row[1:]
            for row in rows(
                "SELECT c.id, p.reference, p.owner_id, l.label, l.body_site, l.status,"
                " l.created_at = c.created_at FROM cases c JOIN patients p ON p.id = c.patient_id"
                " JOIN lesions l ON l.id = c.lesion_id AND l.patient_id = p.id"
            )
        }
        assert linked[ids["a1"]] == ("PT-1", 1, "Back: Mole that grew", "back", "monitoring", True)
        assert linked[ids["a2"]] == ("PT-1", 1, "Face", "face", "monitoring", True)
        label = linked[ids["a3"]][2]
        assert len(label) == 120 and label.startswith("Thigh or hip: xxx") and label[-1] == "…"
        assert linked[ids["b1"]][:2] == ("PT-1", 2)
        assert rows("SELECT count(*), count(DISTINCT lesion_id) FROM cases") == [(4, 4)]
        # nothing about the cases themselves changed
        assert rows("SELECT count(*) FROM cases WHERE anamnesis->>'duration' = '1-3 months'") == [
            (4,)
        ]

        # a lesion with a body-map point and a re-analysis row survive until the downgrade
        db.session.execute(
            text(
                "UPDATE lesions SET map_x = 0.4, map_y = 0.3, map_view = 'back' WHERE id ="
                " (SELECT lesion_id FROM cases WHERE id = :id)"
            ),
            {"id": ids["a1"]},
        )
        db.session.execute(
            text(
                "INSERT INTO reanalyses (id, case_id, model_version, predictions,"
                " accepted_low_quality, created_at) VALUES (:id, :case, 'reference-1.0',"
                " CAST('[]' AS jsonb), false, now())"
            ),
            {"id": uuid.uuid4(), "case": ids["a1"]},
        )
        db.session.commit()
        downgrade(revision="0011")
        assert rows(
            "SELECT id, patient_reference, chief_complaint FROM cases ORDER BY id"
        ) == sorted(
            [
                (ids["a1"], "PT-1", "Mole that grew"),
                (ids["a2"], "PT-1", ""),
                (ids["a3"], "PT-2", "x" * 300),
                (ids["b1"], "PT-1", "Other physician's patient"),
            ]
        )
        assert rows("SELECT to_regclass('lesions'), to_regclass('patients')") == [(None, None)]
        upgrade()
        assert rows("SELECT count(*) FROM cases WHERE lesion_id IS NULL") == [(0,)]
        db.session.remove()


def test_lesions_migration_on_an_empty_database(scratch_app):  # noqa: F811
    with scratch_app.app_context():
        upgrade(revision="0012")
        assert rows("SELECT count(*) FROM patients") == [(0,)]
        downgrade(revision="0011")
        upgrade()
        db.session.remove()
