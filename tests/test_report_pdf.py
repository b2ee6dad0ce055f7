"""The case report as a PDF (portal and API) and the report page in the same order.

Cases are answered through the real questionnaire and analysed by the reference AI over HTTP;
the PDF is read back with pypdf (text per page, page size, embedded images). Set
``REPORT_PDF_DIR`` to keep the PDFs (to look at them: ``pdftoppm -png``).
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from app.services import diagnosis
from app.services.report.content import headline, short_differential
from tests.fixtures.cases import MELANOMA, SAMPLES
from tests.fixtures.portal import ready_for_photo

KERATOSIS = SAMPLES / "images" / "bkl_ISIC_0028995.jpg"
A4 = (595, 842)  # points
LETTER = (612, 792)


def make_case(
    app: Flask, user: Any, photo: Path, *, review: dict[str, Any] | None = None, **fields: Any
) -> uuid.UUID:
    """A case answered to the photo, analysed with ``photo`` (the camera answer included),
    and reviewed when ``review`` is given."""
    case_id = ready_for_photo(app, user, {"bleeding": True}, **fields)
    with app.app_context():
        actor = db.session.get(User, user.id)
        with photo.open("rb") as upload:
            diagnosis.diagnose_upload(
                actor=actor, upload=upload, anamnesis={"photo_taken": True}, case_id=case_id
            )
        if review is not None:
            diagnosis.review_case(actor=actor, case_id=case_id, **review)
        db.session.remove()
    return case_id


def read_pdf(response: Any, name: str) -> PdfReader:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.data.startswith(b"%PDF-")
    if folder := os.environ.get("REPORT_PDF_DIR"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.pdf").write_bytes(response.data)
    return PdfReader(io.BytesIO(response.data))


def size(reader: PdfReader) -> tuple[int, int]:
    box = reader.pages[0].mediabox
    return round(float(box.width)), round(float(box.height))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def physician(make_user: Callable[..., Any]) -> Any:
    return make_user(email="ana@example.org", full_name="Dr. Ana Lima")


REVIEW = {
    "final_diagnosis": "Superficial spreading melanoma",
    "icd10": "C43.5",
    "agreement": "in_differential",
    "notes": "Excision with 2 mm margins booked for next week.",
}


def test_the_api_pdf_opens_with_the_conclusion_and_repeats_the_header_on_every_page(
    ai_app: Flask,
    ai_client: FlaskClient,
    physician: Any,
    api_headers: Callable[..., dict[str, str]],
) -> None:
    case_id = make_case(ai_app, physician, MELANOMA, review=REVIEW, patient_reference="PT-PDF-1")
    headers = api_headers(physician)
    reader = read_pdf(ai_client.get(f"/api/cases/{case_id}/report.pdf", headers=headers), "a4")
    assert size(reader) == A4
    pages = [flat(page.extract_text()) for page in reader.pages]
    first = pages[0]
    assert "Final diagnosis" in first
    assert "Superficial spreading melanoma" in first and "ICD-10 C43.5" in first
    assert "Excision with 2 mm margins booked" in first

    case = ai_client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    analysis = case["latest_analysis"]
    with ai_app.app_context():
        from app.models import Analysis

        stored = db.session.get(Analysis, uuid.UUID(analysis["id"]))
        expected = headline(stored)
        db.session.remove()
    assert expected.action_text in first  # the headline action, on page 1
    assert first.index("Final diagnosis") < first.index("Red flags")
    # The photo with the AI's result fills page 1 (no half-empty page before it).
    assert first.index("Red flags") < first.index("Photo and AI result")

    for number, text in enumerate(pages, start=1):
        assert "Patient PT-PDF-1" in text
        assert f"Page {number} of {len(pages)}" in text
        assert "never replace, the physician's judgement" in text
    text = " ".join(pages)
    assert text.index("Red flags") < text.index("Differential diagnosis") < text.index("Anamnesis")
    assert "Photo taken" not in text  # the photo step is not a clinical answer
    assert analysis["model_version"] in text
    for flag in analysis["red_flags"]["flags"]:
        if flag.get("rule"):
            assert flat(f"Rule: {flag['rule']}") in text

    short = short_differential(analysis["predictions"])
    for row in short.shown:
        assert row["disease"] in text
    assert len(analysis["predictions"]) > 5  # the reference AI ranks its whole list
    assert f"{short.others} others below 1 %" in text
    for row in analysis["predictions"][len(short.shown) :]:
        assert row["disease"] not in text.split("Differential diagnosis")[1].split("Patient and")[0]

    # WeasyPrint shares one resource dictionary between pages: count distinct images.
    images = {image.data: image for page in reader.pages for image in page.images}
    [photo] = images.values()  # the analysed photo
    assert photo.image.width >= 600  # large enough to see the lesion


def test_letter_paper_and_a_bad_paper_size(
    ai_app: Flask,
    ai_client: FlaskClient,
    physician: Any,
    api_headers: Callable[..., dict[str, str]],
) -> None:
    case_id = make_case(ai_app, physician, KERATOSIS, patient_reference="PT-PDF-2")
    headers = api_headers(physician)
    path = f"/api/cases/{case_id}/report.pdf"
    reader = read_pdf(ai_client.get(f"{path}?paper=letter", headers=headers), "letter")
    assert size(reader) == LETTER
    first = flat(reader.pages[0].extract_text())
    assert "Preliminary — not yet reviewed by a physician" in first
    assert "Not yet recorded: no physician has reviewed this case." in first

    bad = ai_client.get(f"{path}?paper=legal", headers=headers)
    assert bad.status_code == 422
    assert "paper" in bad.get_json()["error"]["details"]


def test_only_the_owner_and_admins_get_the_pdf_and_the_read_is_audited(
    ai_app: Flask,
    ai_client: FlaskClient,
    physician: Any,
    make_user: Callable[..., Any],
    api_headers: Callable[..., dict[str, str]],
) -> None:
    case_id = make_case(ai_app, physician, MELANOMA)
    path = f"/api/cases/{case_id}/report.pdf"
    assert ai_client.get(path).status_code == 401
    stranger = api_headers(make_user(email="ben@example.org"))
    assert ai_client.get(path, headers=stranger).status_code == 404
    admin = api_headers(make_user(email="root@example.org", role="admin", full_name="Admin"))
    read_pdf(ai_client.get(path, headers=admin), "admin")
    with ai_app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.case_id == case_id)
        ).all()
        db.session.remove()
    assert "case.read" in actions and "image.view" in actions


def test_the_portal_pdf_and_the_report_page_follow_the_same_order(
    ai_app: Flask,
    physician: Any,
    make_user: Callable[..., Any],
    portal_login: Callable[..., FlaskClient],
) -> None:
    case_id = make_case(ai_app, physician, MELANOMA, review=REVIEW)
    client = portal_login(physician, ai_app.test_client())
    reader = read_pdf(client.get(f"/cases/{case_id}/report.pdf"), "portal")
    assert "Superficial spreading melanoma" in flat(reader.pages[0].extract_text())
    assert client.get(f"/cases/{case_id}/report.pdf?paper=legal").status_code == 422

    page = client.get(f"/cases/{case_id}/report").get_data(as_text=True)
    order = [
        "Conclusion",
        "Red flags",
        "Photo and AI result",
        "Differential diagnosis",
        "Patient and complaint",
        "Anamnesis",
    ]
    positions = [page.index(f">{heading}") for heading in order]
    assert positions == sorted(positions)
    assert "Photo taken" not in page
    assert f'href="/cases/{case_id}/report.pdf"' in page

    other = portal_login(make_user(email="ben@example.org"), ai_app.test_client())
    assert other.get(f"/cases/{case_id}/report.pdf").status_code == 404
    assert ai_app.test_client().get(f"/cases/{case_id}/report.pdf").status_code in (302, 401)


def test_short_differential_counts_what_it_leaves_out() -> None:
    rows = [
        {"disease": f"D{i}", "probability": p}
        for i, p in enumerate([0.5, 0.2, 0.1, 0.08, 0.05, 0.03, 0.009, 0.001])
    ]
    short = short_differential(rows)
    assert [row["disease"] for row in short.shown] == ["D0", "D1", "D2", "D3", "D4", "D5"]
    assert short.others == 2  # both below 1 %
    assert short_differential(None).shown == [] and short_differential([]).others == 0


def test_after_a_changed_answer_the_pdf_shows_what_the_ai_was_computed_from(
    ai_app: Flask,
    ai_client: FlaskClient,
    physician: Any,
    api_headers: Callable[..., dict[str, str]],
) -> None:
    case_id = make_case(ai_app, physician, MELANOMA)  # answered bleeding: yes
    headers = api_headers(physician)
    changed = ai_client.post(
        f"/api/cases/{case_id}/answers", json={"bleeding": False}, headers=headers
    )
    assert changed.status_code == 200, changed.get_json()
    reader = read_pdf(ai_client.get(f"/api/cases/{case_id}/report.pdf", headers=headers), "old")
    text = flat(" ".join(page.extract_text() for page in reader.pages))
    assert "The AI results are outdated" in text and "Bleeding" in text
    assert "Anamnesis as analysed" in text
    assert "Bleeding Yes" in text  # the answer the result was computed from, not today's "No"
