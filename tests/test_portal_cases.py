"""Portal pages of cases: my cases (search, filters, pages, htmx fragment), the new-case form
(inline errors, 422 re-render, redirect), the case page and its photos, error pages."""

from __future__ import annotations

import io
import re
import threading
import time
import uuid

import pytest

from app.extensions import db
from app.models import Case, User
from app.services import case_intake, cases, diagnosis, questionnaire
from tests.fixtures.cases import MELANOMA
from tests.fixtures.portal import HTMX, htmx, token_for

NO_INLINE_CODE = re.compile(r"<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=", re.IGNORECASE)


@pytest.fixture
def physician(make_user):
    return make_user(email="list@example.org", full_name="Dr. List")


@pytest.fixture
def logged_in(client, physician, portal_login):
    return portal_login(physician, client)


def new_case_form(client, **overrides):
    return {
        "csrf_token": token_for(client, "/cases/new"),
        "patient_reference": "PT-2026-0042",
        "patient_age": "54",
        "patient_sex": "female",
        "body_site": "back",
        "fitzpatrick_type": "II",
        "chief_complaint": "Pigmented lesion on the back, darker over three months.",
        **overrides,
    }


def page_text(response) -> str:
    return response.get_data(as_text=True)


# --- my cases ---------------------------------------------------------------------------------


def test_an_empty_list_invites_to_open_a_case(logged_in):
    response = logged_in.get("/cases")
    html = page_text(response)
    assert response.status_code == 200
    assert "No cases yet" in html
    assert '<a href="/cases/new" class="btn">New case</a>' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def test_the_list_shows_my_cases_only_with_words_for_status_and_urgency(
    logged_in, app, physician, make_user, make_case
):
    mine = make_case(physician, patient_reference="PT-MINE-1", body_site="upper_arm")
    make_case(make_user(), patient_reference="PT-THEIRS-1")
    with app.app_context():
        case = db.session.get(Case, mine)
        cases.set_urgency(case, "high")
        db.session.commit()
    html = page_text(logged_in.get("/cases"))
    assert "PT-MINE-1" in html
    assert "PT-THEIRS-1" not in html
    assert "Upper arm, shoulder or axilla" in html
    assert "High urgency" in html
    assert ">Draft<" in html
    assert f'href="/cases/{mine}"' in html
    assert '<th scope="col">Physician</th>' not in html


def test_admins_see_every_case_with_its_physician(client, make_user, make_case, portal_login):
    make_case(make_user(full_name="Dr. Owner One"), patient_reference="PT-A")
    make_case(make_user(full_name="Dr. Owner Two"), patient_reference="PT-B")
    portal_login(make_user(role="admin", full_name="Ada Admin"), client)
    html = page_text(client.get("/cases"))
    assert "All cases" in html
    assert '<th scope="col">Physician</th>' in html
    assert "Dr. Owner One" in html and "Dr. Owner Two" in html


def test_search_and_filters_narrow_the_list(logged_in, app, physician, make_case):
    make_case(physician, patient_reference="PT-ALPHA")
    beta = make_case(physician, patient_reference="PT-BETA")
    with app.app_context():
        cases.mark_awaiting_image(actor=db.session.get(User, physician.id), case_id=beta)
    html = page_text(logged_in.get("/cases?q=alp"))
    assert "PT-ALPHA" in html and "PT-BETA" not in html
    html = page_text(logged_in.get("/cases?status=awaiting_image"))
    assert "PT-BETA" in html and "PT-ALPHA" not in html
    html = page_text(logged_in.get("/cases?q=nobody"))
    assert "No matching cases" in html
    assert "Show all cases" in html


def test_unknown_filter_values_are_ignored_not_an_error(logged_in, physician, make_case):
    make_case(physician, patient_reference="PT-ANY")
    response = logged_in.get("/cases?status=bogus&urgency=extreme&page=abc")
    assert response.status_code == 200
    assert "PT-ANY" in page_text(response)
    assert logged_in.get("/cases?page=999999999999").status_code == 200


def test_htmx_gets_the_table_fragment_only(logged_in, physician, make_case):
    make_case(physician, patient_reference="PT-FRAG")
    response = logged_in.get("/cases?q=FRAG", headers=htmx("case-results"))
    html = page_text(response)
    assert response.status_code == 200
    assert "PT-FRAG" in html
    assert "<html" not in html and "<nav" not in html.split("<table")[0]
    assert "HX-Request" in response.headers["Vary"]
    # An htmx request aimed elsewhere (or a history restore) gets the whole page.
    assert "<html" in page_text(logged_in.get("/", headers=htmx("somewhere-else")))
    restore = {**HTMX, "HX-History-Restore-Request": "true", "HX-Target": "case-results"}
    assert "<html" in page_text(logged_in.get("/", headers=restore))


def test_the_filters_are_live_htmx_with_history_and_a_plain_get_without(logged_in):
    html = page_text(logged_in.get("/cases"))
    assert 'method="get" action="/cases"' in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'hx-target="#case-results"' in html
    assert 'hx-push-url="true"' in html
    assert "no-js-only" in html  # the Apply button for browsers without JavaScript


def test_pages_of_twenty_with_links_that_keep_the_filters(logged_in, physician, make_case):
    for number in range(23):
        make_case(physician, patient_reference=f"PT-PAGE-{number:02d}")
    first = page_text(logged_in.get("/cases?q=PAGE"))
    assert first.count("PT-PAGE-") == 20
    assert "page 1 of 2" in first
    assert 'href="/cases?q=PAGE&amp;page=2" rel="next"' in first
    second = page_text(logged_in.get("/cases?q=PAGE&page=2"))
    assert second.count("PT-PAGE-") == 3
    assert "PT-PAGE-00" in second  # oldest last
    assert 'rel="prev"' in second
    assert "No cases on this page" in page_text(logged_in.get("/cases?q=PAGE&page=7"))


# --- new case -----------------------------------------------------------------------------------


def test_the_new_case_form_labels_every_field(logged_in):
    html = page_text(logged_in.get("/cases/new"))
    for field in (
        "patient_reference",
        "patient_age",
        "patient_sex",
        "body_site",
        "fitzpatrick_type",
        "chief_complaint",
    ):
        assert f'<label for="{field}">' in html, field
    assert "Pseudonymous — never a name" in html
    assert "II — usually burns, tans minimally" in html
    assert ">Lower leg or knee<" in html


def test_posting_the_form_opens_the_case_seeds_answers_and_redirects(logged_in, app, physician):
    response = logged_in.post("/cases/new", data=new_case_form(logged_in))
    assert response.status_code == 303
    case_id = uuid.UUID(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.owner_id == physician.id
        assert case.fitzpatrick_type == "II"
        assert case.anamnesis == {"age": 54, "sex": "female", "location1.primary": "back"}


def test_missing_fields_rerender_with_inline_errors_and_422(logged_in, app):
    form = new_case_form(logged_in, patient_reference="", patient_age="old", body_site="")
    response = logged_in.post("/cases/new", data=form)
    html = page_text(response)
    assert response.status_code == 422
    assert "Enter a patient reference." in html
    assert 'id="patient_age-error"' in html
    assert "Choose where the lesion is." in html
    assert 'aria-invalid="true"' in html
    assert "Pigmented lesion on the back" in html  # what was typed is kept
    with app.app_context():
        assert db.session.query(Case).count() == 0


def test_a_service_rule_is_shown_on_its_field(logged_in):
    form = new_case_form(logged_in, patient_reference="jane.doe@example.org", patient_age="130")
    response = logged_in.post("/cases/new", data=form)
    html = page_text(response)
    assert response.status_code == 422
    reference_error = html.split('id="patient_reference-error"')[1][:200]
    assert "looks like an email address" in reference_error
    assert "between 0 and 120" in html.split('id="patient_age-error"')[1][:200]


def test_htmx_posts_get_the_form_fragment_or_an_hx_redirect(logged_in):
    form = new_case_form(logged_in, chief_complaint="")
    response = logged_in.post("/cases/new", data=form, headers=htmx("new-case"))
    assert response.status_code == 422
    assert "<html" not in page_text(response)
    assert "Describe the chief complaint" in page_text(response)
    assert "HX-Request" in response.headers["Vary"]
    response = logged_in.post("/cases/new", data=new_case_form(logged_in), headers=htmx("new-case"))
    assert response.status_code == 204
    assert re.fullmatch(r"/cases/[0-9a-f-]{36}", response.headers["HX-Redirect"])


def form_key_of(client) -> str:
    match = re.search(r'name="form_key"[^>]*value="([^"]+)"', page_text(client.get("/cases/new")))
    assert match, "the new-case form carries no form key"
    return match.group(1)


def test_a_double_submit_of_the_form_opens_one_case(logged_in, app):
    form = new_case_form(logged_in, form_key=form_key_of(logged_in))
    first = logged_in.post("/cases/new", data=form)
    again = logged_in.post("/cases/new", data=form)  # the second click, or a reload of the post
    over_htmx = logged_in.post("/cases/new", data=form, headers=htmx("new-case"))
    assert first.status_code == again.status_code == 303
    assert (
        first.headers["Location"] == again.headers["Location"] == over_htmx.headers["HX-Redirect"]
    )
    with app.app_context():
        assert db.session.query(Case).count() == 1
    # A fresh form has a fresh key: the same patient facts open a second case.
    logged_in.post("/cases/new", data=new_case_form(logged_in, form_key=form_key_of(logged_in)))
    with app.app_context():
        assert db.session.query(Case).count() == 2


def test_a_repeat_waits_for_the_first_submit_still_running(logged_in, app, physician):
    """The second post of a double click arrives while the first is still opening the case:
    it waits, then leads to the same case."""
    key = form_key_of(logged_in)
    form = new_case_form(logged_in, form_key=key)
    fields = {
        "patient_reference": "PT-2026-0042",
        "patient_age": 54,
        "patient_sex": "female",
        "body_site": "back",
        "fitzpatrick_type": "II",
        "chief_complaint": form["chief_complaint"],
    }
    fingerprint = diagnosis.request_fingerprint(diagnosis.canonical_json(fields))
    with app.app_context():  # the first post has claimed the key and is still running
        actor = db.session.get(User, physician.id)
        claimed = diagnosis.claim_idempotency_key(
            actor=actor, key=case_intake.KEY_PREFIX + key, fingerprint=fingerprint
        )
        assert claimed is None
    answers = {}

    def second_click() -> None:
        answers["response"] = logged_in.post("/cases/new", data=form)

    thread = threading.Thread(target=second_click)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()  # waiting for the first post
    with app.app_context():  # the first post finishes: it opened this case
        actor = db.session.get(User, physician.id)
        case = questionnaire.open_case(actor=actor, **fields)
        case_id = case.id
        diagnosis.finish_idempotency_key(
            actor=actor,
            key=case_intake.KEY_PREFIX + key,
            status_code=201,
            body={"case_id": str(case_id)},
        )
    thread.join(timeout=30)
    assert answers["response"].status_code == 303
    assert answers["response"].headers["Location"] == f"/cases/{case_id}"
    with app.app_context():
        assert db.session.query(Case).count() == 1


def test_a_form_edited_after_it_opened_a_case_says_so_and_gets_a_new_key(logged_in, app):
    key = form_key_of(logged_in)
    logged_in.post("/cases/new", data=new_case_form(logged_in, form_key=key))
    edited = new_case_form(logged_in, form_key=key, patient_age="55")  # back button, edit, submit
    response = logged_in.post("/cases/new", data=edited)
    html = page_text(response)
    assert response.status_code == 422
    assert "This form already opened case PT-2026-0042" in html
    new_key = re.search(r'name="form_key"[^>]*value="([^"]+)"', html).group(1)
    assert new_key != key
    response = logged_in.post("/cases/new", data={**edited, "form_key": new_key})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.query(Case).count() == 2


def test_a_failed_submit_leaves_the_key_free(logged_in, app):
    key = form_key_of(logged_in)
    bad = logged_in.post(
        "/cases/new", data=new_case_form(logged_in, form_key=key, patient_age="130")
    )
    assert bad.status_code == 422
    good = logged_in.post("/cases/new", data=new_case_form(logged_in, form_key=key))
    assert good.status_code == 303
    with app.app_context():
        assert db.session.query(Case).count() == 1


# --- the case page ----------------------------------------------------------------------------


def test_another_physicians_case_is_a_404_page(logged_in, make_user, make_case):
    theirs = make_case(make_user())
    for path in (f"/cases/{theirs}", f"/cases/{theirs}/report"):
        response = logged_in.get(path)
        html = page_text(response)
        assert response.status_code == 404, path
        assert "Not found" in html
        assert "not one of your cases" in html
        assert "<html" in html
    response = logged_in.get(f"/cases/{theirs}", headers=htmx("case"))
    assert response.status_code == 404
    assert "<html" not in page_text(response)


def test_an_unknown_address_is_a_404_page_and_a_bad_id_too(logged_in):
    assert logged_in.get("/no/such/page").status_code == 404
    assert logged_in.get("/cases/not-a-uuid").status_code == 404
    assert logged_in.get(f"/cases/{uuid.uuid4()}").status_code == 404


def test_admins_may_open_any_case(client, make_user, make_case, portal_login, ai_app):
    owner = make_user(full_name="Dr. Owner")
    case_id = make_case(owner, patient_reference="PT-ADMIN-VIEW")
    admin_client = portal_login(make_user(role="admin"), ai_app.test_client())
    html = page_text(admin_client.get(f"/cases/{case_id}"))
    assert "PT-ADMIN-VIEW" in html
    assert "by Dr. Owner" in html


def test_the_case_photo_is_streamed_by_the_portal(logged_in, app, physician, make_case):
    case_id = make_case(physician)
    with app.app_context():
        image = diagnosis.case_images.add_image(
            actor=db.session.get(User, physician.id),
            case_id=case_id,
            stream=io.BytesIO(MELANOMA.read_bytes()),
        )
        image_id, size = image.id, image.size_bytes
    response = logged_in.get(f"/cases/{case_id}/images/{image_id}")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert len(response.get_data()) == size
    assert response.headers["Cache-Control"] == "private, no-store"
    assert logged_in.get(f"/cases/{case_id}/images/{uuid.uuid4()}").status_code == 404


def test_the_case_photo_from_s3_is_streamed_too(s3_app, make_user, make_case, portal_login):
    physician = make_user()
    case_id = make_case(physician)
    with s3_app.app_context():
        image = diagnosis.case_images.add_image(
            actor=db.session.get(User, physician.id),
            case_id=case_id,
            stream=io.BytesIO(MELANOMA.read_bytes()),
        )
        image_id, size = image.id, image.size_bytes
    client = portal_login(physician, s3_app.test_client())
    response = client.get(f"/cases/{case_id}/images/{image_id}")
    assert response.status_code == 200  # bytes, not a redirect to S3 (CSP: img-src 'self')
    assert len(response.get_data()) == size


def test_another_physicians_photo_is_404(logged_in, app, make_user, make_case):
    other = make_user()
    case_id = make_case(other)
    with app.app_context():
        image = diagnosis.case_images.add_image(
            actor=db.session.get(User, other.id),
            case_id=case_id,
            stream=io.BytesIO(MELANOMA.read_bytes()),
        )
        image_id = image.id
    assert logged_in.get(f"/cases/{case_id}/images/{image_id}").status_code == 404


# --- every page: CSP, vendored assets, no inline code --------------------------------------------


def test_pages_carry_the_strict_csp_and_no_inline_code(logged_in, physician, make_case):
    case_id = make_case(physician)
    for path in ("/", "/cases/new", f"/cases/{case_id}/report", "/login", "/nothing-here"):
        response = logged_in.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        html = page_text(response)
        assert not NO_INLINE_CODE.search(html), (path, NO_INLINE_CODE.search(html))
        assert "http://" not in html.replace("http://localhost", "")
        assert "https://" not in html


def test_vendored_assets_are_served_with_pinned_names(logged_in):
    html = page_text(logged_in.get("/cases"))
    for asset in ("css/pico-2.1.1.min.css", "css/app.css", "js/htmx-2.0.11.min.js", "js/app.js"):
        assert f"/static/{asset}" in html
        with logged_in.get(f"/static/{asset}") as response:  # a file response: close it
            assert response.status_code == 200


def test_403_and_500_are_readable_pages_without_a_traceback(make_app, app, physician, portal_login):
    from app.errors import PermissionDenied

    extra = make_app()

    @extra.get("/portal-test/forbidden")
    def forbidden():  # type: ignore[no-untyped-def]
        """Raise what a service raises for an action the user may not take."""
        raise PermissionDenied()

    @extra.get("/portal-test/broken")
    def broken():  # type: ignore[no-untyped-def]
        """Fail as an unexpected bug would."""
        raise RuntimeError("secret internals")

    client = portal_login(physician, extra.test_client())
    response = client.get("/portal-test/forbidden")
    assert response.status_code == 403
    assert "Not allowed" in page_text(response)
    response = client.get("/portal-test/broken")
    html = page_text(response)
    assert response.status_code == 500
    assert "Something went wrong" in html
    assert "What you saved before this is kept." in html
    assert "secret internals" not in html and "Traceback" not in html
    response = client.get("/portal-test/broken", headers=htmx("case"))
    assert response.status_code == 500
    assert "<html" not in page_text(response)
    assert app is not None


def test_nul_characters_get_a_readable_422_and_open_no_case(logged_in, app):
    response = logged_in.post("/cases/new", data=new_case_form(logged_in, chief_complaint="a\x00b"))
    assert response.status_code == 422
    assert "NUL characters" in page_text(response)
    assert "Traceback" not in page_text(response)
    response = logged_in.get("/cases?q=a%00b")
    assert response.status_code == 422
    assert "NUL characters" in page_text(response)
    with app.app_context():
        assert db.session.query(Case).count() == 0


def test_a_database_failure_still_gets_the_readable_500_page(
    make_app, app, physician, portal_login
):
    from flask_login import current_user

    extra = make_app()

    @extra.get("/portal-test/db-broken")
    def db_broken():  # type: ignore[no-untyped-def]
        """Fail at the database, leaving the session's transaction rolled back."""
        user = db.session.get(User, current_user.id)
        user.full_name = "a\x00b"  # PostgreSQL refuses NUL in text: the flush fails
        db.session.flush()

    client = portal_login(physician, extra.test_client())
    response = client.get("/portal-test/db-broken")
    assert response.status_code == 500
    html = page_text(response)
    assert "Something went wrong" in html and "Dr. List" in html
    assert "Traceback" not in html


def test_the_search_field_stops_at_the_longest_patient_reference(logged_in):
    html = logged_in.get("/cases").get_data(as_text=True)
    assert re.search(r'<input type="search" id="q" name="q"[^>]* maxlength="64"', html)
