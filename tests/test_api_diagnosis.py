"""POST /api/diagnosis, re-analysis, review: reference AI for the happy path, fakes for faults."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Request, Response

from app.extensions import db
from app.models import Analysis, AuditEvent, Case, CaseImage, IdempotencyRecord
from tests.conftest import SAMPLES, free_port

PHOTOS = sorted((SAMPLES / "images").glob("*.jpg"))
MELANOMA = SAMPLES / "images" / "mel_ISIC_0033454.jpg"
BLURRY = SAMPLES / "bad" / "blurry_nv_ISIC_0026828.jpg"
ANAMNESIS = {
    "age": 61,
    "sex": "male",
    "location1.primary": "back",
    "duration": "3-12 months",
    "changed_recently": True,
    "color": ["brown", "black"],
    "bleeding": False,
}


def diagnose(client, headers, path: Path = MELANOMA, anamnesis: Any = None, **fields: Any):
    """POST /api/diagnosis with a photo and the anamnesis (a dict, or a raw string)."""
    anamnesis = ANAMNESIS if anamnesis is None else anamnesis
    data: dict[str, Any] = {
        "image": (io.BytesIO(path.read_bytes()), path.name, "image/jpeg"),
        "anamnesis": anamnesis if isinstance(anamnesis, str) else json.dumps(anamnesis),
        **{
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in fields.items()
            if key != "extra_headers"
        },
    }
    return client.post(
        "/api/diagnosis",
        data=data,
        headers={**headers, **fields.get("extra_headers", {})},
        content_type="multipart/form-data",
    )


def counts(app) -> dict[str, int]:
    with app.app_context():
        result = {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Case, CaseImage, Analysis)
        }
        db.session.remove()
    return result


# --- happy path against the real reference AI service --------------------------------------


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_diagnosis_of_each_real_photo(ai_client, ai_app, make_user, api_headers, photo):
    headers = api_headers(make_user())
    response = diagnose(ai_client, headers, photo)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    probabilities = [d["probability"] for d in body["predictions"]]
    assert probabilities, "the differential is empty"
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(d["icd10"] for d in body["predictions"])
    assert {"hasRedFlags", "flags", "urgency", "recommendation"} <= set(body["red_flags"])
    assert body["image_validity"]["isValid"] is True
    assert body["tier"] in {"confident", "possible", "refer"}
    assert body["confidence"] == pytest.approx(probabilities[0])
    assert body["model_version"].startswith("reference-")
    assert body["triage"]["priority"] in {"routine", "soon", "urgent", "emergency"}
    assert response.headers["X-Request-ID"] == body["request_id"]

    case = ai_client.get(f"/api/cases/{body['case_id']}", headers=headers).get_json()
    assert case["status"] == "analyzed"
    assert case["urgency"] == body["red_flags"]["urgency"]
    assert case["anamnesis"] == ANAMNESIS
    assert [image["id"] for image in case["images"]] == [body["image_id"]]
    latest = case["latest_analysis"]
    assert latest["id"] == body["analysis_id"]
    assert latest["status"] == "completed"
    assert latest["predictions"] == body["predictions"]
    assert (case["patient_age"], case["patient_sex"], case["body_site"]) == (61, "male", "back")


def test_diagnosis_into_an_existing_case_merges_the_answers(
    ai_client, ai_app, make_user, api_headers, make_case
):
    owner = make_user()
    headers = api_headers(owner)
    case_id = make_case(owner)
    ai_client.post(f"/api/cases/{case_id}/answers", json={"itch.scale_0_to_5": 2}, headers=headers)
    response = diagnose(ai_client, headers, case_id=case_id)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["case_id"] == str(case_id)
    case = ai_client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert case["anamnesis"] == {"itch.scale_0_to_5": 2, **ANAMNESIS}
    assert counts(ai_app)["cases"] == 1


def test_case_without_age_in_the_anamnesis_is_kept_with_unknown_age(
    ai_client, make_user, api_headers
):
    headers = api_headers(make_user())
    response = diagnose(ai_client, headers, anamnesis={"bleeding": True})
    assert response.status_code == 200, response.get_json()
    case = ai_client.get(f"/api/cases/{response.get_json()['case_id']}", headers=headers)
    body = case.get_json()
    assert (body["patient_age"], body["patient_sex"], body["body_site"]) == (
        None,
        "unknown",
        "other",
    )
    assert body["patient_reference"].startswith("API-")


def test_blurry_photo_is_rejected_then_accepted_on_request(
    ai_client, ai_app, make_user, api_headers
):
    headers = api_headers(make_user())
    rejected = diagnose(ai_client, headers, BLURRY)
    assert rejected.status_code == 422
    error = rejected.get_json()["error"]
    assert error["code"] == "image_rejected"
    validity = error["details"]["image_validity"]
    assert validity["isValid"] is False
    assert any("blur" in issue.lower() for issue in validity["issues"])
    assert "predictions" not in rejected.get_json()
    stored = counts(ai_app)
    assert stored == {"cases": 1, "case_images": 1, "analyses": 0}  # kept, never predicted
    case_id = error["details"]["case_id"]
    case = ai_client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert case["status"] == "awaiting_image"
    assert case["latest_analysis"] is None

    accepted = diagnose(ai_client, headers, BLURRY, accept_low_quality=True, case_id=case_id)
    assert accepted.status_code == 200, accepted.get_json()
    body = accepted.get_json()
    assert body["image_validity"]["isValid"] is False
    assert body["predictions"]
    with ai_app.app_context():
        analysis = db.session.get(Analysis, body["analysis_id"])
        assert analysis.accepted_low_quality is True


# --- input checks before anything is stored -------------------------------------------------


@pytest.mark.parametrize(
    "anamnesis",
    [
        "{not json",
        "[1, 2]",
        json.dumps({f"k{i}": i for i in range(201)}),
        '{"a": {"b": 1}}',
        '{"age": -5}',
        '{"age": 121}',
        '{"age": "old"}',
    ],
    ids=["not-json", "array", "201-keys", "nested", "age-negative", "age-121", "age-text"],
)
def test_malformed_anamnesis_is_refused_before_anything_is_stored(
    client, app, make_user, api_headers, anamnesis
):
    response = diagnose(client, api_headers(make_user()), anamnesis=anamnesis)
    assert response.status_code in (400, 422)
    assert "anamnesis" in json.dumps(response.get_json()["error"]["details"])
    assert counts(app) == {"cases": 0, "case_images": 0, "analyses": 0}


def test_missing_image_and_bad_file_are_refused_before_anything_is_stored(
    client, app, make_user, api_headers
):
    headers = api_headers(make_user())
    missing = client.post(
        "/api/diagnosis",
        data={"anamnesis": "{}"},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422
    assert "image" in missing.get_json()["error"]["details"]
    not_image = diagnose(client, headers, SAMPLES / "bad" / "not_an_image.jpg")
    assert not_image.status_code == 415
    assert not_image.get_json()["error"]["code"] == "unsupported_image_type"
    assert counts(app) == {"cases": 0, "case_images": 0, "analyses": 0}


def test_another_physicians_case_is_404(client, app, make_user, api_headers, make_case):
    other_case = make_case(make_user())
    response = diagnose(client, api_headers(make_user()), case_id=other_case)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "case_not_found"
    assert counts(app) == {"cases": 1, "case_images": 0, "analyses": 0}


def test_diagnosis_requires_a_token(client):
    response = diagnose(client, {})
    assert response.status_code == 401


# --- the AI Service misbehaving ---------------------------------------------------------------

VALIDITY_OK = {
    "isValid": True,
    "score": 0.9,
    "issues": [],
    "feedback": {"blur": 0.9, "lighting": 1.0, "framing": 0.8},
}
PREDICTION = {
    "diagnoses": [
        {"disease": "Melanoma", "probability": 0.7, "confidence": "high", "icd10": "C43.9"},
        {"disease": "Melanocytic nevus", "probability": 0.2, "confidence": "low", "icd10": "D22.9"},
    ],
    "metadata": {"model_version": "fake-2.0", "inference_time_ms": 12},
    "tier": "possible",
    "confidence": 0.7,
    "refer_to_specialist": True,
    "highlight_count": 1,
}
RED_FLAGS = {
    "hasRedFlags": True,
    "flags": [{"type": "changing_pigmented_lesion", "severity": "high", "description": "Changed"}],
    "urgency": "high",
    "recommendation": "Refer within two weeks",
}
TRIAGE = {
    "priority": "urgent",
    "urgencyScore": 8,
    "estimatedWaitTime": "2 weeks",
    "recommendedAction": "urgent_dermatology_referral_2_weeks",
    "reasoning": ["Suspected melanoma"],
}
ANSWERS = {
    "/api/v1/image_quality/validate": VALIDITY_OK,
    "/api/v1/diagnosis/predict": PREDICTION,
    "/api/v1/diagnosis/red_flags": RED_FLAGS,
    "/api/v1/diagnosis/triage": TRIAGE,
}


class RecordingAI:
    """A threaded fake AI Service: answers ``ANSWERS`` after ``delay`` s, recording each call's
    start and end; ``failing`` maps a path to the status it answers instead."""

    def __init__(self, delay: float = 0.3) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.delay = delay
        self.failing: dict[str, int] = {}
        #: Called with the request path when a call arrives (before the delay), if set.
        self.on_call: Any = None
        self.calls: list[tuple[str, float, float]] = []
        self._lock = threading.Lock()
        self.server.expect_request("/api/v1/health").respond_with_json({"status": "healthy"})
        for path in ANSWERS:
            self.server.expect_request(path, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        started = time.monotonic()
        if self.on_call is not None:
            self.on_call(request.path)
        time.sleep(self.delay)
        status = self.failing.get(request.path)
        ended = time.monotonic()
        with self._lock:
            self.calls.append((request.path, started, ended))
        if status is not None:
            return Response(
                json.dumps({"detail": "down"}), status=status, content_type="application/json"
            )
        return Response(json.dumps(ANSWERS[request.path]), content_type="application/json")

    def window(self, suffix: str) -> tuple[float, float]:
        (window,) = [(s, e) for path, s, e in self.calls if path.endswith(suffix)]
        return window

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")


@pytest.fixture
def recording_ai() -> Iterator[RecordingAI]:
    fake = RecordingAI()
    fake.server.start()
    yield fake
    fake.server.clear()
    if fake.server.is_running():
        fake.server.stop()


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_a_case_archived_while_the_ai_works_stays_archived(  # noqa: PLR0917 - fixtures
    make_app, app, recording_ai, make_user, api_headers, make_case
):
    """The analysis is stored against the case as it is then, not as this request last saw
    it: a case archived by another request while the AI worked is not moved to ``analyzed``
    (was: the request's own, stale copy of the case was moved, un-archiving it)."""
    from app.models import User
    from app.services import cases

    owner = make_user()
    case_id = make_case(owner)

    def archive_meanwhile(path: str) -> None:
        if path.endswith("/validate"):
            with app.app_context():
                cases.archive_case(actor=db.session.get(User, owner.id), case_id=case_id)
                db.session.remove()

    recording_ai.on_call = archive_meanwhile
    gateway = make_app(AI_SERVICE_URL=recording_ai.url)
    response = diagnose(gateway.test_client(), api_headers(owner), case_id=case_id)
    assert response.status_code == 409, response.get_json()
    with app.app_context():
        assert db.session.get(Case, case_id).status == "archived"
        assert db.session.scalar(select(func.count()).select_from(Analysis)) == 0
        db.session.remove()


def test_a_case_archived_while_the_photo_uploads_gets_no_image(  # noqa: PLR0917 - fixtures
    make_app, app, recording_ai, make_user, api_headers, make_case, monkeypatch
):
    """The check after the upload ("archived or gone meanwhile?") reads the case as it is then
    (was: the copy the request held since it merged the answers, so an image row was added to
    a case archived during the upload); the object is deleted again."""
    from app.models import User
    from app.services import cases
    from app.services.case_images import get_storage

    owner = make_user()
    case_id = make_case(owner)
    gateway = make_app(AI_SERVICE_URL=recording_ai.url)
    with gateway.app_context():
        storage = get_storage()
    put = storage.put

    def put_then_archive(key: str, data: Any, content_type: str) -> None:
        put(key, data, content_type)
        with app.app_context():
            cases.archive_case(actor=db.session.get(User, owner.id), case_id=case_id)
            db.session.remove()

    monkeypatch.setattr(storage, "put", put_then_archive)
    response = diagnose(gateway.test_client(), api_headers(owner), case_id=case_id)
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]["code"] == "case_archived"
    assert counts(app) == {"cases": 1, "case_images": 0, "analyses": 0}
    assert list(storage.iter_keys(f"cases/{case_id}/")) == []


def test_a_diagnosis_opening_a_case_records_it_in_order(
    make_app, app, recording_ai, make_user, api_headers
):
    """The new case (with its patient and lesion) and the image are committed together,
    audited in the order they happened: case.create, image.upload, case.analyze."""
    from app.models import Lesion, Patient

    gateway = make_app(AI_SERVICE_URL=recording_ai.url)
    response = diagnose(gateway.test_client(), api_headers(make_user()))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    with app.app_context():
        case = db.session.get(Case, uuid.UUID(body["case_id"]))
        lesion = db.session.get(Lesion, case.lesion_id)
        assert lesion.patient_id == case.patient_id
        assert db.session.get(Patient, case.patient_id).reference == case.patient_reference
        events = db.session.execute(
            select(AuditEvent.action, AuditEvent.image_id, AuditEvent.details)
            .where(AuditEvent.case_id == case.id)
            .order_by(AuditEvent.id)
        ).all()
        db.session.remove()
    assert [event.action for event in events] == ["case.create", "image.upload", "case.analyze"]
    assert events[0].details["lesion_id"] == str(lesion.id)
    assert str(events[1].image_id) == body["image_id"]


def test_a_diagnosis_opening_a_case_takes_two_transactions(
    make_app, app, recording_ai, make_user, api_headers
):
    """The case with its image, then the analysis with the consent read for the answer: two
    transactions, and the case is written once before its move to ``analyzed`` (issue #15: it
    took four, with a case INSERT followed by two UPDATEs of it)."""
    from sqlalchemy import event

    gateway = make_app(AI_SERVICE_URL=recording_ai.url)
    headers = api_headers(make_user())
    with gateway.app_context():
        engine = db.engine
    seen: list[str] = []

    def statement(_conn, _cursor, sql: str, *_args: Any) -> None:
        seen.append(" ".join(sql.split()[:3]))

    def commit(_conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        response = diagnose(gateway.test_client(), headers)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert response.status_code == 200, response.get_json()
    assert seen.count("COMMIT") == 2, seen
    assert seen.count("INSERT INTO cases") == 1, seen
    assert [entry for entry in seen if entry.startswith("UPDATE")] == ["UPDATE cases SET"], seen


def test_prediction_and_red_flags_overlap(make_app, app, recording_ai, make_user, api_headers):
    gateway = make_app(AI_SERVICE_URL=recording_ai.url, AI_SPECULATIVE_DIAGNOSIS=False)
    client = gateway.test_client()
    response = diagnose(client, api_headers(make_user()))
    assert response.status_code == 200, response.get_json()
    predict, flags = recording_ai.window("/predict"), recording_ai.window("/red_flags")
    quality, triage = recording_ai.window("/validate"), recording_ai.window("/triage")
    assert overlap(predict, flags), "prediction and red flags did not run concurrently"
    assert quality[1] <= min(predict[0], flags[0]), "without speculation, quality comes first"
    assert triage[0] >= max(predict[1], flags[1]), "triage needs both results"


def test_speculative_mode_starts_quality_prediction_and_red_flags_together(
    make_app, app, recording_ai, make_user, api_headers
):
    gateway = make_app(AI_SERVICE_URL=recording_ai.url, AI_SPECULATIVE_DIAGNOSIS=True)
    response = diagnose(gateway.test_client(), api_headers(make_user()))
    assert response.status_code == 200, response.get_json()
    quality = recording_ai.window("/validate")
    assert overlap(quality, recording_ai.window("/predict"))
    assert overlap(quality, recording_ai.window("/red_flags"))
    body = response.get_json()
    assert body["model_version"] == "fake-2.0"
    assert body["red_flags"]["flags"][0]["type"] == "changing_pigmented_lesion"
    assert body["triage"]["recommendedAction"] == "urgent_dermatology_referral_2_weeks"


def test_speculative_results_are_discarded_when_the_image_is_unusable(
    make_app, app, recording_ai, make_user, api_headers
):
    gateway = make_app(AI_SERVICE_URL=recording_ai.url)
    rejected = dict(VALIDITY_OK, isValid=False, issues=["Image is too blurry"])
    recording_ai.server.clear()
    recording_ai.server.expect_request("/api/v1/image_quality/validate").respond_with_json(rejected)
    for path in ("/api/v1/diagnosis/predict", "/api/v1/diagnosis/red_flags"):
        recording_ai.server.expect_request(path).respond_with_handler(recording_ai._handle)
    response = diagnose(gateway.test_client(), api_headers(make_user()))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "image_rejected"
    assert "predictions" not in json.dumps(response.get_json())
    assert counts(app)["analyses"] == 0


def test_red_flags_failing_fails_the_whole_diagnosis_until_the_ai_recovers(
    make_app, app, recording_ai, make_user, api_headers
):
    gateway = make_app(AI_SERVICE_URL=recording_ai.url, AI_SERVICE_TIMEOUT=5.0)
    client = gateway.test_client()
    headers = api_headers(make_user())
    recording_ai.delay = 0.0
    recording_ai.failing["/api/v1/diagnosis/red_flags"] = 503
    failed = diagnose(client, headers)
    assert failed.status_code == 502
    body = failed.get_json()
    assert body["error"]["code"] == "ai_service_unavailable"
    assert "predictions" not in json.dumps(body) and "Melanoma" not in json.dumps(body)
    kept = body["error"]["details"]  # where the answers and the photo are kept, to retry
    assert {"case_id", "image_id", "analysis_id"} <= set(kept)
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 1}
    with app.app_context():
        case = db.session.scalars(select(Case)).one()
        analysis = db.session.scalars(select(Analysis)).one()
        assert case.status == "analysis_failed"
        assert case.anamnesis == ANAMNESIS
        assert analysis.status == "failed"
        assert analysis.error_code == "ai_service_unavailable"
        assert analysis.predictions is None and analysis.red_flags is None
        case_id = case.id
        assert kept == {
            **kept,
            "case_id": str(case.id),
            "image_id": str(analysis.image_id),
            "analysis_id": str(analysis.id),
        }
        db.session.remove()
    shown = client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert shown["latest_analysis"]["status"] == "failed"

    recording_ai.failing.clear()
    again = client.post(f"/api/cases/{case_id}/analyze", headers=headers)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["red_flags"]["urgency"] == "high"
    shown = client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert shown["status"] == "analyzed"
    assert shown["urgency"] == "high"
    assert shown["latest_analysis"]["status"] == "completed"
    assert counts(app)["analyses"] == 2  # every run kept


def test_ai_timeout_is_504_and_stored_as_failed(
    make_app, app, black_hole_url, make_user, api_headers
):
    gateway = make_app(AI_SERVICE_URL=black_hole_url, AI_SERVICE_TIMEOUT=1.0)
    started = time.monotonic()
    response = diagnose(gateway.test_client(), api_headers(make_user()))
    assert time.monotonic() - started < 5
    assert response.status_code == 504
    assert response.get_json()["error"]["code"] == "ai_service_timeout"
    with app.app_context():
        analysis = db.session.scalars(select(Analysis)).one()
        assert analysis.error_code == "ai_service_timeout"
        db.session.remove()


# --- re-analysis -------------------------------------------------------------------------------


def test_analyze_without_an_image_is_409(client, make_user, api_headers, make_case):
    owner = make_user()
    case_id = make_case(owner)
    response = client.post(f"/api/cases/{case_id}/analyze", headers=api_headers(owner))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "case_has_no_image"


def test_analyze_a_chosen_image_with_the_reference_ai(
    ai_client, make_user, api_headers, make_case, upload
):
    owner = make_user()
    headers = api_headers(owner)
    case_id = make_case(owner)
    first = upload(case_id, headers, via=ai_client).get_json()
    upload(case_id, headers, SAMPLES / "images" / "vasc_ISIC_0033349.jpg", via=ai_client)
    response = ai_client.post(
        f"/api/cases/{case_id}/analyze", json={"image_id": first["id"]}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["image_id"] == first["id"]
    unknown = ai_client.post(
        f"/api/cases/{case_id}/analyze",
        json={"image_id": "00000000-0000-0000-0000-000000000000"},
        headers=headers,
    )
    assert unknown.status_code == 404


# --- idempotency -------------------------------------------------------------------------------


def test_idempotent_replay_creates_nothing_new(ai_client, ai_app, make_user, api_headers):
    headers = api_headers(make_user())
    key = {"Idempotency-Key": "visit-42"}
    first = diagnose(ai_client, headers, extra_headers=key)
    assert first.status_code == 200
    second = diagnose(ai_client, headers, extra_headers=key)
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert counts(ai_app) == {"cases": 1, "case_images": 1, "analyses": 1}

    different = diagnose(ai_client, headers, anamnesis={"bleeding": True}, extra_headers=key)
    assert different.status_code == 422
    assert different.get_json()["error"]["code"] == "idempotency_key_reused"
    other_photo = diagnose(ai_client, headers, BLURRY, extra_headers=key)
    assert other_photo.status_code == 422
    assert counts(ai_app) == {"cases": 1, "case_images": 1, "analyses": 1}


def test_idempotency_keys_belong_to_their_caller(ai_client, ai_app, make_user, api_headers):
    key = {"Idempotency-Key": "same-key"}
    first = diagnose(ai_client, api_headers(make_user()), extra_headers=key)
    second = diagnose(ai_client, api_headers(make_user()), extra_headers=key)
    assert first.status_code == second.status_code == 200
    assert first.get_json()["case_id"] != second.get_json()["case_id"]


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_too_long_key_is_422_and_runs_nothing(
    ai_client, ai_app, make_user, api_headers, key
):
    # An empty header is a client bug (e.g. an unset variable): it must not pass as "no key".
    response = diagnose(ai_client, api_headers(make_user()), extra_headers={"Idempotency-Key": key})
    assert response.status_code == 422, response.get_json()
    assert "Idempotency-Key" in response.get_json()["error"]["details"]
    assert counts(ai_app) == {"cases": 0, "case_images": 0, "analyses": 0}


def test_failed_attempt_releases_the_key(make_app, app, recording_ai, make_user, api_headers):
    gateway = make_app(AI_SERVICE_URL=recording_ai.url)
    client = gateway.test_client()
    headers = api_headers(make_user())
    recording_ai.delay = 0.0
    recording_ai.failing["/api/v1/diagnosis/predict"] = 500
    key = {"Idempotency-Key": "retry-me"}
    assert diagnose(client, headers, extra_headers=key).status_code == 502
    recording_ai.failing.clear()
    retried = diagnose(client, headers, extra_headers=key)
    assert retried.status_code == 200, retried.get_json()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
        db.session.remove()


# --- review ------------------------------------------------------------------------------------


def test_review_after_the_analysis(ai_client, ai_app, make_user, api_headers):
    headers = api_headers(make_user())
    case_id = diagnose(ai_client, headers).get_json()["case_id"]
    response = ai_client.post(
        f"/api/cases/{case_id}/review",
        json={
            "final_diagnosis": "Superficial spreading melanoma",
            "icd10": "c43.5",
            "agrees_with_ai": True,
            "notes": "Excision booked.",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    case = response.get_json()
    assert case["status"] == "reviewed"
    assert case["review"]["final_diagnosis"] == "Superficial spreading melanoma"
    assert case["review"]["final_icd10"] == "C43.5"
    assert case["review"]["agreement"] == "top1"  # the old yes/no field, as migration 0007
    assert case["latest_analysis"]["status"] == "completed"
    with ai_app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.case_id == case["id"])
        ).all()
        db.session.remove()
    assert "case.review" in actions and "case.analyze" in actions


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"final_diagnosis": "", "agrees_with_ai": True}, "final_diagnosis"),
        ({"final_diagnosis": "Nevus", "icd10": "nevus", "agrees_with_ai": True}, "icd10"),
        ({"final_diagnosis": "Nevus"}, "agreement"),
        ({"final_diagnosis": "Nevus", "agreement": "maybe"}, "agreement"),
    ],
)
def test_review_validation(ai_client, make_user, api_headers, body, field):
    headers = api_headers(make_user())
    case_id = diagnose(ai_client, headers).get_json()["case_id"]
    response = ai_client.post(f"/api/cases/{case_id}/review", json=body, headers=headers)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


def test_review_before_analysis_is_409(client, make_user, api_headers, make_case):
    owner = make_user()
    case_id = make_case(owner)
    response = client.post(
        f"/api/cases/{case_id}/review",
        json={"final_diagnosis": "Nevus", "agrees_with_ai": False},
        headers=api_headers(owner),
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "case_not_analyzed"


def test_openapi_lists_the_diagnosis_endpoints(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/diagnosis", "/api/cases/{case_id}/analyze", "/api/cases/{case_id}/review"):
        assert path in paths, path


# --- storing the photo while the AI works ----------------------------------------------------


def test_the_ai_starts_before_the_image_is_stored(
    make_app, app, recording_ai, make_user, api_headers
):
    """The first AI round overlaps storing the case and the photo (it is on the critical path)."""
    gateway = make_app(AI_SERVICE_URL=recording_ai.url)
    images_when_quality_started: list[int] = []

    def quality(request: Request) -> Response:
        images_when_quality_started.append(counts(app)["case_images"])
        return recording_ai._handle(request)

    recording_ai.server.clear()
    recording_ai.server.expect_request("/api/v1/image_quality/validate").respond_with_handler(
        quality
    )
    for path in (
        "/api/v1/diagnosis/predict",
        "/api/v1/diagnosis/red_flags",
        "/api/v1/diagnosis/triage",
    ):
        recording_ai.server.expect_request(path).respond_with_handler(recording_ai._handle)
    response = diagnose(gateway.test_client(), api_headers(make_user()))
    assert response.status_code == 200, response.get_json()
    assert images_when_quality_started == [0]
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 1}


@pytest.mark.usefixtures("aws_credentials")
def test_storage_down_during_a_diagnosis_is_503_and_keeps_the_answers(
    make_app, app, recording_ai, make_user, api_headers
):
    gateway = make_app(
        AI_SERVICE_URL=recording_ai.url,
        STORAGE_BACKEND="s3",
        S3_BUCKET="images",
        S3_REGION="us-east-1",
        S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens there
    )
    headers = api_headers(make_user())
    response = diagnose(gateway.test_client(), headers)
    assert response.status_code == 503, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "storage_unavailable"
    assert "answers are kept" in error["message"]
    assert counts(app) == {"cases": 1, "case_images": 0, "analyses": 0}
    # The answers are kept in the case the error names: a retry can send the photo to it.
    case = gateway.test_client().get(f"/api/cases/{error['details']['case_id']}", headers=headers)
    assert case.status_code == 200
    assert case.get_json()["anamnesis"] == ANAMNESIS


def test_a_database_failure_while_storing_the_analysis_names_the_case_it_kept(
    make_app, app, recording_ai, make_user, api_headers
):
    """The case and its photo are committed while the AI works; when the connection then dies
    while the analysis is stored, the 503 says where they are kept (was: "nothing was saved",
    no case named, so a retry opened a second case; found by t1 terminating PostgreSQL
    backends under load, issue #15). The AI result is not stored: POST /api/cases/<id>/analyze
    runs it again, and so does a retry with the request's Idempotency-Key (was: it opened a
    second case)."""
    import psycopg

    from tests.conftest import ADMIN_URL

    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    database = url.rsplit("/", 1)[1]
    holder = psycopg.connect(url)
    killers: list[threading.Thread] = []

    def lock_analyses_then_kill_the_waiter(path: str) -> None:
        if not path.endswith("/triage"):
            return
        holder.execute("LOCK TABLE analyses IN ACCESS EXCLUSIVE MODE")

        def kill() -> None:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                for _ in range(500):
                    waiting = admin.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s"
                        " AND wait_event_type = 'Lock'",
                        (database,),
                    ).fetchall()
                    if waiting:
                        for (pid,) in waiting:
                            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                        break
                    time.sleep(0.02)
            holder.rollback()

        killers.append(threading.Thread(target=kill, daemon=True))
        killers[0].start()

    recording_ai.on_call = lock_analyses_then_kill_the_waiter
    gateway = make_app(AI_SERVICE_URL=recording_ai.url)
    headers, key = api_headers(make_user()), {"Idempotency-Key": "visit-db-down"}
    try:
        response = diagnose(gateway.test_client(), headers, extra_headers=key)
    finally:
        for killer in killers:
            killer.join(timeout=15)
        holder.close()
    assert response.status_code == 503, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "database_unavailable"
    assert "nothing was saved" not in error["message"]
    case_id, image_id = error["details"]["case_id"], error["details"]["image_id"]
    with app.app_context():
        assert db.session.get(CaseImage, uuid.UUID(image_id)).case_id == uuid.UUID(case_id)
        db.session.remove()
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 0}

    recording_ai.on_call = None  # the database is back
    retried = diagnose(gateway.test_client(), headers, extra_headers=key)
    assert retried.status_code == 200, retried.get_json()
    assert (retried.get_json()["case_id"], retried.get_json()["image_id"]) == (case_id, image_id)
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 1}
