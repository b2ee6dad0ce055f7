"""Required free text made only of invisible characters (zero-width space, word joiner, byte
order mark, Hangul filler, bidi marks…) is refused like an empty field: 422 naming the field on
``/api``, an inline message in the portal. Visible text with such characters inside is kept."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Case, User
from app.services import diagnosis
from tests.fixtures.analysed import analysed_case, differential
from tests.fixtures.cases import case_payload
from tests.fixtures.portal import token_for

#: Each looks empty on screen; str.strip() leaves all of them in place.
INVISIBLE = [
    "\u200b",  # zero-width space
    " \u200b\u200c\u200d ",  # zero-width space, non-joiner, joiner, with spaces around
    "\u2060\ufeff",  # word joiner, byte order mark (zero-width no-break space)
    "\u3164",  # Hangul filler (a letter that renders as nothing)
    "\u200e\u200f\u202a\u202c",  # bidi marks and embedding
    "\u00ad",  # soft hyphen
    "\u2800",  # Braille blank
    "\u0301",  # a combining accent on nothing
]
MEL = differential(("Melanoma", "C43.9", 0.7), ("Melanocytic nevus", "D22.9", 0.2))


@pytest.fixture
def physician(make_user):
    return make_user(full_name="Dr. Blank")


@pytest.mark.parametrize("text", INVISIBLE)
def test_api_a_chief_complaint_of_invisible_characters_is_422(
    client, app, physician, api_headers, text
):
    headers = api_headers(physician)
    response = client.post("/api/cases", json=case_payload(chief_complaint=text), headers=headers)
    assert response.status_code == 422, response.get_json()
    message = response.get_json()["error"]["details"]["chief_complaint"]
    assert "invisible" in message, message
    with app.app_context():
        assert db.session.query(Case).count() == 0
    case_id = client.post("/api/cases", json=case_payload(), headers=headers).get_json()["id"]
    patched = client.patch(f"/api/cases/{case_id}", json={"chief_complaint": text}, headers=headers)
    assert patched.status_code == 422
    assert "invisible" in patched.get_json()["error"]["details"]["chief_complaint"]


def test_api_a_patient_reference_of_invisible_characters_is_422(client, physician, api_headers):
    response = client.post(
        "/api/cases",
        json=case_payload(patient_reference="\u200b\u2060"),
        headers=api_headers(physician),
    )
    assert response.status_code == 422
    assert "invisible" in response.get_json()["error"]["details"]["patient_reference"]


def test_visible_text_with_invisible_characters_inside_is_kept(client, physician, api_headers):
    text = "Itchy\u200b mole, ne\u0301vus? \U0001f469\u200d\u2695\ufe0f"
    response = client.post(
        "/api/cases", json=case_payload(chief_complaint=text), headers=api_headers(physician)
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["chief_complaint"] == text


def test_api_review_reopen_and_outcome_refuse_invisible_text(client, app, physician, api_headers):
    with app.app_context():
        case_id = analysed_case(physician, predictions=MEL)
    headers = api_headers(physician)
    url = f"/api/cases/{case_id}"
    review = {"final_diagnosis": "\u200b\u200b", "agreement": "differs"}
    response = client.post(f"{url}/review", json=review, headers=headers)
    assert response.status_code == 422
    assert "invisible" in response.get_json()["error"]["details"]["final_diagnosis"]
    with app.app_context():
        diagnosis.review_case(
            actor=db.session.get(User, physician.id), case_id=case_id, final_diagnosis="Melanoma"
        )
    outcome = {"diagnosis": "\ufeff", "outcome_date": "2026-11-20"}
    response = client.post(f"{url}/outcome", json=outcome, headers=headers)
    assert response.status_code == 422
    assert "invisible" in response.get_json()["error"]["details"]["diagnosis"]
    response = client.post(f"{url}/reopen", json={"reason": "\u200b \u200b"}, headers=headers)
    assert response.status_code == 422
    assert "invisible" in response.get_json()["error"]["details"]["reason"]
    assert client.get(url, headers=headers).get_json()["status"] == "reviewed"


def test_portal_new_case_shows_the_message_on_the_chief_complaint(client, physician, portal_login):
    portal_login(physician, client)
    form = {
        "csrf_token": token_for(client, "/cases/new"),
        "patient_reference": "PT-2026-0042",
        "patient_age": "54",
        "patient_sex": "female",
        "body_site": "back",
        "chief_complaint": "\u200b\u200b\u200b",
    }
    response = client.post("/cases/new", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.split('id="chief_complaint-error"')[1][:300]
    assert "only invisible characters" in error
