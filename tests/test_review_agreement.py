"""The review's agreement with the AI in three values: derived from the differential when the
physician picks from it (which also fills the ICD-10 code), asked when not; migration 0007."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from app.services.clinical_record.agreement import pick_from_differential, settle_agreement
from tests.fixtures.analysed import analysed_case, differential, stored_case
from tests.fixtures.portal import csrf_token
from tests.test_migration_clinical_record import NOW, _seed, scratch_url  # noqa: F401

DIFFERENTIAL = differential(
    ("Melanoma", "C43.9", 0.61),
    ("Melanocytic nevus", "D22.9", 0.22),
    ("Seborrheic keratosis", "L82", 0.09),
)


@pytest.mark.parametrize(
    ("diagnosis", "code", "want"),
    [
        ("Melanoma", None, (0, "C43.9", "top1")),
        ("  melanocytic   NEVUS ", None, (1, "D22.9", "in_differential")),
        ("Seborrheic-keratosis", None, (2, "L82", "in_differential")),
        ("Lentigo maligna melanoma", "D22.9", (1, "D22.9", "in_differential")),  # by code
        ("Basal cell carcinoma", None, None),
        ("", None, None),
    ],
)
def test_pick_from_the_differential(diagnosis, code, want):
    pick = pick_from_differential(diagnosis, code, DIFFERENTIAL)
    assert (None if pick is None else (pick.rank, pick.icd10, pick.agreement)) == want


def test_settled_agreement_is_derived_first_then_asked():
    derived = settle_agreement(
        final_diagnosis="Melanoma", icd10=None, given="differs", predictions=DIFFERENTIAL
    )
    assert derived == ("top1", "C43.9", None)  # the physician's answer cannot contradict it
    kept_code = settle_agreement(
        final_diagnosis="Melanoma", icd10="C43.5", given=None, predictions=DIFFERENTIAL
    )
    assert kept_code == ("top1", "C43.5", None)  # a code the physician wrote is kept
    asked = settle_agreement(
        final_diagnosis="BCC", icd10="C44.9", given="in_differential", predictions=DIFFERENTIAL
    )
    assert asked == ("in_differential", "C44.9", None)
    missing = settle_agreement(final_diagnosis="BCC", icd10=None, given=None, predictions=[])
    assert missing[0] is None and "not one of the AI's suggestions" in missing[2]


@pytest.fixture
def physician(make_user):
    return make_user(full_name="Dr. Agree")


@pytest.fixture
def case_id(app, physician):
    with app.app_context():
        found = analysed_case(physician, predictions=DIFFERENTIAL)
        db.session.remove()
    return found


def _review(client, headers, case_id, **body):
    return client.post(f"/api/cases/{case_id}/review", json=body, headers=headers)


def test_api_picking_from_the_differential_derives_and_fills_the_code(
    client, physician, api_headers, case_id
):
    response = _review(client, api_headers(physician), case_id, final_diagnosis="Melanocytic nevus")
    assert response.status_code == 200, response.get_json()
    review = response.get_json()["review"]
    assert (review["agreement"], review["final_icd10"]) == ("in_differential", "D22.9")


def test_api_own_diagnosis_needs_the_agreement(client, app, physician, api_headers, case_id):
    headers = api_headers(physician)
    response = _review(client, headers, case_id, final_diagnosis="Basal cell carcinoma")
    assert response.status_code == 422
    assert "agreement" in response.get_json()["error"]["details"]
    with app.app_context():
        assert stored_case(case_id).status == "analyzed"  # nothing half-written
    response = _review(
        client, headers, case_id, final_diagnosis="Basal cell carcinoma", agreement="differs"
    )
    assert response.status_code == 200
    assert response.get_json()["review"]["agreement"] == "differs"
    assert response.get_json()["review"]["final_icd10"] is None


def test_api_old_yes_no_field_still_accepted(client, physician, api_headers, case_id):
    response = _review(
        client, api_headers(physician), case_id, final_diagnosis="BCC", agrees_with_ai=False
    )
    assert response.status_code == 200
    assert response.get_json()["review"]["agreement"] == "differs"


def test_portal_asks_only_when_not_picked(client, app, physician, portal_login, case_id):
    portal_login(physician, client)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "how does it compare with the AI" in page
    form = {"csrf_token": csrf_token(page), "final_diagnosis": "Pigmented BCC", "icd10": ""}
    response = client.post(f"/cases/{case_id}/review", data=form)
    assert response.status_code == 422
    assert "not one of the AI&#39;s suggestions" in response.get_data(as_text=True)
    form["final_diagnosis"] = "melanoma"
    response = client.post(f"/cases/{case_id}/review", data=form)
    assert response.status_code == 303
    with app.app_context():
        case = stored_case(case_id)
        assert (case.ai_agreement, case.final_icd10) == ("top1", "C43.9")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Agrees with the AI&#39;s first suggestion" in page


def test_0007_carries_yes_no_over_and_back(make_app, scratch_url):  # noqa: F811
    app = make_app(SQLALCHEMY_DATABASE_URI=scratch_url)
    with app.app_context():
        upgrade(revision="0003")
        ids = _seed(db.session)  # a reviewed case with agrees_with_ai = false
        upgrade(revision="0005")
        db.session.execute(
            text(
                "INSERT INTO case_reviews (id, case_id, final_diagnosis, agrees_with_ai, "
                "reviewed_at) VALUES (gen_random_uuid(), :case, 'Melanoma', true, :now), "
                "(gen_random_uuid(), :case, 'Unsure', NULL, :now)"
            ),
            {"case": ids["case"], "now": NOW},
        )
        db.session.commit()
        upgrade(revision="0007")
        case = db.session.execute(
            text("SELECT ai_agreement FROM cases WHERE id = :id"), {"id": ids["case"]}
        ).scalar_one()
        assert case == "differs"
        reviews = dict(
            db.session.execute(text("SELECT final_diagnosis, ai_agreement FROM case_reviews")).all()
        )
        assert reviews == {"Seborrhoeic keratosis": "differs", "Melanoma": "top1", "Unsure": None}
        db.session.execute(
            text(
                "UPDATE case_reviews SET ai_agreement = 'in_differential' "
                "WHERE ai_agreement IS NULL"
            )
        )
        db.session.commit()
        downgrade(revision="0006")
        back = dict(
            db.session.execute(
                text("SELECT final_diagnosis, agrees_with_ai FROM case_reviews")
            ).all()
        )
        assert back == {"Seborrhoeic keratosis": False, "Melanoma": True, "Unsure": False}
        assert (
            db.session.execute(
                text("SELECT agrees_with_ai FROM cases WHERE id = :id"), {"id": ids["case"]}
            ).scalar_one()
            is False
        )
        db.session.commit()
        upgrade()
        db.session.remove()
        db.engine.dispose()
