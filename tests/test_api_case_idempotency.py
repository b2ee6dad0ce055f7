"""``Idempotency-Key`` on ``POST /api/cases/<id>/images`` and ``POST /api/cases/<id>/analyze``:
a mobile client retrying after a timeout gets the first answer again, not a second photo or a
second analysis (rows counted in PostgreSQL)."""

from __future__ import annotations

import io
import threading

from sqlalchemy import func, select

from app.extensions import db
from app.models import Analysis, CaseImage, IdempotencyRecord
from tests.fixtures.cases import MELANOMA, S3_BUCKET, S3_REGION, SAMPLES
from tests.test_api_diagnosis import recording_ai  # noqa: F401 - the fixture

KEY = {"Idempotency-Key": "photo-7f3a"}
OTHER_PHOTO = SAMPLES / "images" / "vasc_ISIC_0033349.jpg"


def _rows(app, model) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
    return count


def _post_photo(client, case_id, headers, path=MELANOMA):
    return client.post(
        f"/api/cases/{case_id}/images",
        data={"image": (io.BytesIO(path.read_bytes()), path.name, "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )


# --- POST /api/cases/<id>/images ----------------------------------------------------------------


def test_a_repeated_upload_replays_the_first_image(app, client, make_user, api_headers, make_case):
    owner = make_user()
    headers = {**api_headers(owner), **KEY}
    case_id = make_case(owner)
    first = _post_photo(client, case_id, headers)
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    again = _post_photo(client, case_id, headers)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _rows(app, CaseImage) == 1

    other_photo = _post_photo(client, case_id, headers, OTHER_PHOTO)
    assert other_photo.status_code == 422
    assert other_photo.get_json()["error"]["code"] == "idempotency_key_reused"
    other_case = _post_photo(client, make_case(owner), headers)
    assert other_case.status_code == 422
    assert _rows(app, CaseImage) == 1
    # Without the key every post is a new photo, as before.
    assert _post_photo(client, case_id, api_headers(owner)).status_code == 201
    assert _rows(app, CaseImage) == 2


def test_a_refused_upload_is_replayed_with_its_status(
    app, client, make_user, api_headers, make_case
):
    owner = make_user()
    headers = {**api_headers(owner), **KEY}
    case_id = make_case(owner)
    assert client.delete(f"/api/cases/{case_id}", headers=headers).status_code in (200, 204)
    first = _post_photo(client, case_id, headers)
    assert first.status_code == 409, first.get_json()
    again = _post_photo(client, case_id, headers)
    assert (again.status_code, again.get_json()) == (409, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _rows(app, CaseImage) == 0


def test_an_upload_that_failed_in_storage_frees_its_key(
    s3_app, s3, make_user, api_headers, make_case
):
    owner = make_user()
    headers = {**api_headers(owner), **KEY}
    case_id = make_case(owner)
    client = s3_app.test_client()
    s3.delete_bucket(Bucket=S3_BUCKET)
    failed = _post_photo(client, case_id, headers)
    assert failed.status_code == 503, failed.get_json()
    assert _rows(s3_app, IdempotencyRecord) == 0  # nothing kept: the key is free again
    s3.create_bucket(Bucket=S3_BUCKET, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    retried = _post_photo(client, case_id, headers)
    assert retried.status_code == 201, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers
    assert _rows(s3_app, CaseImage) == 1


# --- POST /api/cases/<id>/analyze ---------------------------------------------------------------


def test_a_repeated_analysis_replays_the_first_one(
    ai_app, ai_client, make_user, api_headers, make_case
):
    owner = make_user()
    headers = api_headers(owner)
    case_id = make_case(owner)
    assert _post_photo(ai_client, case_id, headers).status_code == 201
    url = f"/api/cases/{case_id}/analyze"
    first = ai_client.post(url, headers={**headers, **KEY})  # no body: the newest photo
    assert first.status_code == 200, first.get_json()
    again = ai_client.post(url, json={}, headers={**headers, **KEY})  # the same request
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _rows(ai_app, Analysis) == 1

    other = ai_client.post(url, json={"accept_low_quality": True}, headers={**headers, **KEY})
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert _rows(ai_app, Analysis) == 1
    assert ai_client.post(url, headers=headers).status_code == 200  # no key: a new run
    assert _rows(ai_app, Analysis) == 2


def test_a_retry_after_the_ai_failed_analyses_the_same_photo_again(  # noqa: PLR0917
    make_app,
    app,
    recording_ai,  # noqa: F811 - the fixture
    make_user,
    api_headers,
    make_case,
):
    client = make_app(AI_SERVICE_URL=recording_ai.url).test_client()
    owner = make_user()
    headers = api_headers(owner)
    case_id = make_case(owner)
    photo = _post_photo(client, case_id, headers).get_json()
    recording_ai.delay = 0.0
    recording_ai.failing["/api/v1/diagnosis/predict"] = 500
    url = f"/api/cases/{case_id}/analyze"
    assert client.post(url, headers={**headers, **KEY}).status_code == 502
    # A newer photo arrives meanwhile; the retry still means the photo the first attempt took.
    assert _post_photo(client, case_id, headers, OTHER_PHOTO).status_code == 201
    recording_ai.failing.clear()
    retried = client.post(url, headers={**headers, **KEY})
    assert retried.status_code == 200, retried.get_json()
    assert "Idempotent-Replayed" not in retried.headers
    assert retried.get_json()["image_id"] == photo["id"]
    assert _rows(app, Analysis) == 2  # the failed run and the completed one
    replayed = client.post(url, headers={**headers, **KEY})
    assert (replayed.status_code, replayed.get_json()) == (200, retried.get_json())
    assert _rows(app, Analysis) == 2


def test_a_repeat_while_the_first_analysis_runs_is_409(  # noqa: PLR0917
    make_app,
    app,
    recording_ai,  # noqa: F811 - the fixture
    make_user,
    api_headers,
    make_case,
):
    gateway = make_app(AI_SERVICE_URL=recording_ai.url)
    owner = make_user()
    headers = api_headers(owner)
    case_id = make_case(owner)
    assert _post_photo(gateway.test_client(), case_id, headers).status_code == 201
    recording_ai.delay = 1.0
    ai_called = threading.Event()
    recording_ai.on_call = lambda _path: ai_called.set()
    url = f"/api/cases/{case_id}/analyze"
    first: list = []
    runner = threading.Thread(
        target=lambda: first.append(gateway.test_client().post(url, headers={**headers, **KEY}))
    )
    runner.start()
    assert ai_called.wait(timeout=10)  # the first request is with the AI now
    repeat = gateway.test_client().post(url, headers={**headers, **KEY})
    runner.join(timeout=30)
    assert repeat.status_code == 409, repeat.get_json()
    assert repeat.get_json()["error"]["code"] == "idempotency_in_progress"
    assert first[0].status_code == 200, first[0].get_json()
    assert _rows(app, Analysis) == 1
