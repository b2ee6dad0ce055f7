"""A retry with the same ``Idempotency-Key`` after a 5xx continues on what the first attempt
kept (its case, its photo) instead of opening another case: S3 made to fail in moto (the bucket
deleted), the AI made to fail with pytest-httpserver; cases counted in PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Analysis
from tests.fixtures.cases import S3_BUCKET, S3_REGION
from tests.test_api_diagnosis import (  # noqa: F401 - recording_ai is a fixture
    ANAMNESIS,
    BLURRY,
    counts,
    diagnose,
    recording_ai,
)

KEY = {"Idempotency-Key": "visit-0042"}


def _create_bucket(s3) -> None:
    s3.create_bucket(Bucket=S3_BUCKET, CreateBucketConfiguration={"LocationConstraint": S3_REGION})


def test_a_retry_after_storage_failed_stores_the_photo_on_the_kept_case(  # noqa: PLR0917
    app, make_app, s3, reference_ai_url, make_user, api_headers
):
    gateway = make_app(
        AI_SERVICE_URL=reference_ai_url,
        STORAGE_BACKEND="s3",
        S3_BUCKET=S3_BUCKET,
        S3_REGION=S3_REGION,
    )
    client = gateway.test_client()
    headers = api_headers(make_user())
    s3.delete_bucket(Bucket=S3_BUCKET)  # the object store refuses every photo

    first = diagnose(client, headers, extra_headers=KEY)
    assert first.status_code == 503, first.get_json()
    kept = first.get_json()["error"]["details"]["case_id"]
    assert counts(app) == {"cases": 1, "case_images": 0, "analyses": 0}

    again = diagnose(client, headers, extra_headers=KEY)  # storage still down
    assert again.status_code == 503, again.get_json()
    assert again.get_json()["error"]["details"]["case_id"] == kept
    assert counts(app) == {"cases": 1, "case_images": 0, "analyses": 0}

    other = diagnose(client, headers, anamnesis={**ANAMNESIS, "bleeding": True}, extra_headers=KEY)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"

    _create_bucket(s3)  # storage is back
    retried = diagnose(client, headers, extra_headers=KEY)
    assert retried.status_code == 200, retried.get_json()
    body = retried.get_json()
    assert body["case_id"] == kept
    assert "Idempotent-Replayed" not in retried.headers
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 1}
    assert s3.list_objects_v2(Bucket=S3_BUCKET)["KeyCount"] == 1

    replayed = diagnose(client, headers, extra_headers=KEY)
    assert replayed.status_code == 200
    assert replayed.get_json() == body
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 1}
    case = client.get(f"/api/cases/{kept}", headers=headers).get_json()
    assert case["anamnesis"] == ANAMNESIS
    assert [image["id"] for image in case["images"]] == [body["image_id"]]


def test_a_retry_after_the_ai_failed_analyses_the_kept_photo_again(
    make_app,
    app,
    recording_ai,  # noqa: F811 - the fixture
    make_user,
    api_headers,
):
    client = make_app(AI_SERVICE_URL=recording_ai.url).test_client()
    headers = api_headers(make_user())
    recording_ai.delay = 0.0
    recording_ai.failing["/api/v1/diagnosis/predict"] = 500

    first = diagnose(client, headers, extra_headers=KEY)
    assert first.status_code == 502, first.get_json()
    details = first.get_json()["error"]["details"]
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 1}  # the failed run

    assert diagnose(client, headers, BLURRY, extra_headers=KEY).status_code == 422  # other photo

    recording_ai.failing.clear()
    retried = diagnose(client, headers, extra_headers=KEY)
    assert retried.status_code == 200, retried.get_json()
    body = retried.get_json()
    assert (body["case_id"], body["image_id"]) == (details["case_id"], details["image_id"])
    # One case, one photo; the failed run is kept beside the completed one.
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 2}
    with app.app_context():
        statuses = db.session.scalars(select(Analysis.status).order_by(Analysis.created_at)).all()
        db.session.remove()
    assert statuses == ["failed", "completed"]

    replayed = diagnose(client, headers, extra_headers=KEY)
    assert (replayed.status_code, replayed.get_json()) == (200, body)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 2}


def test_a_retry_into_a_case_sent_by_the_client_adds_no_second_photo(  # noqa: PLR0917
    make_app,
    app,
    recording_ai,  # noqa: F811 - the fixture
    make_user,
    api_headers,
    make_case,
):
    user = make_user()
    case_id = make_case(user)
    client = make_app(AI_SERVICE_URL=recording_ai.url).test_client()
    headers = api_headers(user)
    recording_ai.delay = 0.0
    recording_ai.failing["/api/v1/diagnosis/triage"] = 503
    assert diagnose(client, headers, case_id=case_id, extra_headers=KEY).status_code == 502
    recording_ai.failing.clear()
    retried = diagnose(client, headers, case_id=case_id, extra_headers=KEY)
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["case_id"] == str(case_id)
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 2}
