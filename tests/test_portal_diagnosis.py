"""The photo, the analysis and the review on the case page, and the printable report: with the
reference AI service over real HTTP, a closed port for "AI down" and an unreachable S3 for
"storage down". Plain posts redirect; htmx posts get the case region."""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Analysis, Case, CaseImage
from tests.conftest import free_port
from tests.fixtures.cases import BAD_IMAGES, S3_BUCKET, S3_REGION, SAMPLES
from tests.fixtures.portal import csrf_token, htmx, ready_for_photo

NEVUS = SAMPLES / "images" / "nv_ISIC_0032787.jpg"
BLURRY = BAD_IMAGES / "blurry_nv_ISIC_0026828.jpg"

#: Answers that make the reference AI raise red flags (bleeding, a changing pigmented lesion).
WORRYING = {
    "morphology": "pigmented spot or mole",
    "changed_recently": True,
    "change.features": ["size", "colour"],
    "bleeding": True,
}


@pytest.fixture
def physician(make_user):
    return make_user(email="dx@example.org", full_name="Dr. Dx")


@pytest.fixture
def client_ai(ai_app, physician, portal_login):
    return portal_login(physician, ai_app.test_client())


def page(client, case_id) -> str:
    response = client.get(f"/cases/{case_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post_photo(
    client,
    case_id,
    path: Path | None = NEVUS,
    *,
    headers=None,
    data: bytes | None = None,
    form_from=None,
):
    """Post the photo form as the case page renders it (``form_from``: the client whose page
    rendered the form, e.g. while the AI was still up)."""
    form: dict[str, Any] = {"csrf_token": csrf_token(page(client, case_id))}
    html = page(form_from or client, case_id)
    marker = 'name="question" value="'
    if marker in html:
        form["question"] = html.split(marker, 1)[1].split('"', 1)[0]
    if path is not None or data is not None:
        content = data if data is not None else path.read_bytes()
        form["photo"] = (io.BytesIO(content), path.name if path else "photo.jpg")
    return client.post(
        f"/cases/{case_id}/photo",
        data=form,
        content_type="multipart/form-data",
        headers=headers or {},
    )


def case_row(app, case_id) -> Case:
    with app.app_context():
        case = db.session.get(Case, case_id)
        db.session.expunge(case)
        return case


# --- photo → results ------------------------------------------------------------------------------


def test_a_photo_upload_records_the_camera_answer_and_shows_the_results(
    client_ai, ai_app, physician
):
    case_id = ready_for_photo(ai_app, physician, WORRYING)
    response = post_photo(client_ai, case_id)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{case_id}#results")
    case = case_row(ai_app, case_id)
    assert case.status == "analyzed"
    assert case.anamnesis["photo_taken"] is True

    html = page(client_ai, case_id)
    assert "AI results" in html
    assert "reference-1." in html  # the model version
    assert "Reference AI — not for clinical use." in html
    assert "Differential diagnosis, most probable first" in html
    assert "<progress" in html and 'max="1"' in html
    assert "<code>C43.9</code>" in html  # melanoma's ICD-10 code
    assert any(
        words in html
        for words in ("Confident", "Possible — review the highlighted shortlist", "refer to a")
    )
    # The confidence card names the leading suggestion, not only its probability.
    with ai_app.app_context():
        analysis = db.session.query(Analysis).filter_by(case_id=case_id).one()
        top = analysis.predictions[0]
    assert f"Leading suggestion: {top['disease']}, " in html
    # Red flags: coloured by urgency AND said in words, each with its rule and source.
    assert "Red flags" in html
    assert case.urgency in ("medium", "high", "emergency")
    assert f'class="panel flags-panel urgency-{case.urgency}"' in html
    assert f"{case.urgency.capitalize()} urgency" in html
    assert "Rule: " in html and "Source: " in html
    # Triage in words with its time window.
    assert "Triage" in html and "Time window" in html
    assert "Urgent dermatology referral" in html or "Physician review within" in html
    # Photo quality and the photo itself, through the portal.
    assert "Photo quality" in html and "Sharpness" in html
    with ai_app.app_context():
        image_id = db.session.query(CaseImage).filter_by(case_id=case_id).one().id
    assert f'src="/cases/{case_id}/images/{image_id}"' in html
    # The review form follows.
    assert 'action="/cases/' in html and "/review" in html
    assert 'list="differential-names"' in html


def test_the_shortlist_is_marked_in_words_not_only_colour(client_ai, ai_app, physician):
    case_id = ready_for_photo(ai_app, physician, WORRYING)
    post_photo(client_ai, case_id)
    with ai_app.app_context():
        analysis = db.session.query(Analysis).filter_by(case_id=case_id).one()
        shortlist = analysis.highlight_count or 0
    html = page(client_ai, case_id)
    assert html.count('<tr class="highlight">') == shortlist
    assert html.count("(shortlist)</span>") == shortlist


def test_htmx_upload_gets_the_case_region_with_results(client_ai, ai_app, physician):
    case_id = ready_for_photo(ai_app, physician)
    response = post_photo(client_ai, case_id, headers=htmx("case"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert "AI results" in html
    assert "HX-Request" in response.headers["Vary"]


def test_a_blurry_photo_asks_for_a_retake_and_offers_analyse_anyway(client_ai, ai_app, physician):
    case_id = ready_for_photo(ai_app, physician)
    response = post_photo(client_ai, case_id, BLURRY)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please retake the photo" in html
    assert "Image is too blurry" in html
    assert "Sharpness" in html
    assert "Analyse this photo anyway" in html
    assert 'name="accept_low_quality" value="1"' in html
    assert 'type="file"' in html  # the retake form is right there
    case = case_row(ai_app, case_id)
    assert case.status == "awaiting_image"  # the photo and the answers are kept
    # The photo is shown as a thumbnail that opens it at full size, to judge it.
    with ai_app.app_context():
        photo = f"/cases/{case_id}/images/{db.session.query(CaseImage).one().id}"
    shown = f'<a href="{photo}" class="photo-zoom thumb-link" data-viewer'
    assert shown in html and f'<img src="{photo}/thumbnail"' in html
    # Later visits still offer both.
    html = page(client_ai, case_id)
    assert "The last photo was not analysed" in html
    assert shown in html and f'<img src="{photo}/thumbnail"' in html
    # "Analyse anyway" runs the analysis, recorded as an explicit override.
    response = client_ai.post(
        f"/cases/{case_id}/analysis",
        data={"csrf_token": csrf_token(html), "accept_low_quality": "1"},
    )
    assert response.status_code == 303
    html = page(client_ai, case_id)
    assert "analysed despite low photo quality" in html
    with ai_app.app_context():
        assert db.session.query(Analysis).filter_by(case_id=case_id).one().accepted_low_quality


def test_a_rejected_photo_over_htmx_is_a_swapped_422(client_ai, ai_app, physician):
    case_id = ready_for_photo(ai_app, physician)
    response = post_photo(client_ai, case_id, BLURRY, headers=htmx("case"))
    assert response.status_code == 422
    assert "<html" not in response.get_data(as_text=True)
    assert "Please retake the photo" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The uploaded file is empty"),
        (b"this is not an image", "not a JPEG, PNG or HEIC photo"),
        ((BAD_IMAGES / "tiny_32x32_bcc_ISIC_0028059.jpg").read_bytes(), "smaller than 64 × 64"),
    ],
)
def test_an_unusable_file_is_an_inline_error(client_ai, ai_app, physician, data, message):
    case_id = ready_for_photo(ai_app, physician)
    response = post_photo(client_ai, case_id, None, data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'id="photo-error"' in html
    with ai_app.app_context():
        assert db.session.query(CaseImage).filter_by(case_id=case_id).count() == 0


def test_no_file_at_all_is_an_inline_error(client_ai, ai_app, physician):
    case_id = ready_for_photo(ai_app, physician)
    response = post_photo(client_ai, case_id, None)
    assert response.status_code == 422
    assert "Choose a photo of the lesion, or take one." in response.get_data(as_text=True)


def post_oversized_photo(make_app, ai_app, portal_login, user, case_id) -> str:
    """Post 200 KB as the photo to a gateway whose photo limit is 1 KB; return the HTML (413)."""
    small = make_app(MAX_IMAGE_BYTES=1024, AI_SERVICE_URL=ai_app.config["AI_SERVICE_URL"])
    client = portal_login(user, small.test_client())
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post(
        f"/cases/{case_id}/photo",
        data={"csrf_token": token, "photo": (io.BytesIO(b"x" * 200_000), "big.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    return response.get_data(as_text=True)


def test_an_oversized_upload_is_refused_before_its_body_is_read(
    make_app, ai_app, physician, portal_login
):
    case_id = ready_for_photo(ai_app, physician)
    html = post_oversized_photo(make_app, ai_app, portal_login, physician, case_id)
    # Not an error page: the case page again, the message under the photo field.
    assert (
        '<p class="field-error" id="photo-error" role="alert">'
        "The photo is larger than 1 KB; please choose a smaller one.</p>"
    ) in html
    assert 'name="photo"' in html
    with ai_app.app_context():
        assert db.session.query(CaseImage).filter_by(case_id=case_id).count() == 0


def test_an_oversized_upload_to_another_physicians_case_gets_the_error_page(
    make_app, ai_app, physician, make_user, portal_login
):
    case_id = ready_for_photo(ai_app, physician)
    html = post_oversized_photo(make_app, ai_app, portal_login, make_user(), case_id)
    assert "The photo is larger than 1 KB" in html
    assert 'name="photo"' not in html  # nothing of the other physician's case is shown


# --- AI or storage down ---------------------------------------------------------------------------


def test_ai_down_during_the_analysis_loses_nothing_and_offers_a_retry(
    make_app, ai_app, physician, portal_login, closed_url
):
    case_id = ready_for_photo(ai_app, physician)
    client_ai = portal_login(physician, ai_app.test_client())
    down = make_app(AI_SERVICE_URL=closed_url, AI_SERVICE_RETRIES=0)
    client = portal_login(physician, down.test_client())
    # The form was rendered while the AI was up; it goes down while the photo is sent.
    response = post_photo(client, case_id, form_from=client_ai)
    assert response.status_code == 303  # the failure is recorded; the page says what happened
    html = page(client, case_id)
    assert "The analysis could not be completed" in html
    assert "The AI service is not answering right now." in html
    assert "Nothing was lost" in html
    assert "Try the analysis again" in html
    assert "ai_service_unavailable" in html
    case = case_row(ai_app, case_id)
    assert case.status == "analysis_failed"
    assert case.anamnesis["photo_taken"] is True
    # The same retry button, once the AI is back, runs the analysis on the stored photo.
    html = page(client_ai, case_id)
    response = client_ai.post(
        f"/cases/{case_id}/analysis",
        data={"csrf_token": csrf_token(html), "accept_low_quality": ""},
        headers=htmx("case"),
    )
    assert response.status_code == 200
    assert "AI results" in response.get_data(as_text=True)
    assert case_row(ai_app, case_id).status == "analyzed"


def test_ai_down_on_a_retry_over_htmx_shows_the_failure_in_the_region(
    make_app, ai_app, physician, portal_login, closed_url
):
    case_id = ready_for_photo(ai_app, physician)
    down = make_app(AI_SERVICE_URL=closed_url, AI_SERVICE_RETRIES=0)
    client = portal_login(physician, down.test_client())
    post_photo(client, case_id)
    html = page(client, case_id)
    response = client.post(
        f"/cases/{case_id}/analysis", data={"csrf_token": csrf_token(html)}, headers=htmx("case")
    )
    assert response.status_code == 200
    assert "The analysis could not be completed" in response.get_data(as_text=True)


@pytest.mark.usefixtures("aws_credentials")
def test_storage_down_keeps_the_case_and_says_so(make_app, ai_app, physician, portal_login):
    case_id = ready_for_photo(ai_app, physician)
    down = make_app(
        AI_SERVICE_URL=ai_app.config["AI_SERVICE_URL"],
        STORAGE_BACKEND="s3",
        S3_BUCKET=S3_BUCKET,
        S3_REGION=S3_REGION,
        S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens there
    )
    client = portal_login(physician, down.test_client())
    response = post_photo(client, case_id)
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "The image storage is not answering right now. Nothing was lost" in html
    assert 'type="file"' in html  # try again right there
    case = case_row(ai_app, case_id)
    assert case.status == "awaiting_image"
    with ai_app.app_context():
        assert db.session.query(CaseImage).filter_by(case_id=case_id).count() == 0


# --- review and report ----------------------------------------------------------------------------


@pytest.fixture
def analysed(client_ai, ai_app, physician) -> uuid.UUID:
    case_id = ready_for_photo(ai_app, physician, WORRYING)
    assert post_photo(client_ai, case_id).status_code == 303
    return case_id


def review_form(client, case_id, **overrides) -> dict[str, str]:
    return {
        "csrf_token": csrf_token(page(client, case_id)),
        "final_diagnosis": "Melanocytic nevus",
        "icd10": "d22.5",
        "agreement": "differs",
        "notes": "Dermoscopy benign.\nFollow up in 12 months.",
        **overrides,
    }


def test_the_review_is_recorded_and_shown(client_ai, ai_app, analysed):
    response = client_ai.post(f"/cases/{analysed}/review", data=review_form(client_ai, analysed))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("#review")
    case = case_row(ai_app, analysed)
    assert case.status == "reviewed"
    with ai_app.app_context():
        analysis = db.session.scalars(select(Analysis).where(Analysis.case_id == analysed)).one()
        names = [entry["disease"] for entry in analysis.predictions]
        db.session.remove()
    # Picked from the differential: the agreement is derived (the form's "differs" ignored).
    derived = {0: "top1"}.get(names.index("Melanocytic nevus"), "in_differential")
    assert (case.final_diagnosis, case.final_icd10, case.ai_agreement) == (
        "Melanocytic nevus",
        "D22.5",
        derived,
    )
    html = page(client_ai, analysed)
    assert "<strong>Melanocytic nevus</strong>" in html
    assert "by Dr. Dx" in html
    assert "Open the printable report" in html
    assert "Change the review" not in html and "Reopen the case" in html  # signed
    assert ">Reviewed<" in html


def test_a_saved_review_is_confirmed_once_in_the_review_section(client_ai, ai_app, analysed):
    client_ai.post(f"/cases/{analysed}/review", data=review_form(client_ai, analysed))
    html = page(client_ai, analysed)  # the page the redirect leads to
    review = html[html.index('id="review"') :]
    assert "Review saved." in review and "data-focus" in review
    assert html.count("Review saved.") == 1  # not also among the page's flashes
    assert "Review saved." not in page(client_ai, analysed)  # shown once, not on every visit


def test_a_review_saved_over_htmx_focuses_the_confirmation_not_the_results(
    client_ai, ai_app, analysed
):
    form = review_form(client_ai, analysed)
    response = client_ai.post(f"/cases/{analysed}/review", data=form, headers=htmx("case"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html  # the region only
    assert len(re.findall(r"data-focus[\s>]", html)) == html.count('data-focus-block="start"') == 1
    assert 'class="flash flash-success review-saved"' in html
    assert "Open the printable report" in html[html.index("Review saved.") :]


def test_an_invalid_review_is_a_422_with_inline_errors(client_ai, ai_app, analysed):
    form = review_form(client_ai, analysed, final_diagnosis="", icd10="nevus")
    del form["agreement"]
    response = client_ai.post(f"/cases/{analysed}/review", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter the final diagnosis." in html
    assert case_row(ai_app, analysed).status == "analyzed"
    form = review_form(client_ai, analysed, icd10="nevus")
    response = client_ai.post(f"/cases/{analysed}/review", data=form, headers=htmx("case"))
    assert response.status_code == 422
    assert "Enter an ICD-10 code such as C43.9" in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True)


def test_a_review_before_any_analysis_is_refused(client_ai, app, physician, make_case):
    case_id = make_case(physician)
    form = {
        "csrf_token": csrf_token(client_ai.get("/").get_data(as_text=True)),
        "final_diagnosis": "Nevus",
        "agreement": "top1",
    }
    response = client_ai.post(f"/cases/{case_id}/review", data=form)
    assert response.status_code == 409
    assert "no completed analysis" in response.get_data(as_text=True)


def test_the_report_has_everything_for_the_record(client_ai, ai_app, analysed):
    client_ai.post(f"/cases/{analysed}/review", data=review_form(client_ai, analysed))
    response = client_ai.get(f"/cases/{analysed}/report")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    case = case_row(ai_app, analysed)
    assert case.patient_reference in html
    assert "Anamnesis" in html and "Bleeding" in html
    assert "reference-1." in html
    assert "Red flags" in html and "Triage" in html
    assert "Differential diagnosis" in html
    assert "Final diagnosis" in html and "Melanocytic nevus" in html
    assert html.index("Final diagnosis") < html.index("Red flags") < html.index("Anamnesis")
    assert "Dr. Dx" in html
    assert f'href="/cases/{analysed}/report.pdf"' in html
    assert '<button type="button" data-print' in html
    assert f'src="/cases/{analysed}/images/' in html
    assert "Report created" in html


def test_the_report_of_a_case_without_analysis(client_ai, physician, make_case):
    case_id = make_case(physician)
    html = client_ai.get(f"/cases/{case_id}/report").get_data(as_text=True)
    assert "Draft — no AI result yet" in html
    assert "Not yet recorded: no physician has reviewed this case." in html
    assert "Red flags" not in html


def test_the_optional_agreement_is_not_marked_required(client_ai, ai_app, analysed):
    """WTForms renders required=None as required="None", which browsers read as required: the
    review could not be sent without the optional agreement."""
    html = page(client_ai, analysed)
    assert 'name="agreement"' in html
    assert 'required="None"' not in html
    assert not re.search(r'<input[^>]*name="agreement"[^>]*required', html)


def test_the_photo_step_answer_offers_no_change(client_ai, ai_app, physician):
    # "Photo taken" records the camera step; its Change re-asked the photo question as a text
    # box holding "yes". A new photo is taken with the photo step, not by changing an answer.
    case_id = ready_for_photo(ai_app, physician, WORRYING)
    assert post_photo(client_ai, case_id).status_code == 303
    html = page(client_ai, case_id)
    assert "Change the answer “Age”" in html
    assert "Photo taken" in html
    assert "Change the answer “Photo taken”" not in html
