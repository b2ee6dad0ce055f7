"""Histology outcomes: recorded after review (portal and API), audited, append-only, in the
case, the report and the export; migration 0008 up and down."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent, User
from app.services import diagnosis
from tests.fixtures.analysed import analysed_case, differential
from tests.fixtures.portal import csrf_token
from tests.test_migration_clinical_record import scratch_url  # noqa: F401

MEL = differential(("Melanoma", "C43.9", 0.7), ("Melanocytic nevus", "D22.9", 0.2))
#: The visit the outcomes follow (a report may not predate it).
VISIT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
BODY = {
    "diagnosis": "Superficial spreading melanoma, Breslow 0.4 mm",
    "icd10": "c43.5",
    "outcome_date": "2026-11-20",
    "notes": "Clear margins.",
    "excised": True,
}


@pytest.fixture
def physician(make_user):
    return make_user(full_name="Dr. Outcome")


def _case(app, physician, reviewed=True):
    with app.app_context():
        case_id = analysed_case(physician, predictions=MEL, visited_at=VISIT)
        if reviewed:
            diagnosis.review_case(
                actor=db.session.get(User, physician.id),
                case_id=case_id,
                final_diagnosis="Melanoma",
            )
        db.session.remove()
    return case_id


def test_api_records_the_outcome_audited_and_in_the_case(client, app, physician, api_headers):
    case_id = _case(app, physician)
    headers = api_headers(physician)
    response = client.post(f"/api/cases/{case_id}/outcome", json=BODY, headers=headers)
    assert response.status_code == 201, response.get_json()
    out = response.get_json()
    assert (out["icd10"], out["outcome_date"], out["excised"]) == ("C43.5", "2026-11-20", True)
    second = {**BODY, "diagnosis": "Melanoma in situ", "icd10": "D03.5", "excised": False}
    assert (
        client.post(f"/api/cases/{case_id}/outcome", json=second, headers=headers).status_code
        == 201
    )
    case = client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert case["outcome"]["diagnosis"] == "Melanoma in situ"  # the newest supersedes
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.action == "case.outcome"
            )
        ).all()
        assert [event.details["icd10"] for event in events] == ["C43.5", "D03.5"]
        db.session.remove()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"icd10": "melanoma"}, "icd10"),
        ({"outcome_date": (date.today() + timedelta(days=2)).isoformat()}, "outcome_date"),
        ({"diagnosis": "  "}, "diagnosis"),
        ({"outcome_date": "yesterday"}, "outcome_date"),
    ],
)
def test_api_bad_outcomes_are_422(client, app, physician, api_headers, change, field):  # noqa: PLR0917
    case_id = _case(app, physician)
    response = client.post(
        f"/api/cases/{case_id}/outcome", json={**BODY, **change}, headers=api_headers(physician)
    )
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


@pytest.mark.parametrize("outcome_date", [20261120, 1763596800, 2026.5, "20/11/2026", "yesterday"])
def test_api_an_outcome_date_not_written_as_an_iso_date_says_what_is_expected(
    client, app, physician, api_headers, outcome_date
):
    case_id = _case(app, physician)
    response = client.post(
        f"/api/cases/{case_id}/outcome",
        json={**BODY, "outcome_date": outcome_date},
        headers=api_headers(physician),
    )
    assert response.status_code == 422
    message = response.get_json()["error"]["details"]["outcome_date"]
    assert "YYYY-MM-DD" in message, message
    assert "ISO" in message and "2026-11-20" in message, message
    case = client.get(f"/api/cases/{case_id}", headers=api_headers(physician)).get_json()
    assert case["outcome"] is None


def test_api_outcome_needs_a_review_and_the_case(client, app, physician, make_user, api_headers):
    unreviewed = _case(app, physician, reviewed=False)
    response = client.post(
        f"/api/cases/{unreviewed}/outcome", json=BODY, headers=api_headers(physician)
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "case_not_reviewed"
    stranger = make_user()
    reviewed = _case(app, physician)
    response = client.post(
        f"/api/cases/{reviewed}/outcome", json=BODY, headers=api_headers(stranger)
    )
    assert response.status_code == 404


def test_portal_records_it_and_the_report_shows_it(client, app, physician, portal_login):
    case_id = _case(app, physician)
    portal_login(physician, client)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Record the histology outcome" in page
    form = {
        "csrf_token": csrf_token(page),
        "diagnosis": "Compound nevus",
        "icd10": "d22.5",
        "outcome_date": "2026-11-21",
        "excised": "y",
    }
    bad = client.post(f"/cases/{case_id}/outcome", data={**form, "icd10": "nevus"})
    assert bad.status_code == 422
    assert "Enter an ICD-10 code such as C43.9 or D22.5" in bad.get_data(as_text=True)
    response = client.post(f"/cases/{case_id}/outcome", data=form)
    assert response.status_code == 303 and response.headers["Location"].endswith("#outcome")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "<strong>Compound nevus</strong> <code>D22.5</code>" in page
    report = client.get(f"/cases/{case_id}/report").get_data(as_text=True)
    assert "Histology outcome" in report and "Compound nevus" in report and "2026-11-21" in report


def test_the_export_carries_the_newest_outcome(app, physician, client, api_headers, tmp_path):
    case_id = _case(app, physician)
    client.post(f"/api/cases/{case_id}/outcome", json=BODY, headers=api_headers(physician))
    out = tmp_path / "cases.json"
    result = app.test_cli_runner().invoke(args=["cases", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    [record] = json.loads(out.read_text())
    assert record["outcome"]["icd10"] == "C43.5"
    assert record["outcome"]["excised"] is True
    csv_out = tmp_path / "cases.csv"
    result = app.test_cli_runner().invoke(
        args=["cases", "export", "--format", "csv", "--output", str(csv_out)]
    )
    assert result.exit_code == 0, result.output
    header, row = csv_out.read_text().splitlines()[:2]
    assert "outcome_icd10" in header.split(",")
    assert "C43.5" in row and "2026-11-20" in row


def test_0008_up_and_down_with_rows(make_app, scratch_url):  # noqa: F811
    app = make_app(SQLALCHEMY_DATABASE_URI=scratch_url)
    with app.app_context():
        upgrade(revision="0007")
        db.session.execute(
            text(
                "INSERT INTO users (email, password_hash, full_name, role, is_active, "
                "created_at, session_version) VALUES ('o@example.org', 'x', 'Dr. O', "
                "'physician', true, now(), 1)"
            )
        )
        db.session.commit()
        upgrade(revision="0008")
        assert db.session.execute(text("SELECT count(*) FROM case_outcomes")).scalar() == 0
        db.session.commit()
        downgrade(revision="0007")
        assert db.session.execute(text("SELECT count(*) FROM users")).scalar() == 1
        db.session.commit()
        upgrade()
        db.session.remove()
        db.engine.dispose()
