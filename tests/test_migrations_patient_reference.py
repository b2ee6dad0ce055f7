"""Migration 0015 (patient references unique regardless of letter case) refuses to run while a
physician has ``PT-1`` and ``pt-1`` as two patients, naming them and changing nothing; the
operator resolves each pair with ``flask patients merge`` or ``rename`` (audited), then the
migration runs, and downgrades with rows present."""

from __future__ import annotations

import uuid

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.test_migration_lesions import _CASE, _USER
from tests.test_migrations_identity import rows, scratch_app  # noqa: F401 - the fixture


def _seed_twins() -> dict[str, uuid.UUID]:
    """At revision 0011: owner 1 has cases of ``PT-1`` (two), ``pt-1`` and ``Pt-2`` /
    ``PT-2``; owner 2 one of ``pt-1``. Migration 0012 makes their patients case-sensitively."""
    db.session.execute(text(_USER), {"email": "a@example.org"})
    db.session.execute(text(_USER), {"email": "b@example.org"})
    ids = {}
    for name, owner, ref, days in (
        ("a1", 1, "PT-1", 30),
        ("a2", 1, "PT-1", 20),
        ("a3", 1, "pt-1", 10),
        ("a4", 1, "Pt-2", 9),
        ("a5", 1, "PT-2", 8),
        ("b1", 2, "pt-1", 5),
    ):
        ids[name] = uuid.uuid4()
        db.session.execute(
            text(_CASE),
            {
                "id": ids[name],
                "owner": owner,
                "ref": ref,
                "site": "back",
                "complaint": f"case {name}",
                "age_days": days,
            },
        )
    db.session.commit()
    return ids


def _patient_of(case_id: uuid.UUID) -> uuid.UUID:
    return rows(f"SELECT patient_id FROM cases WHERE id = '{case_id}'")[0][0]


def test_twins_stop_the_migration_until_merged_or_renamed(scratch_app, capfd):  # noqa: F811
    runner = scratch_app.test_cli_runner()
    with scratch_app.app_context():
        upgrade(revision="0011")
        ids = _seed_twins()
        upgrade(revision="0014")
        pt1, lower_pt1 = _patient_of(ids["a1"]), _patient_of(ids["a3"])
        pt2_first, pt2_second = _patient_of(ids["a4"]), _patient_of(ids["a5"])
        assert len({pt1, lower_pt1, pt2_first, pt2_second}) == 4

        with pytest.raises(SystemExit) as stopped:  # Flask-Migrate: "Error: ...", exit 1
            upgrade(revision="0015")
        assert stopped.value.code == 1
        message = capfd.readouterr().err
        assert "Error: Migration 0015 makes patient references unique" in message
        for patient_id in (pt1, lower_pt1, pt2_first, pt2_second):
            assert str(patient_id) in message
        assert "'PT-1' (2 lesion(s), 2 visit(s))" in message
        assert "flask patients merge" in message and "flask patients rename" in message
        assert str(_patient_of(ids["b1"])) not in message  # another owner's pt-1 is theirs
        assert rows("SELECT version_num FROM alembic_version") == [("0014",)]
        assert rows("SELECT to_regclass('uq_patients_owner_id_lower_reference')") == [(None,)]

        listed = runner.invoke(args=["patients", "duplicates"])
        assert listed.exit_code == 0, listed.output
        assert str(pt1) in listed.output and str(lower_pt1) in listed.output

        # PT-1 / pt-1: one person → merged; Pt-2 / PT-2: two people → one renamed
        refused = runner.invoke(
            args=["patients", "merge", str(pt1), "--into", str(pt2_first), "--yes"]
        )
        assert refused.exit_code == 1 and "different references" in refused.output
        merged = runner.invoke(
            args=["patients", "merge", str(lower_pt1), "--into", str(pt1), "--yes"]
        )
        assert merged.exit_code == 0, merged.output
        renamed = runner.invoke(args=["patients", "rename", str(pt2_second), "PT-2-B"])
        assert renamed.exit_code == 0, renamed.output
        assert rows(f"SELECT count(*) FROM patients WHERE id = '{lower_pt1}'") == [(0,)]
        assert {_patient_of(ids[name]) for name in ("a1", "a2", "a3")} == {pt1}
        assert rows(f"SELECT count(*) FROM lesions WHERE patient_id = '{pt1}'") == [
            (3,)
        ]  # the lesion of pt-1's visit moved along
        assert rows(
            "SELECT patient_reference FROM cases WHERE id IN"
            f" ('{ids['a3']}', '{ids['a5']}') ORDER BY created_at"
        ) == [("pt-1",), ("PT-2-B",)]  # as typed; the renamed patient's case follows
        audited = rows(
            f"SELECT action, details->'changes' FROM audit_events WHERE case_id = '{ids['a3']}'"
        )
        assert audited == [
            (
                "case.update",
                {"patient_id": {"before": str(lower_pt1), "after": str(pt1)}},
            )
        ]
        assert rows("SELECT count(*) FROM audit_events WHERE action = 'patient.merge'") == [(1,)]

        upgrade(revision="0015")
        assert rows("SELECT to_regclass('uq_patients_owner_id_lower_reference')") != [(None,)]
        with pytest.raises(Exception, match="uq_patients_owner_id_lower_reference"):
            db.session.execute(
                text(
                    "INSERT INTO patients (id, owner_id, reference, created_at, updated_at)"
                    " VALUES (:id, 1, 'pt-2-b', now(), now())"
                ),
                {"id": uuid.uuid4()},
            )
        db.session.rollback()

        downgrade(revision="0014")  # rows present: the case-sensitive constraint is back
        assert rows("SELECT count(*) FROM patients") == [(4,)]
        assert rows("SELECT count(*) FROM cases WHERE patient_id IS NULL") == [(0,)]
        upgrade()
        db.session.remove()


def test_patient_reference_migration_on_an_empty_database(scratch_app):  # noqa: F811
    with scratch_app.app_context():
        upgrade(revision="0015")
        assert rows("SELECT count(*) FROM patients") == [(0,)]
        downgrade(revision="0014")
        upgrade()
        db.session.remove()
