"""A diagnosis on an existing case (``POST /api/diagnosis`` with ``case_id``, the portal's photo
upload, ``POST /api/cases/<id>/images`` then ``/analyze``): its transactions, and what another
request changing the case meanwhile (answers, archiving) does to it.

The answers are merged in two steps: computed from the case as read before the photo's intake
(what the AI is sent), then written under ``SELECT ... FOR UPDATE`` together with the image's
row once the photo is stored (issue #15: the merge was a transaction of its own).
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from werkzeug import Request, Response

from app.extensions import db
from app.models import Analysis, AuditEvent, Case, User
from app.services import cases
from app.services.case_images import get_storage
from tests.conftest import free_port
from tests.test_api_diagnosis import (
    ANAMNESIS,
    MELANOMA,
    VALIDITY_OK,
    RecordingAI,
    counts,
    diagnose,
)


@contextmanager
def transactions(app) -> Iterator[list[list[str]]]:
    """Collect the statements the app's engine sends, as one list per transaction (each
    statement shortened to its first three words)."""
    with app.app_context():
        engine = db.engine
    seen: list[list[str]] = []

    def begin(_conn: Any) -> None:
        seen.append([])

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen[-1].append(" ".join(sql.split()[:3]))

    event.listen(engine, "begin", begin)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", begin)
        event.remove(engine, "before_cursor_execute", statement)


#: The access token's check against the user's state, a transaction of its own when the worker
#: does not remember the token as checked (app.services.token_checks): not this request's work.
TOKEN_CHECK = ["SELECT users.id, users.email,"]


def request_work(seen: list[list[str]]) -> list[list[str]]:
    """The transactions of a request without its token check."""
    return seen[1:] if seen and seen[0] == TOKEN_CHECK else seen


def writes(transaction: list[str]) -> list[str]:
    return [s for s in transaction if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]


def archive(app, owner_id: int, case_id: uuid.UUID) -> None:
    """Archive the case as another request would (its own session and connection)."""
    with app.app_context():
        cases.archive_case(actor=db.session.get(User, owner_id), case_id=case_id)
        db.session.remove()


def case_state(app, case_id: uuid.UUID) -> tuple[Case, list[str]]:
    """The case as stored, and its audit actions in the order they were recorded."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        actions = list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.case_id == case_id)
                .order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return case, actions


@pytest.fixture
def fake_ai() -> Iterator[RecordingAI]:
    fake = RecordingAI(delay=0.05)
    fake.server.start()
    yield fake
    fake.server.clear()
    if fake.server.is_running():
        fake.server.stop()


@pytest.fixture
def gateway(make_app, app, fake_ai):
    return make_app(AI_SERVICE_URL=fake_ai.url)


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def headers(owner, api_headers) -> dict[str, str]:
    return api_headers(owner)


@pytest.fixture
def put_hook(gateway, monkeypatch) -> Callable[[Callable[[], None]], None]:
    """Run a function right after the photo's object is stored (before its row is written)."""
    with gateway.app_context():
        storage = get_storage()
    put = storage.put

    def install(after: Callable[[], None]) -> None:
        def put_then(key: str, data: Any, content_type: str) -> None:
            put(key, data, content_type)
            after()

        monkeypatch.setattr(storage, "put", put_then)

    return install


# --- transactions and round trips -------------------------------------------------------------


@pytest.mark.parametrize("answers", [ANAMNESIS, {}], ids=["with-answers", "without-answers"])
def test_a_diagnosis_into_an_existing_case_writes_in_two_transactions(
    gateway, owner, headers, make_case, answers
):
    """A read (access and consent), then the answers with the image's row, then the analysis
    (was: the answers merged and committed in a transaction of their own, and the request's
    user read again after the first transaction was rolled back; 21 round trips, now 16)."""
    case_id = make_case(owner)
    with transactions(gateway) as seen:
        response = diagnose(gateway.test_client(), headers, anamnesis=answers, case_id=case_id)
    assert response.status_code == 200, response.get_json()
    seen = request_work(seen)
    assert len(seen) == 3, seen
    read, stored, analysed = seen
    assert writes(read) == [], seen
    expected = {"INSERT INTO audit_events", "INSERT INTO case_images"}
    if answers:
        expected.add("UPDATE cases SET")
    assert set(writes(stored)) == expected, seen
    assert "INSERT INTO analyses" in writes(analysed), seen
    assert not any(s.startswith("SELECT users") for t in seen for s in t), seen


def test_an_upload_then_an_analysis_read_the_user_once(gateway, owner, headers, make_case):
    """``POST /api/cases/<id>/images`` and ``/analyze``: no transaction is held while the photo
    is read back from the storage, and the request's user is not read again after it."""
    case_id = make_case(owner)
    client = gateway.test_client()
    with transactions(gateway) as uploaded:
        response = client.post(
            f"/api/cases/{case_id}/images",
            data={"image": (io.BytesIO(MELANOMA.read_bytes()), "lesion.jpg", "image/jpeg")},
            headers=headers,
            content_type="multipart/form-data",
        )
    assert response.status_code == 201, response.get_json()
    with transactions(gateway) as analysed:
        response = client.post(f"/api/cases/{case_id}/analyze", json={}, headers=headers)
    assert response.status_code == 200, response.get_json()
    uploaded, analysed = request_work(uploaded), request_work(analysed)
    for seen in (uploaded, analysed):
        assert len(seen) == 2, seen
        assert not any(s.startswith("SELECT users") for t in seen for s in t), seen
    assert analysed[1].count("SELECT case_images.id,") == 0, analysed


# --- what the answers become ------------------------------------------------------------------


def test_answers_saved_while_the_photo_uploads_are_kept(  # noqa: PLR0917 - fixtures
    gateway, app, owner, headers, make_case, put_hook
):
    """Answers saved by another request between the diagnosis's read of the case and its write
    are kept (the write merges into the locked row as it is then); the analysis records the
    anamnesis the AI was sent, and the audit's ``before`` values are those it replaced."""
    case_id = make_case(owner)

    def answer_meanwhile() -> None:
        with app.app_context():
            actor = db.session.get(User, owner.id)
            cases.merge_answers(actor=actor, case_id=case_id, answers={"itch": 3, "bleeding": True})
            db.session.remove()

    put_hook(answer_meanwhile)
    response = diagnose(gateway.test_client(), headers, case_id=case_id)
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.anamnesis == {**ANAMNESIS, "itch": 3}
        analysis = db.session.get(Analysis, uuid.UUID(response.get_json()["analysis_id"]))
        assert analysis.inputs["anamnesis"] == ANAMNESIS
        merged = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.action == "case.update")
            .order_by(AuditEvent.id)
        ).all()[-1]
        assert merged.details["changes"]["anamnesis.bleeding"] == {"before": True, "after": False}
        db.session.remove()


@pytest.mark.usefixtures("aws_credentials")
def test_storage_down_keeps_the_answers_of_an_existing_case(  # noqa: PLR0917 - fixtures
    make_app, app, fake_ai, owner, api_headers, make_case
):
    headers = api_headers(owner)
    gateway = make_app(
        AI_SERVICE_URL=fake_ai.url,
        STORAGE_BACKEND="s3",
        S3_BUCKET="images",
        S3_REGION="us-east-1",
        S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens there
    )
    case_id = make_case(owner)
    response = diagnose(gateway.test_client(), headers, case_id=case_id)
    assert response.status_code == 503, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "storage_unavailable"
    assert error["details"]["case_id"] == str(case_id)
    case, actions = case_state(app, case_id)
    assert case.anamnesis == ANAMNESIS
    assert actions == ["case.create", "case.update"]
    assert counts(app) == {"cases": 1, "case_images": 0, "analyses": 0}


def test_a_failing_image_row_leaves_neither_the_answers_nor_the_object(
    gateway, app, owner, headers, make_case
):
    """The answers and the image's row are one transaction: when the row cannot be written,
    neither is (nothing half-written), and the stored object is deleted again."""
    from tests.test_api_case_images import admin_connection

    case_id = make_case(owner)
    with admin_connection(app) as conn:
        conn.execute(
            """
            CREATE FUNCTION refuse_case_image() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'case_images is read-only in this test'; END $$;
            CREATE TRIGGER refuse_case_image BEFORE INSERT ON case_images
                FOR EACH ROW EXECUTE FUNCTION refuse_case_image();
            """
        )
    try:
        response = diagnose(gateway.test_client(), headers, case_id=case_id)
    finally:
        with admin_connection(app) as conn:
            conn.execute(
                "DROP TRIGGER refuse_case_image ON case_images; DROP FUNCTION refuse_case_image();"
            )
    assert response.status_code == 500, response.get_json()
    case, actions = case_state(app, case_id)
    assert case.anamnesis == {}
    assert actions == ["case.create"]
    with gateway.app_context():
        assert list(get_storage().iter_keys(f"cases/{case_id}/")) == []


# --- archived by another request meanwhile ---------------------------------------------------


@pytest.mark.parametrize("answers", [ANAMNESIS, {}], ids=["with-answers", "without-answers"])
def test_a_case_archived_while_the_photo_uploads_keeps_no_answers_and_no_image(  # noqa: PLR0917 - fixtures
    gateway, app, owner, headers, make_case, put_hook, answers
):
    case_id = make_case(owner)
    put_hook(lambda: archive(app, owner.id, case_id))
    response = diagnose(gateway.test_client(), headers, anamnesis=answers, case_id=case_id)
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]["code"] == "case_archived"
    case, actions = case_state(app, case_id)
    assert (case.status, case.anamnesis) == ("archived", {})
    assert actions == ["case.create", "case.archive"]
    assert counts(app) == {"cases": 1, "case_images": 0, "analyses": 0}
    with gateway.app_context():
        assert list(get_storage().iter_keys(f"cases/{case_id}/")) == []


def test_an_image_upload_to_a_case_archived_meanwhile_gets_no_row(  # noqa: PLR0917 - fixtures
    gateway, app, owner, headers, make_case, put_hook
):
    case_id = make_case(owner)
    put_hook(lambda: archive(app, owner.id, case_id))
    response = gateway.test_client().post(
        f"/api/cases/{case_id}/images",
        data={"image": (io.BytesIO(MELANOMA.read_bytes()), "lesion.jpg", "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 409, response.get_json()
    assert counts(app) == {"cases": 1, "case_images": 0, "analyses": 0}
    with gateway.app_context():
        assert list(get_storage().iter_keys(f"cases/{case_id}/")) == []


def test_a_photo_rejected_by_the_ai_leaves_a_case_archived_meanwhile_archived(  # noqa: PLR0917 - fixtures
    gateway, app, fake_ai, owner, headers, make_case
):
    """The move to ``awaiting_image`` after a rejected photo reads the case as it is then (the
    session still holds the copy it read before the photo was stored)."""
    case_id = make_case(owner)
    rejected = dict(VALIDITY_OK, isValid=False, issues=["Image is too blurry"])
    fake_ai.server.clear()

    def reject_and_archive(_request: Request) -> Response:
        archive(app, owner.id, case_id)
        return Response(json.dumps(rejected), content_type="application/json")

    fake_ai.server.expect_request("/api/v1/image_quality/validate").respond_with_handler(
        reject_and_archive
    )
    for path in ("/api/v1/diagnosis/predict", "/api/v1/diagnosis/red_flags"):
        fake_ai.server.expect_request(path).respond_with_handler(fake_ai._handle)
    response = diagnose(gateway.test_client(), headers, anamnesis={}, case_id=case_id)
    assert response.status_code == 422, response.get_json()
    case, _ = case_state(app, case_id)
    assert case.status == "archived"


@contextmanager
def archive_after_read(
    gateway, app, owner_id: int, case_id: uuid.UUID
) -> Iterator[tuple[Callable[[], None], list[threading.Thread]]]:
    """Once armed, after the next read of a case, archive the case from another thread and give
    it 0.5 s: without a row lock it commits before this request writes; with one it waits for
    this request's commit. Yields the function that arms it and the thread (once started; its
    ``waited`` says whether it was still waiting after the 0.5 s)."""
    with gateway.app_context():
        engine = db.engine
    armed = threading.Event()
    archivers: list[threading.Thread] = []

    def after(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if armed.is_set() and not archivers and sql.startswith("SELECT cases.id"):
            archiver = threading.Thread(target=archive, args=(app, owner_id, case_id))
            archivers.append(archiver)
            archiver.start()
            archiver.join(timeout=0.5)
            archiver.waited = archiver.is_alive()  # type: ignore[attr-defined]

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield armed.set, archivers
    finally:
        for archiver in archivers:
            archiver.join(timeout=10)
        event.remove(engine, "after_cursor_execute", after)


def test_an_archive_during_the_analysis_write_is_not_overwritten(  # noqa: PLR0917 - fixtures
    gateway, app, fake_ai, owner, headers, make_case
):
    """An archive that arrives between the analysis transaction's read of the case and its
    move to ``analyzed`` waits for that commit and then archives the case (was: it committed
    in between and the move to ``analyzed`` overwrote it, un-archiving the case)."""
    case_id = make_case(owner)
    with archive_after_read(gateway, app, owner.id, case_id) as (arm, archivers):
        fake_ai.on_call = lambda path: arm() if path.endswith("/triage") else None
        response = diagnose(gateway.test_client(), headers, anamnesis={}, case_id=case_id)
    assert archivers, "the hook did not run"
    assert response.status_code == 200, response.get_json()
    case, actions = case_state(app, case_id)
    assert case.status == "archived"
    assert archivers[0].waited
    assert "case.analyze" in actions


def test_an_archive_during_the_image_write_waits_for_it(  # noqa: PLR0917 - fixtures
    gateway, app, owner, headers, make_case, put_hook
):
    """An archive that arrives between the upload's check of the case and the image row's
    commit waits for that commit (was possible with the plain read: an image row added to a
    case archived a moment before)."""
    case_id = make_case(owner)
    with archive_after_read(gateway, app, owner.id, case_id) as (arm, archivers):
        put_hook(arm)
        response = diagnose(gateway.test_client(), headers, anamnesis={}, case_id=case_id)
    assert archivers, "the hook did not run"
    case, actions = case_state(app, case_id)
    assert archivers[0].waited, "the archive did not wait for the image's commit"
    assert (case.status, "image.upload" in actions) == ("archived", True)
    # The analysis finds the case archived: it is not stored, the case stays archived.
    assert response.status_code == 409, response.get_json()
    assert counts(app) == {"cases": 1, "case_images": 1, "analyses": 0}
