"""Portal pages of patients and lesions (issue #17): the lesion page with its timeline, body map
and status, a new visit, the comparison of two visits, the patient page; with JavaScript off
(plain posts and redirects, the Flask test client) and owner-or-admin as for cases.

The visits are analysed by the reference AI over real HTTP (``tests/lesion_visits.py``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, Lesion
from tests.fixtures.portal import csrf_token, htmx
from tests.lesion_visits import make_lesion, seen_three_times


@pytest.fixture
def doctor(make_user: Any) -> Any:
    return make_user(email="dr.lesions@example.org", full_name="Dr. Lena Haut")


@pytest.fixture
def seen(ai_app, ai_client, api_headers, doctor, portal_login) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The demo-like lesion seen three times, and ``ai_client`` logged in as its physician."""
    lesion_id, case_ids = seen_three_times(ai_app, ai_client, api_headers(doctor), doctor)
    portal_login(doctor, ai_client)
    return lesion_id, case_ids


@pytest.fixture
def own_lesion(app, client, doctor, portal_login) -> tuple[uuid.UUID, uuid.UUID]:
    """A patient and a lesion (no visit yet) of ``doctor``, logged in on ``client``."""
    ids = make_lesion(app, doctor)
    portal_login(doctor, client)
    return ids


def _page(client: Any, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    return response.get_data(as_text=True)


def _text(html: str) -> str:
    """The page's words, tags removed and spaces squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _lesion(app: Any, lesion_id: uuid.UUID) -> Lesion:
    with app.app_context():
        lesion = db.session.get(Lesion, lesion_id)
        db.session.expunge(lesion)
        return lesion


# --- the lesion page ------------------------------------------------------------------------


def test_the_lesion_page_shows_every_visit_in_a_timeline(ai_client, seen):
    lesion_id, case_ids = seen
    html = _page(ai_client, f"/lesions/{lesion_id}")
    text = _text(html)
    assert "left scapula, naevus" in text and "Monitoring" in text
    visits = re.findall(r'<li class="visit" id="visit-(\d)">(.*?)</li>', html, re.S)
    assert [number for number, _ in visits] == ["1", "2", "3"]
    for (_, item), case_id in zip(visits, case_ids, strict=True):
        assert f'href="/cases/{case_id}"' in item  # the visit's case
        # its photo: a thumbnail, linked to the photo at full size
        assert re.search(rf'<img src="/cases/{case_id}/images/[0-9a-f-]+/thumbnail"', item)
        assert re.search(rf'<a href="/cases/{case_id}/images/[0-9a-f-]+" class="visit-thumb', item)
        assert "<time datetime=" in item  # its date
        assert "urgency ·" in _text(item)  # the headline action
        assert re.search(r"AI's top diagnosis: \S.* \([\d.]+ %\)", _text(item))
        assert "Final diagnosis: not reviewed yet" in _text(item)
    # the third visit is the worrying one: referred on the 2-week pathway
    assert "Refer on the 2-week suspected-cancer pathway" in _text(visits[2][1])
    # compare: the first and the last by default, and from each earlier visit
    assert f'href="/lesions/{lesion_id}/compare"' in html
    assert f"from={case_ids[0]}&amp;to={case_ids[2]}" in html
    assert re.search(rf'<option selected value="{case_ids[0]}">Visit 1', html)
    assert re.search(rf'<option selected value="{case_ids[2]}">Visit 3', html)


def test_a_reviewed_visit_shows_the_physicians_final_diagnosis(ai_app, ai_client, seen):
    lesion_id, case_ids = seen
    token = csrf_token(_page(ai_client, f"/cases/{case_ids[0]}"))
    response = ai_client.post(
        f"/cases/{case_ids[0]}/review",
        data={
            "csrf_token": token,
            "final_diagnosis": "Benign naevus",
            "icd10": "D22.5",
            "agreement": "top1",
            "notes": "",
        },
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    text = _text(_page(ai_client, f"/lesions/{lesion_id}"))
    assert "Final diagnosis: Benign naevus (D22.5)" in text


def test_the_case_page_and_lists_link_a_visit_to_its_lesion_and_patient(ai_client, seen):
    lesion_id, case_ids = seen
    html = _page(ai_client, f"/cases/{case_ids[1]}")
    assert "Visit 2 of 3 of the lesion" in _text(html)
    assert f'href="/lesions/{lesion_id}"' in html
    assert f"compare?from={case_ids[0]}&amp;to={case_ids[1]}" in html  # with the visit before
    assert "compare?" not in _page(ai_client, f"/cases/{case_ids[0]}")  # the first has none
    patient_link = re.search(r'href="(/patients/[0-9a-f-]+)"', html)
    assert patient_link
    patient_page = _page(ai_client, patient_link.group(1))
    assert "Patient PT-LESION-1" in _text(patient_page)
    assert f'href="/lesions/{lesion_id}"' in patient_page and "3 visits" in _text(patient_page)
    # the lesion as a numbered dot on the patient's body map, linking to it
    assert 'aria-label="Lesion 1: left scapula, naevus, on the back"' in patient_page
    listing = _page(ai_client, "/cases")
    assert listing.count(f'href="/lesions/{lesion_id}"') == 3  # each visit names its lesion
    assert "visit 3 of 3" in _text(listing)
    worklist = _text(_page(ai_client, "/"))  # three analysed, unreviewed visits
    for number in (1, 2, 3):
        assert f"Visit {number} of 3 of left scapula, naevus" in worklist
    patients = _page(ai_client, "/patients")
    assert patient_link.group(1) in patients and "PT-LESION-1" in patients


def test_the_status_and_label_change_with_a_plain_form(app, client, doctor, portal_login):
    _, lesion_id = make_lesion(app, doctor)
    portal_login(doctor, client)
    html = _page(client, f"/lesions/{lesion_id}")
    data = {
        "csrf_token": csrf_token(html),
        "label": "left scapula, 8 mm naevus",
        "body_site": "back",
        "status": "excised",
    }
    response = client.post(f"/lesions/{lesion_id}", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/lesions/{lesion_id}"
    lesion = _lesion(app, lesion_id)
    assert (lesion.label, lesion.status) == ("left scapula, 8 mm naevus", "excised")
    assert "Excised" in _text(_page(client, f"/lesions/{lesion_id}"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": "   "}, "Give the lesion a label"),
        ({"body_site": ""}, "Choose where the lesion is."),
        ({"status": "forgotten"}, "monitoring"),  # the service names the allowed values
        ({"label": "x" * 300}, "120"),
    ],
)
def test_bad_lesion_details_get_an_inline_message(app, client, own_lesion, changes, message):
    _, lesion_id = own_lesion
    html = _page(client, f"/lesions/{lesion_id}")
    data = {
        "csrf_token": csrf_token(html),
        "label": "naevus",
        "body_site": "back",
        "status": "monitoring",
        **changes,
    }
    response = client.post(f"/lesions/{lesion_id}", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'class="field-error"' in page and message in page
    assert "<html" in page  # the whole page, without JavaScript
    fragment = client.post(f"/lesions/{lesion_id}", data=data, headers=htmx("lesion-details"))
    assert fragment.status_code == 422 and "<html" not in fragment.get_data(as_text=True)
    assert _lesion(app, lesion_id).label == "left scapula, naevus"  # nothing saved


def test_a_click_on_the_body_map_places_the_dot_and_can_remove_it(
    app, client, doctor, portal_login
):
    _, lesion_id = make_lesion(app, doctor)
    portal_login(doctor, client)
    token = csrf_token(_page(client, f"/lesions/{lesion_id}"))
    # the image input's own click coordinates (JavaScript off), on the front's chest
    response = client.post(
        f"/lesions/{lesion_id}/map", data={"csrf_token": token, "map.x": "75", "map.y": "100"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/lesions/{lesion_id}#body-map"
    lesion = _lesion(app, lesion_id)
    assert (lesion.map_view, lesion.map_x, lesion.map_y) == ("front", 0.5, 0.3333)
    html = _page(client, f"/lesions/{lesion_id}")
    assert '<circle r="7" cx="75.0" cy="100.0"' in html
    assert "Placed on the <strong>front</strong>" in html
    # beside the figure: an inline message, nothing changed
    response = client.post(
        f"/lesions/{lesion_id}/map", data={"csrf_token": token, "map.x": "5", "map.y": "5"}
    )
    assert response.status_code == 422
    assert "not on the figure" in response.get_data(as_text=True)
    assert _lesion(app, lesion_id).map_view == "front"
    # htmx: the map region comes back with the dot moved to the back
    response = client.post(
        f"/lesions/{lesion_id}/map",
        data={"csrf_token": token, "map.x": "225", "map.y": "60"},
        headers=htmx("body-map"),
    )
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    assert "Placed on the <strong>back</strong>" in response.get_data(as_text=True)
    response = client.post(f"/lesions/{lesion_id}/map", data={"csrf_token": token, "clear": "1"})
    assert response.status_code == 303
    assert _lesion(app, lesion_id).map_view is None
    assert "Not placed yet" in _page(client, f"/lesions/{lesion_id}")


def test_new_visit_starts_a_case_of_the_lesion_with_the_questionnaire(ai_app, ai_client, seen):
    lesion_id, case_ids = seen
    token = csrf_token(_page(ai_client, f"/lesions/{lesion_id}"))
    response = ai_client.post(f"/lesions/{lesion_id}/visits", data={"csrf_token": token})
    assert response.status_code == 303
    new_id = uuid.UUID(response.headers["Location"].rsplit("/", 1)[1])
    with ai_app.app_context():
        case = db.session.get(Case, new_id)
        assert case.lesion_id == lesion_id
        # what was carried over is answered already; the rest is asked again
        assert set(case.anamnesis) == {"age", "sex", "location1.primary"}
        assert (case.patient_sex, case.body_site, case.patient_reference) == (
            "female",
            "back",
            "PT-LESION-1",
        )
    html = _page(ai_client, response.headers["Location"])
    text = _text(html)
    assert "Visit 4 of 4 of the lesion" in text and "carried over" in text
    assert 'id="questionnaire"' in html  # the questionnaire is asked again
    for carried in ("How old is the patient?", "What is the patient's sex?", "Where on the body"):
        assert carried not in text, carried  # but not what was carried over
    assert "Visit 4" in _text(_page(ai_client, f"/lesions/{lesion_id}"))


def test_new_visit_posted_twice_without_javascript_opens_one_visit(ai_app, ai_client, seen):
    """A double click on "New visit" with JavaScript off (or a reload of the post) sends the same
    form twice: both lead to the one visit it opened; the form shown again opens another."""
    lesion_id, case_ids = seen
    html = _page(ai_client, f"/lesions/{lesion_id}")
    key = re.search(r'name="form_key" value="([0-9a-f]{32})"', html).group(1)
    form = {"csrf_token": csrf_token(html), "form_key": key}
    first = ai_client.post(f"/lesions/{lesion_id}/visits", data=form)
    again = ai_client.post(f"/lesions/{lesion_id}/visits", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    with ai_app.app_context():
        visits_now = db.session.scalars(select(Case.id).where(Case.lesion_id == lesion_id)).all()
    assert len(visits_now) == len(case_ids) + 1

    html = _page(ai_client, f"/lesions/{lesion_id}")
    fresh = re.search(r'name="form_key" value="([0-9a-f]{32})"', html).group(1)
    assert fresh != key
    other = ai_client.post(
        f"/lesions/{lesion_id}/visits", data={"csrf_token": csrf_token(html), "form_key": fresh}
    )
    assert other.headers["Location"] != first.headers["Location"]


def test_another_physicians_patient_and_lesion_are_not_found(
    app, client, doctor, make_user, portal_login
):
    patient_id, lesion_id = make_lesion(app, doctor)
    portal_login(make_user(email="dr.other@example.org"), client)
    for path in (
        f"/lesions/{lesion_id}",
        f"/patients/{patient_id}",
        f"/lesions/{lesion_id}/compare",
    ):
        assert client.get(path).status_code == 404, path
    token = csrf_token(_page(client, "/patients"))
    for path in (
        f"/lesions/{lesion_id}/visits",
        f"/lesions/{lesion_id}/map",
        f"/lesions/{lesion_id}",
    ):
        assert client.post(path, data={"csrf_token": token, "clear": "1"}).status_code == 404
    assert "PT-LESION-1" not in _page(client, "/patients")


@pytest.mark.parametrize("odd", ["²", "１", "99999999999999999999999", "-1", "1e3"])
def test_odd_numbers_in_the_page_and_slider_queries_are_ignored(client, own_lesion, odd):
    """``"²".isdigit()`` is True but ``int("²")`` raises: a superscript or full-width digit in
    ``?page=`` or ``?reveal=`` shows the page with its default, not a 500."""
    _, lesion_id = own_lesion
    assert "PT-LESION-1" in _page(client, f"/patients?page={odd}")
    html = _page(client, f"/lesions/{lesion_id}/compare?reveal={odd}", 422)  # no visit yet
    assert "comparing takes two visits" in html


def test_a_lesion_is_added_on_the_patient_page(app, client, doctor, portal_login):
    patient_id, _ = make_lesion(app, doctor)
    portal_login(doctor, client)
    token = csrf_token(_page(client, f"/patients/{patient_id}"))
    bad = client.post(
        f"/patients/{patient_id}/lesions",
        data={"csrf_token": token, "label": "", "body_site": "chest"},
    )
    assert bad.status_code == 422 and "Give the lesion a label" in bad.get_data(as_text=True)
    response = client.post(
        f"/patients/{patient_id}/lesions",
        data={"csrf_token": token, "label": "sternum, pink papule", "body_site": "chest"},
    )
    assert response.status_code == 303
    html = _page(client, response.headers["Location"])
    assert "sternum, pink papule" in html and "No visit of this lesion yet" in _text(html)
    assert "sternum, pink papule" in _page(client, f"/patients/{patient_id}")


# --- comparing two visits ---------------------------------------------------------------------


def test_two_visits_side_by_side_with_the_slider_and_the_change_in_words(ai_client, seen):
    lesion_id, case_ids = seen
    html = _page(ai_client, f"/lesions/{lesion_id}/compare")  # the first and the last
    text = _text(html)
    pair = re.search(r'<div class="photo-pair">(.*?)</section>', html, re.S).group(1)
    photos = re.findall(
        r'<a href="(/cases/[^"]+/images/[^"]+)" class="pair-box photo-zoom" data-viewer', pair
    )
    assert [p.split("/")[2] for p in photos] == [str(case_ids[0]), str(case_ids[2])]
    overlay = re.search(r'<div class="overlay" data-overlay>(.*?)</div>', html, re.S).group(1)
    assert overlay.count("<img") == 2 and "overlay-top reveal-50" in overlay
    assert re.search(
        r'<input type="range" id="reveal" name="reveal" min="0" max="100" step="5" value="50"', html
    )
    assert "days between visit 1 and visit 3" in text
    assert "5 → 9 mm" in text  # the diameter, in words
    assert re.search(r"[\d.]+ % → [\d.]+ %", text)  # a probability that changed
    # without JavaScript the slider's form moves the line
    moved = _page(
        ai_client, f"/lesions/{lesion_id}/compare?from={case_ids[0]}&to={case_ids[2]}&reveal=80"
    )
    assert "overlay-top reveal-80" in moved and 'value="80"' in moved
    # any two visits
    html = _page(ai_client, f"/lesions/{lesion_id}/compare?from={case_ids[1]}&to={case_ids[2]}")
    assert "6 → 9 mm" in _text(html)


@pytest.mark.parametrize(
    "query",
    ["from={a}&to={a}", "from=nonsense&to={b}", "from={a}&to={other}", "from={a}&to={b}&reveal=x"],
)
def test_bad_visits_to_compare_get_an_inline_message(ai_client, seen, query):
    lesion_id, case_ids = seen
    path = f"/lesions/{lesion_id}/compare?" + query.format(
        a=case_ids[0], b=case_ids[2], other=uuid.uuid4()
    )
    response = ai_client.get(path)
    html = response.get_data(as_text=True)
    if "reveal=x" in query:  # a bad slider position is just the middle
        assert response.status_code == 200 and "reveal-50" in html
        return
    assert response.status_code == 422, html[:500]
    assert 'class="flash flash-error" id="compare-problem" role="alert"' in html
    assert "Compare visits" in html and "photo-pair" not in html


# --- the model changed, or the lesion did? (point 3) ------------------------------------------


def _two_models(ai_app, ai_client, older_ai_app, doctor, headers) -> tuple[uuid.UUID, list]:
    """A lesion whose first visit the older model analysed and whose second the current one."""
    from app.models import User
    from app.services.lesions import visits
    from tests.lesion_visits import VISITS, diagnose

    older = older_ai_app.test_client()
    lesion_id, (first,) = seen_three_times(older_ai_app, older, headers, doctor, count=1)
    with ai_app.app_context():
        actor = db.session.get(User, doctor.id)
        second = visits.new_visit(actor=actor, lesion_id=lesion_id).id
        db.session.remove()
    diagnose(ai_client, headers, second, *VISITS[2])
    return lesion_id, [first, second]


@pytest.fixture
def two_models(ai_app, ai_client, older_ai_app, doctor, api_headers, portal_login):  # noqa: PLR0917
    """:func:`_two_models`, with ``ai_client`` logged in as the physician."""
    ids = _two_models(ai_app, ai_client, older_ai_app, doctor, api_headers(doctor))
    portal_login(doctor, ai_client)
    return ids


def test_a_model_change_offers_the_same_model_reanalysis_and_shows_both_changes(
    ai_client, two_models
):
    lesion_id, (first, second) = two_models
    path = f"/lesions/{lesion_id}/compare?from={first}&to={second}"
    html = _page(ai_client, path)
    section = _text(html[html.index('id="same-model"') :])
    assert "The model changed, or the lesion did?" in section
    assert "Visit 1 was analysed by model reference-0.9 , visit 2 by reference-1.0" in section
    assert f'action="/lesions/{lesion_id}/compare/reanalyse"' in html
    assert "Re-analyse visit 1's photo with reference-1.0" in section
    response = ai_client.post(
        f"/lesions/{lesion_id}/compare/reanalyse",
        data={"csrf_token": csrf_token(html), "from": str(first), "to": str(second)},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert response.headers["Location"].endswith(f"?from={first}&to={second}#same-model")
    html = _page(ai_client, path)
    section = _text(html[html.index('id="same-model"') :])
    share = r"[<\d.]+ % → [<\d.]+ %"
    lead = rf"With the same model \(reference-1\.0\), \w[\w ]* {share}\."
    assert re.search(lead, section), section
    alone = r"The model change alone \(reference-0\.9 → reference-1\.0, the earlier photo"
    assert re.search(alone, section)
    assert "As analysed then" in section and "With the same model" in section
    columns = re.findall(r'<div class="delta-col[^"]*">(.*?)</table>', html, re.S)
    assert len(columns) == 2  # the two changes side by side
    assert "reference-0.9</code> → <code>reference-1.0" in columns[0]
    assert "reference-1.0</code> → <code>reference-1.0" in columns[1]
    assert "/compare/reanalyse" not in html  # done: not offered again
    # the earlier visit's own record is what the physician saw then
    timeline = _page(ai_client, f"/lesions/{lesion_id}")
    assert timeline.count("reference-0.9") == 1


def test_a_reanalysis_that_cannot_help_gets_an_inline_message(ai_client, seen):
    lesion_id, case_ids = seen  # every visit analysed by the same model
    html = _page(ai_client, f"/lesions/{lesion_id}/compare")
    assert 'id="same-model"' not in html  # nothing to offer
    response = ai_client.post(
        f"/lesions/{lesion_id}/compare/reanalyse",
        data={"csrf_token": csrf_token(html), "from": str(case_ids[0]), "to": str(case_ids[2])},
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert 'class="flash flash-error" role="alert"' in page and "same model" in page
    assert "photo-pair" in page  # the comparison stays on screen
    bad = ai_client.post(
        f"/lesions/{lesion_id}/compare/reanalyse",
        data={"csrf_token": csrf_token(html), "from": "x", "to": str(case_ids[2])},
    )
    assert bad.status_code == 422 and "Choose two visits of this lesion." in bad.get_data(
        as_text=True
    )


def test_the_ai_down_during_a_reanalysis_changes_nothing(  # noqa: PLR0917 - fixtures
    ai_app, two_models, make_app, closed_url, doctor, portal_login
):
    from sqlalchemy import func, select

    from app.models import Reanalysis

    lesion_id, (first, second) = two_models
    down = portal_login(doctor, make_app(AI_SERVICE_URL=closed_url).test_client())
    html = _page(down, f"/lesions/{lesion_id}/compare?from={first}&to={second}")
    response = down.post(
        f"/lesions/{lesion_id}/compare/reanalyse",
        data={"csrf_token": csrf_token(html), "from": str(first), "to": str(second)},
    )
    assert response.status_code in (502, 503, 504)
    page = _text(response.get_data(as_text=True))
    assert "could not re-analyse the earlier photo just now. Nothing was changed" in page
    assert "Re-analyse visit 1's photo with reference-1.0" in page  # still offered
    with ai_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reanalysis)) == 0
        db.session.remove()


def test_a_visit_without_photo_or_analysis_is_compared_by_what_it_has(ai_client, seen):
    lesion_id, case_ids = seen
    token = csrf_token(_page(ai_client, f"/lesions/{lesion_id}"))
    fresh = ai_client.post(f"/lesions/{lesion_id}/visits", data={"csrf_token": token})
    new_id = fresh.headers["Location"].rsplit("/", 1)[1]  # visit 4: no photo, no analysis yet
    html = _page(ai_client, f"/lesions/{lesion_id}/compare?from={case_ids[2]}&to={new_id}")
    text = _text(html)
    assert "No photo at this visit" in text and 'id="overlay"' not in html
    assert "Visit 4 has no completed analysis, so only the answers can be compared." in text
    assert "Both at full size" not in text  # one photo only: each opens on its own
    timeline = _text(_page(ai_client, f"/lesions/{lesion_id}"))
    assert "Visit 4" in timeline and "Not analysed yet." in timeline and "No photo" in timeline


def test_a_lesion_without_two_visits_has_nothing_to_compare(client, own_lesion):
    _, lesion_id = own_lesion
    html = _page(client, f"/lesions/{lesion_id}")
    assert "/compare" not in html  # no compare link or picker
    response = client.get(f"/lesions/{lesion_id}/compare")
    assert response.status_code == 422
    assert "This lesion has no visit yet: comparing takes two visits" in _text(
        response.get_data(as_text=True)
    )


def test_a_change_of_less_than_one_point_is_not_shown_as_plus_or_minus_zero(app):
    """The comparison table's change column: 99.4 % → 99.6 % is "+0.2" (not a red "+0"),
    0.4 % → 0.3 % is "−0.1" (not "−0"), and no change at all is "0", uncoloured."""
    from flask import render_template

    from app.services.lesions.shapes import ProbabilityChange

    rows = [
        ProbabilityChange("Melanoma", "C43.9", 0.994, 0.996, 0.002),
        ProbabilityChange("Melanocytic nevus", "D22.9", 0.004, 0.003, -0.001),
        ProbabilityChange("Dermatofibroma", "D23.9", 0.002, 0.002, 0.0),
        ProbabilityChange("Seborrheic keratosis", "L82.1", 0.13, 0.003, -0.127),
    ]
    delta = type(
        "Delta",
        (),
        {"sentences": [], "probabilities": rows, "red_flags_appeared": [], "red_flags_gone": []},
    )()
    with app.test_request_context():
        html = render_template("lesions/_delta.html", delta=delta)
    cells = re.findall(r'data-label="Change">(.*?)</td>', html)
    assert [_text(cell).strip() for cell in cells] == ["+0.2", "−0.1", "0", "−13"]
    assert 'class="delta-up">+0.2' in cells[0] and 'class="delta-down">−0.1' in cells[1]
    assert "delta-" not in cells[2]


def test_an_unfinished_new_visit_does_not_take_the_latest_visits_place(ai_client, seen):
    """A new visit not analysed yet (no photo, no answers): "Compare the first and the latest
    visit" still puts the first and the latest *photos* side by side, the timeline's links
    compare with the latest analysed visit, and the lesion keeps that visit's urgency."""
    lesion_id, case_ids = seen
    token = csrf_token(_page(ai_client, f"/lesions/{lesion_id}"))
    assert (
        ai_client.post(f"/lesions/{lesion_id}/visits", data={"csrf_token": token}).status_code
        == 303
    )
    html = _page(ai_client, f"/lesions/{lesion_id}")
    assert "Visit 4" in _text(html)
    header = html.split('<header class="case-header lesion-header">', 1)[1].split("</header>")[0]
    assert "Refer on the 2-week suspected-cancer pathway" in _text(header)
    assert f"to={case_ids[2]}" in html and "Compare with visit 3" in _text(html)
    html = _page(ai_client, f"/lesions/{lesion_id}/compare")
    assert re.search(rf'<option selected value="{case_ids[0]}">Visit 1', html)
    assert re.search(rf'<option selected value="{case_ids[2]}">Visit 3', html)
    assert "No photo at this visit" not in html and "Diameter 5 → 9 mm" in _text(html)
