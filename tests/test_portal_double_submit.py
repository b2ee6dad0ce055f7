"""Without JavaScript nothing stops a second click on "Upload and analyse" or "Analyse": the
browser posts the same form twice. Each form carries a key made when it was shown (as the
new-case form does), so the same form posted again creates no second image or analysis; it
leads to what the first post made. Reference AI over HTTP, PostgreSQL."""

from __future__ import annotations

import io
import re

import pytest

from app.extensions import db
from app.models import Analysis, CaseImage
from tests.fixtures.portal import csrf_token, ready_for_photo
from tests.test_portal_diagnosis import BLURRY, NEVUS, page

_KEY = re.compile(r'name="form_key" value="([^"]+)"')


@pytest.fixture
def physician(make_user):
    return make_user(full_name="Dr. Twice")


@pytest.fixture
def portal(ai_app, physician, portal_login):
    return portal_login(physician, ai_app.test_client())


def _counts(app, case_id) -> tuple[int, int]:
    with app.app_context():
        images = db.session.query(CaseImage).filter_by(case_id=case_id).count()
        analyses = db.session.query(Analysis).filter_by(case_id=case_id).count()
        db.session.remove()
    return images, analyses


def _photo_form(html: str) -> dict[str, str]:
    form = html[html.index('class="photo-form"') :]
    form = form[: form.index("</form>")]
    key = (_KEY.findall(form) or [""])[0]
    question = form.split('name="question" value="', 1)[1].split('"', 1)[0]
    return {"csrf_token": csrf_token(html), "question": question, "form_key": key}


def _post_photo(client, case_id, fields, path):
    data = {**fields, "photo": (io.BytesIO(path.read_bytes()), path.name)}
    return client.post(f"/cases/{case_id}/photo", data=data, content_type="multipart/form-data")


def test_the_same_photo_form_posted_twice_stores_one_photo_and_one_analysis(
    portal, ai_app, physician
):
    case_id = ready_for_photo(ai_app, physician)
    fields = _photo_form(page(portal, case_id))
    first = _post_photo(portal, case_id, fields, NEVUS)
    assert first.status_code == 303
    assert _counts(ai_app, case_id) == (1, 1)
    second = _post_photo(portal, case_id, fields, NEVUS)  # the double click
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert _counts(ai_app, case_id) == (1, 1)
    assert "AI results" in page(portal, case_id)


def test_the_same_form_with_another_photo_is_a_new_upload(portal, ai_app, physician):
    """Back, another photo chosen in the same (old) form: that is a new photo, not a repeat."""
    case_id = ready_for_photo(ai_app, physician)
    fields = _photo_form(page(portal, case_id))
    assert _post_photo(portal, case_id, fields, BLURRY).status_code == 422
    assert _post_photo(portal, case_id, fields, NEVUS).status_code == 303
    assert _counts(ai_app, case_id) == (2, 1)


def test_a_rejected_photo_posted_twice_is_rejected_once_and_shown_again(portal, ai_app, physician):
    case_id = ready_for_photo(ai_app, physician)
    fields = _photo_form(page(portal, case_id))
    for _ in range(2):
        response = _post_photo(portal, case_id, fields, BLURRY)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "Please retake the photo" in html and "Image is too blurry" in html
    assert _counts(ai_app, case_id) == (1, 0)


def test_analyse_anyway_posted_twice_runs_one_analysis(portal, ai_app, physician):
    case_id = ready_for_photo(ai_app, physician)
    html = _post_photo(portal, case_id, _photo_form(page(portal, case_id)), BLURRY).get_data(
        as_text=True
    )
    form = html[html.index('class="analyze-form"') :]
    [key] = _KEY.findall(form[: form.index("</form>")])
    data = {"csrf_token": csrf_token(html), "accept_low_quality": "1", "form_key": key}
    first = portal.post(f"/cases/{case_id}/analysis", data=data)
    second = portal.post(f"/cases/{case_id}/analysis", data=data)
    assert (first.status_code, second.status_code) == (303, 303)
    assert _counts(ai_app, case_id) == (1, 1)
    # A new page gives a new key: analysing again on purpose still works.
    html = page(portal, case_id)
    assert key not in html
