"""``flask demo seed``: through Flask's CLI runner, against PostgreSQL and the real reference AI."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result
from flask import Flask
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from app.extensions import db
from app.models import Analysis, AuditEvent, Case, CaseImage, User
from app.services import stats
from app.services.clinical_record.words import percent
from app.services.demo import DEMO_CASES, DEMO_EMAIL, DEMO_PASSWORD
from app.services.lesions import demo as demo_lesion
from tests.conftest import STRONG_PASSWORD
from tests.fixtures.portal import log_in

REFERENCES = [case.reference for case in DEMO_CASES]
ANALYSED = [case.reference for case in DEMO_CASES if case.photo is not None]
REVIEWED = [case.reference for case in DEMO_CASES if case.review is not None]
AT_QUESTIONNAIRE = [case.reference for case in DEMO_CASES if case.photo is None]


def _seed(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["demo", "seed", *args])


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = {
            model.__name__: db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Case, CaseImage, Analysis, AuditEvent)
        }
        db.session.remove()
    return counts


def _printed_credentials(output: str) -> tuple[str, str]:
    email = re.search(r"email:\s+(\S+)", output)
    password = re.search(r"password:\s+(\S+)", output)
    assert email and password, output
    return email.group(1), password.group(1)


def _demo_cases(app: Flask) -> dict[str, dict[str, Any]]:
    """Every case of the demo physician by reference: status, review and analyses (the demo
    lesion's visits, one reference for three cases, are checked in test_lesions_demo.py)."""
    with app.app_context():
        owner = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
        found = {}
        mine = (Case.owner_id == owner.id, Case.patient_reference != demo_lesion.REFERENCE)
        for case in db.session.scalars(select(Case).where(*mine)):
            analyses = db.session.scalars(
                select(Analysis).where(Analysis.case_id == case.id).order_by(Analysis.created_at)
            ).all()
            found[case.patient_reference] = {
                "status": case.status,
                "urgency": case.urgency,
                "anamnesis": dict(case.anamnesis),
                "final_diagnosis": case.final_diagnosis,
                "final_icd10": case.final_icd10,
                "ai_agreement": case.ai_agreement,
                "images": len(case.images),
                "analyses": [(a.status, a.model_version, a.predictions) for a in analyses],
            }
        db.session.remove()
    return found


def test_seed_creates_the_demo_physician_and_cases_analysed_by_the_ai(ai_app: Flask) -> None:
    result = _seed(ai_app)
    assert result.exit_code == 0, result.output

    email, password = _printed_credentials(result.output)
    assert (email, password) == (DEMO_EMAIL, DEMO_PASSWORD)
    assert "http://127.0.0.1:8080/login" in result.output
    for reference in REFERENCES:
        assert re.search(rf"^\s+{reference}\s+created", result.output, re.MULTILINE)
    lesion_line = rf"^\s+{demo_lesion.REFERENCE}\s+lesion seen 3 times: patient, lesion, visit 1"
    assert re.search(lesion_line, result.output, re.MULTILINE), result.output

    cases = _demo_cases(ai_app)
    assert sorted(cases) == REFERENCES
    for reference in ANALYSED:
        case = cases[reference]
        assert case["images"] == 1
        [(status, model_version, predictions)] = case["analyses"]
        assert status == "completed"
        assert model_version.startswith("reference-")
        assert predictions[0]["disease"]
        assert case["urgency"] is not None
        assert case["anamnesis"]["photo_taken"] is True  # as the portal answers the camera step
        # The printed line gives the AI's top suggestion as the portal shows it (never "100 %").
        top = predictions[0]
        shown = f"AI: {top['disease']} ({percent(top['probability'])})"
        assert re.search(rf"^\s+{reference}\s.*{re.escape(shown)}", result.output, re.M), shown
        assert case["status"] == ("reviewed" if reference in REVIEWED else "analyzed")
    for reference in REVIEWED:
        spec = next(spec for spec in DEMO_CASES if spec.reference == reference)
        case = cases[reference]
        assert case["final_diagnosis"] == spec.review.final_diagnosis
        assert case["final_icd10"] == spec.review.icd10
        names = [entry["disease"] for entry in case["analyses"][-1][2]]
        rank = (
            names.index(spec.review.final_diagnosis)
            if spec.review.final_diagnosis in names
            else None
        )
        want = {0: "top1", None: "differs"}.get(rank, "in_differential")
        assert case["ai_agreement"] == want
    for reference in AT_QUESTIONNAIRE:
        assert cases[reference]["status"] == "questionnaire"
        assert cases[reference]["analyses"] == []
        assert cases[reference]["images"] == 0
    # The melanoma case's anamnesis reaches the red-flag rules: a changing pigmented lesion.
    assert cases["DEMO-001"]["urgency"] in ("high", "emergency")
    # Enough reviewed cases with histology, across skin types, for the statistics page.
    with ai_app.app_context():
        figures = stats.concordance(actor=None)
        db.session.remove()
    assert figures.reviewed >= 41 and figures.with_histology >= 40
    assert all(row.cases for row in figures.by_fitzpatrick if row.group != "not recorded")
    assert figures.sensitivity.total and figures.specificity.total
    assert sum(b.cases for b in figures.calibration) == figures.reviewed


def test_printed_credentials_log_in_and_show_the_demo_cases(ai_app: Flask) -> None:
    result = _seed(ai_app)
    assert result.exit_code == 0, result.output
    email, password = _printed_credentials(result.output)

    client = ai_app.test_client()
    login = client.post("/api/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.get_json()
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    me = client.get("/api/users/me", headers=headers).get_json()
    assert me["role"] == "physician"
    listed = client.get("/api/cases?per_page=100", headers=headers).get_json()
    lesion_visits = [demo_lesion.REFERENCE] * len(demo_lesion.VISITS)
    assert sorted(item["patient_reference"] for item in listed["items"]) == sorted(
        REFERENCES + lesion_visits
    )

    portal = ai_app.test_client()
    page = log_in(portal, email, password)
    assert page.status_code in (302, 303), page.status_code
    home = portal.get("/cases?q=DEMO-00")  # the hand-written ones (the list has pages)
    assert home.status_code == 200
    for reference in REFERENCES:
        if reference.startswith("DEMO-00"):
            assert reference in home.get_data(as_text=True)


def test_a_second_run_creates_nothing(ai_app: Flask) -> None:
    assert _seed(ai_app).exit_code == 0
    before = _counts(ai_app)

    again = _seed(ai_app)
    assert again.exit_code == 0, again.output
    assert "Nothing new" in again.output
    for reference in REFERENCES:
        assert re.search(rf"^\s+{reference}\s+already there", again.output, re.MULTILINE)
    assert _printed_credentials(again.output) == (DEMO_EMAIL, DEMO_PASSWORD)
    assert _counts(ai_app) == before  # no user, case, image, analysis or audit event added


def test_a_complete_seed_runs_again_without_the_ai_service(
    ai_app: Flask, make_app: Callable[..., Flask], closed_url: str
) -> None:
    assert _seed(ai_app).exit_code == 0
    before = _counts(ai_app)
    result = _seed(make_app(AI_SERVICE_URL=closed_url))
    assert result.exit_code == 0, result.output
    assert _counts(ai_app) == before


def test_ai_service_down_fails_clearly_and_creates_nothing(
    app: Flask, make_app: Callable[..., Flask], closed_url: str
) -> None:
    result = _seed(make_app(AI_SERVICE_URL=closed_url))
    assert result.exit_code == 1
    assert f"Error: The AI Service at {closed_url} does not answer" in result.output
    assert "Nothing was created." in result.output
    assert _counts(app) == dict.fromkeys(("User", "Case", "CaseImage", "Analysis", "AuditEvent"), 0)


def test_ai_failing_midway_names_what_was_done_and_the_next_run_finishes(
    fake_ai_app: Flask, httpserver: HTTPServer, ai_app: Flask
) -> None:
    httpserver.expect_request("/api/v1/health").respond_with_json(
        {"status": "healthy", "model_version": "reference-1.0"}
    )
    httpserver.expect_request(
        re.compile(r"/api/v1/(image_quality|diagnosis)/.*")
    ).respond_with_json({"detail": "model refuses this input"}, status=422)
    first = _seed(fake_ai_app)
    assert first.exit_code == 1
    assert "Error: The analysis of DEMO-001 did not complete (ai_rejected_input)." in first.output
    assert "Cases complete: none; DEMO-001 is kept with its answers and photo." in first.output
    assert "Run `flask demo seed` again" in first.output
    kept = _demo_cases(ai_app)
    assert list(kept) == ["DEMO-001"]
    assert kept["DEMO-001"]["status"] == "analysis_failed"
    assert kept["DEMO-001"]["images"] == 1

    second = _seed(ai_app)  # the reference AI answers now
    assert second.exit_code == 0, second.output
    assert re.search(r"^\s+DEMO-001\s+analysed\s", second.output, re.MULTILINE)
    cases = _demo_cases(ai_app)
    assert sorted(cases) == REFERENCES
    assert cases["DEMO-001"]["images"] == 1  # the stored photo was analysed, not uploaded again
    assert [status for status, *_ in cases["DEMO-001"]["analyses"]] == ["failed", "completed"]
    assert cases["DEMO-001"]["status"] == "analyzed"


def test_missing_samples_folder_fails_before_anything_is_created(
    ai_app: Flask, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-folder"
    result = _seed(ai_app, "--samples", str(missing))
    assert result.exit_code == 1
    assert f"The sample images folder {missing} does not exist" in result.output
    assert _counts(ai_app)["User"] == 0

    empty = tmp_path / "empty"
    empty.mkdir()
    result = _seed(ai_app, "--samples", str(empty))
    assert result.exit_code == 1
    assert "lacks mel_ISIC_0033454.jpg" in result.output
    assert _counts(ai_app)["Case"] == 0


def test_password_option_and_an_existing_account_with_another_password(
    ai_app: Flask, make_user: Callable[..., Any]
) -> None:
    custom = _seed(ai_app, "--password", "Another-demo-77")
    assert custom.exit_code == 0, custom.output
    assert _printed_credentials(custom.output) == (DEMO_EMAIL, "Another-demo-77")

    # The default password is not this account's: it is not printed, and nothing is changed.
    again = _seed(ai_app)
    assert again.exit_code == 0, again.output
    assert DEMO_PASSWORD not in again.output
    assert f"flask users reset-password --email {DEMO_EMAIL}" in again.output
    client = ai_app.test_client()
    login = client.post(
        "/api/auth/login", json={"email": DEMO_EMAIL, "password": "Another-demo-77"}
    )
    assert login.status_code == 200


def test_a_weak_password_creates_nothing(ai_app: Flask) -> None:
    result = _seed(ai_app, "--password", "short")
    assert result.exit_code == 1
    assert "Password must be at least 10 characters long. Nothing was created." in result.output
    assert _counts(ai_app)["User"] == 0


def test_a_deactivated_demo_account_is_not_used(
    ai_app: Flask, make_user: Callable[..., Any]
) -> None:
    make_user(email=DEMO_EMAIL, password=STRONG_PASSWORD, active=False)
    result = _seed(ai_app)
    assert result.exit_code == 1
    assert f"flask users activate --email {DEMO_EMAIL}" in result.output
    assert _counts(ai_app)["Case"] == 0
