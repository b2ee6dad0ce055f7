"""The questionnaire on the case page, with the reference AI service over real HTTP: one
question at a time, each answer saved before the next question, checks with inline errors,
"Change" to take an answer back, htmx fragments, and a friendly pause when the AI is down."""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest

from app.extensions import db
from app.models import Case
from tests.fixtures.portal import csrf_token, htmx

QUESTION_TOKEN = re.compile(r'name="question" value="([^"]+)"')


@pytest.fixture
def physician(make_user):
    return make_user(email="q@example.org")


@pytest.fixture
def client_ai(ai_app, physician, portal_login):
    """A logged-in client of the gateway pointed at the reference AI."""
    return portal_login(physician, ai_app.test_client())


@pytest.fixture
def case_id(client_ai, ai_app):
    """A case opened through the portal form (age, sex and site are seeded)."""
    form = {
        "csrf_token": csrf_token(client_ai.get("/cases/new").get_data(as_text=True)),
        "patient_reference": "PT-Q-1",
        "patient_age": "61",
        "patient_sex": "male",
        "body_site": "back",
        "chief_complaint": "New dark mole on the back.",
    }
    response = client_ai.post("/cases/new", data=form)
    assert response.status_code == 303
    return response.headers["Location"].rsplit("/", 1)[1]


def anamnesis(app, case_id) -> dict:
    with app.app_context():
        return dict(db.session.get(Case, case_id).anamnesis)


def current(client, case_id) -> tuple[str, str, str]:
    """The case page's HTML, its CSRF token and its signed question token."""
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    match = QUESTION_TOKEN.search(html)
    return html, csrf_token(html), match.group(1) if match else ""


def answer(client, case_id, values, headers=None, **extra):
    _html, token, question = current(client, case_id)
    data = {"csrf_token": token, "question": question, "answer": values, **extra}
    return client.post(f"/cases/{case_id}/answers", data=data, headers=headers or {})


def test_the_first_question_not_yet_answered_is_asked_with_a_fieldset(client_ai, case_id):
    html, _token, _question = current(client_ai, case_id)
    assert "How long has it been present?" in html  # age, sex, site were seeded, not asked
    assert '<legend class="question-text"' in html
    # One click answers: each option is a submit button carrying its value, with its key.
    asked = html.split('id="questionnaire"', 1)[1]  # the consent form above has radios
    assert 'type="radio"' not in asked and "Save and continue" not in asked
    button = '<button type="submit" name="answer" value="1-3 months" class="choice" data-key="3">'
    assert button in html
    assert "Since the patient first noticed it." in html  # the AI's help text
    # Answered (age, sex, site from the case) and what the AI estimates remains.
    assert re.search(r"<strong>3 answered</strong> · about 14 to go", html)
    assert "<progress" in html
    assert "Answers (3)" in html
    assert ">61<" in html and ">Male<" in html


def test_an_answer_is_saved_then_the_next_question_is_asked(client_ai, ai_app, case_id):
    response = answer(client_ai, case_id, "1-3 months")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{case_id}?was=3-17#questionnaire")
    assert anamnesis(ai_app, case_id)["duration"] == "1-3 months"
    html, _token, _question = current(client_ai, case_id)
    assert "What does it look like?" in html
    assert "Answers (4)" in html


def test_htmx_gets_the_case_region_with_the_next_question(client_ai, case_id):
    response = answer(client_ai, case_id, "3-12 months", headers=htmx("case"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert "What does it look like?" in html
    assert "HX-Request" in response.headers["Vary"]


def test_a_required_question_without_an_answer_is_422_and_nothing_is_saved(
    client_ai, ai_app, case_id
):
    response = answer(client_ai, case_id, [])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose one of the options." in html
    assert "How long has it been present?" in html
    assert 'aria-invalid="true"' in html
    assert "duration" not in anamnesis(ai_app, case_id)
    response = answer(client_ai, case_id, [], headers=htmx("case"), skip="y")
    assert response.status_code == 422
    assert "cannot be skipped" in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True)


def test_an_answer_not_offered_is_refused(client_ai, ai_app, case_id):
    response = answer(client_ai, case_id, "forever")
    assert response.status_code == 422
    assert "duration" not in anamnesis(ai_app, case_id)


def test_an_altered_or_foreign_question_token_saves_nothing(client_ai, ai_app, case_id):
    _html, token, question = current(client_ai, case_id)
    data = {"csrf_token": token, "question": question[:-3] + "abc", "answer": "1-3 months"}
    response = client_ai.post(f"/cases/{case_id}/answers", data=data)
    assert response.status_code == 422
    assert "out of date" in response.get_data(as_text=True)
    assert "duration" not in anamnesis(ai_app, case_id)


FIRST_OPTION = re.compile(r'<button type="submit" name="answer" value="([^"]+)"')


def any_answer(html: str) -> str | list[str]:
    """An acceptable answer to the question on the page: 3, none ticked, "no", option one."""
    if 'type="number"' in html:
        return "3"
    if 'type="checkbox"' in html:
        return []
    if 'name="answer" value="no" class="choice' in html:
        return "no"
    match = FIRST_OPTION.search(html)
    return unescape(match.group(1)) if match else "n/a"


def walk_until(client, case_id, text: str, limit: int = 30) -> str:
    """Answer each question with :func:`any_answer` until ``text`` is on the page."""
    for _ in range(limit):
        html, token, question = current(client, case_id)
        if text in html:
            return html
        assert "question-form" in html, f"{text!r} never came"
        data = {"csrf_token": token, "question": question, "answer": any_answer(html)}
        assert client.post(f"/cases/{case_id}/answers", data=data).status_code == 303
    raise AssertionError(f"{text!r} never came")


def test_number_bounds_unit_and_skip_of_an_optional_question(client_ai, ai_app, case_id):
    # Pigmented lesion: diameter (optional, mm) comes on this branch.
    for values in ("1-3 months", "pigmented spot or mole", "flat"):
        html, token, question = current(client_ai, case_id)
        data = {"csrf_token": token, "question": question, "answer": values}
        assert client_ai.post(f"/cases/{case_id}/answers", data=data).status_code == 303
    html, token, question = current(client_ai, case_id)
    assert "Which colours does the lesion show?" in html
    data = {"csrf_token": token, "question": question, "answer": ["dark brown", "black"]}
    assert client_ai.post(f"/cases/{case_id}/answers", data=data).status_code == 303
    assert anamnesis(ai_app, case_id)["color"] == ["dark brown", "black"]
    html, token, question = current(client_ai, case_id)
    data = {"csrf_token": token, "question": question, "answer": []}
    assert client_ai.post(f"/cases/{case_id}/answers", data=data).status_code == 303  # none
    html, token, question = current(client_ai, case_id)
    assert "largest diameter" in html
    assert 'type="number"' in html and 'min="0"' in html and 'max="200"' in html
    assert '<span class="unit">mm</span>' in html
    assert "Skip this question" in html
    data = {"csrf_token": token, "question": question, "answer": "250"}
    response = client_ai.post(f"/cases/{case_id}/answers", data=data)
    assert response.status_code == 422
    assert "between 0 and 200 mm" in response.get_data(as_text=True)
    data = {"csrf_token": token, "question": question, "skip": "y"}
    assert client_ai.post(f"/cases/{case_id}/answers", data=data).status_code == 303
    assert anamnesis(ai_app, case_id)["diameter_mm"] == ""
    html, _token, _question = current(client_ai, case_id)
    assert "Has the lesion changed recently?" in html
    assert 'value="yes"' in html and 'value="no"' in html  # yes/no as a radio pair
    assert "Diameter (mm)" in html and "Skipped" in html


def test_change_asks_the_question_again_with_the_earlier_answer_filled_in(
    client_ai, ai_app, case_id
):
    html, token, _question = current(client_ai, case_id)
    assert 'name="field_name" value="age"' in html
    response = client_ai.post(
        f"/cases/{case_id}/answers/change", data={"csrf_token": token, "field_name": "age"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Change an answer" in html and "How old is the patient?" in html
    assert 'value="61"' in html  # the earlier answer, filled in
    assert 'name="changing" value="1"' in html
    assert anamnesis(ai_app, case_id)["age"] == 61  # nothing taken back until saved
    question = re.search(r'name="question" value="([^"]+)"', html).group(1)
    data = {"csrf_token": token, "question": question, "answer": "62", "changing": "1"}
    response = client_ai.post(f"/cases/{case_id}/answers", data=data, headers=htmx("case"))
    assert response.status_code == 200
    assert anamnesis(ai_app, case_id)["age"] == 62
    # Age does not branch: every other answer is kept, in the order asked.
    with ai_app.app_context():
        case = db.session.get(Case, uuid.UUID(case_id))
        assert case.answer_order[:3] == ["age", "sex", "location1.primary"]


def test_change_without_a_field_name_is_422(client_ai, case_id):
    _html, token, _question = current(client_ai, case_id)
    response = client_ai.post(f"/cases/{case_id}/answers/change", data={"csrf_token": token})
    assert response.status_code == 422


def test_the_end_of_the_questionnaire_is_the_photo_step(client_ai, ai_app, case_id):
    html = walk_until(client_ai, case_id, 'id="photo-step"')
    assert 'accept="image/*" capture="environment"' in html
    assert 'data-preview="photo-preview"' in html
    assert 'hx-indicator="#photo-busy"' in html
    assert "Uploading and analysing…" in html
    assert 'enctype="multipart/form-data"' in html
    with ai_app.app_context():
        assert db.session.get(Case, case_id).status == "awaiting_image"


@pytest.mark.usefixtures("app")
def test_an_unreachable_ai_pauses_the_questionnaire_and_loses_nothing(
    make_app, physician, portal_login, make_case, closed_url
):
    down = make_app(AI_SERVICE_URL=closed_url, AI_SERVICE_RETRIES=0)
    case_id = make_case(physician)
    client = portal_login(physician, down.test_client())
    response = client.get(f"/cases/{case_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The questionnaire is paused" in html
    assert "Nothing was lost" in html
    assert ">Try again</a>" in html and f'hx-get="/cases/{case_id}"' in html
    assert "ai_service_unavailable" in html


def test_a_grown_estimate_is_explained_and_the_scale_is_a_row_of_buttons(
    client_ai, ai_app, case_id
):
    path = ("1-3 months", "pigmented spot or mole", "flat", ["dark brown"], [], "8")
    for values in path:
        assert answer(client_ai, case_id, values).status_code == 303
    html, _token, _question = current(client_ai, case_id)
    assert "Has the lesion changed recently?" in html
    assert "<strong>9 answered</strong> · about 9 to go" in html
    assert "follow-up question" not in html  # no answer just given on a plain visit
    # "Yes" brings the question what changed: one question more than before, and said so.
    html = answer(client_ai, case_id, "yes", headers=htmx("case")).get_data(as_text=True)
    assert "What has changed?" in html
    assert "<strong>10 answered</strong> · about 9 to go" in html
    assert "Your last answer brought 1 follow-up question, so the estimate grew." in html
    # The bar never goes back: 10/19 after 9/18.
    assert re.search(r'<progress value="(\d+)" max="100"', html).group(1) == "53"
    # Without JavaScript the redirect carries the progress of the question answered.
    response = answer(client_ai, case_id, ["size"])
    assert "?was=10-19#" in response.headers["Location"]
    html = client_ai.get(response.headers["Location"]).get_data(as_text=True)
    assert "How itchy is it?" in html
    assert "follow-up question" not in html
    buttons = re.findall(r'<button type="submit" name="answer" value="(\d)" class="choice"', html)
    assert buttons == ["0", "1", "2", "3", "4", "5"]
    assert 'data-key="5"' in html and 'type="number"' not in html
    assert answer(client_ai, case_id, "2").status_code == 303
    assert anamnesis(ai_app, case_id)["itch.scale_0_to_5"] == 2


def test_the_last_answer_can_be_taken_back_from_the_next_question(client_ai, ai_app, case_id):
    answer(client_ai, case_id, "1-3 months")
    html, token, _question = current(client_ai, case_id)
    assert "Changed your mind? Go back to" in html
    form = html[html.index('class="undo-form"') :]
    assert 'name="field_name" value="duration"' in form[: form.index("</form>")]
    response = client_ai.post(
        f"/cases/{case_id}/answers/change", data={"csrf_token": token, "field_name": "duration"}
    )
    html = response.get_data(as_text=True)
    assert "How long has it been present?" in html
    # The earlier answer is marked; no undo while changing.
    assert 'value="1-3 months" class="choice chosen"' in html
    assert "Changed your mind?" not in html


def test_a_stale_second_window_cannot_overwrite_an_answer(client_ai, ai_app, physician):
    """Tabs A and B at "What is the patient's sex?": A answers Female, then B's Male is refused
    (the question was answered meanwhile), and the case keeps Female."""
    form = {
        "csrf_token": csrf_token(client_ai.get("/cases/new").get_data(as_text=True)),
        "patient_reference": "PT-Q-TABS",
        "patient_age": "40",
        "patient_sex": "unknown",
        "body_site": "back",
        "chief_complaint": "Itchy rash.",
    }
    case_id = client_ai.post("/cases/new", data=form).headers["Location"].rsplit("/", 1)[1]
    html_a, csrf, token_a = current(client_ai, case_id)
    _html_b, _csrf, token_b = current(client_ai, case_id)
    assert "What is the patient&#39;s sex?" in html_a or "What is the patient's sex?" in html_a

    first = {"csrf_token": csrf, "question": token_a, "answer": "female"}
    assert client_ai.post(f"/cases/{case_id}/answers", data=first).status_code == 303
    stale = {"csrf_token": csrf, "question": token_b, "answer": "male"}
    response = client_ai.post(f"/cases/{case_id}/answers", data=stale)

    assert response.status_code == 409
    text = unescape(response.get_data(as_text=True))
    assert "answered meanwhile (Female) in another window" in text
    assert anamnesis(ai_app, case_id)["sex"] == "female"
    with ai_app.app_context():
        assert db.session.get(Case, uuid.UUID(case_id)).patient_sex == "female"
