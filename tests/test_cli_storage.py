"""``flask storage purge-orphans``: a planted orphan of each kind, in a local folder and in S3.

Real PostgreSQL; the local folder is a fresh temporary one per test, S3 is moto's. Images are
uploaded through the case images service; the orphans are planted behind its back, directly in
the store: an object without a row (``put``) and a row without an object (``delete``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.models import Analysis, AuditEvent, CaseImage, User
from app.services import case_images
from tests.fixtures.cases import MELANOMA, S3_BUCKET


@pytest.fixture
def local_app(app: Flask, make_app: Callable[..., Flask], tmp_path: Path) -> Iterator[Flask]:
    """An app storing images in a folder of its own (the session's folder holds other tests')."""
    local = make_app(STORAGE_BACKEND="local", LOCAL_STORAGE_PATH=str(tmp_path / "images"))
    yield local
    with local.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(params=["local", "s3"])
def store_app(request: pytest.FixtureRequest) -> Flask:
    """The app on each storage backend in turn."""
    return request.getfixturevalue("local_app" if request.param == "local" else "s3_app")


def _purge(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["storage", "purge-orphans", *args])


def _upload(app: Flask, owner: Any, case_id: uuid.UUID) -> tuple[uuid.UUID, str]:
    with app.app_context():
        actor = db.session.get(User, owner.id)
        with MELANOMA.open("rb") as photo:
            image = case_images.add_image(actor=actor, case_id=case_id, stream=photo)
        found = image.id, image.storage_key
        db.session.remove()
    return found


@pytest.fixture
def planted(
    store_app: Flask, make_user: Callable[..., Any], make_case: Callable[..., uuid.UUID]
) -> dict[str, Any]:
    """A healthy image, an image row whose object was deleted, and an object without a row
    (with an analysis of the row-without-object image, which must keep its results)."""
    owner = make_user()
    case_id = make_case(owner)
    healthy_id, healthy_key = _upload(store_app, owner, case_id)
    lost_id, lost_key = _upload(store_app, owner, case_id)
    stray_key = f"cases/{case_id}/{uuid.uuid4()}.jpg"
    with store_app.app_context():
        storage = case_images.get_storage()
        storage.delete(lost_key)
        storage.put(stray_key, MELANOMA.read_bytes(), "image/jpeg")
        analysis = Analysis(
            case_id=case_id,
            image_id=lost_id,
            status="completed",
            model_version="reference-1.0",
            predictions=[{"disease": "Melanoma", "probability": 0.7, "confidence": "medium"}],
        )
        db.session.add(analysis)
        db.session.commit()
        analysis_id = analysis.id
        db.session.remove()
    return {
        "case_id": case_id,
        "healthy": (healthy_id, healthy_key),
        "lost": (lost_id, lost_key),
        "stray_key": stray_key,
        "analysis_id": analysis_id,
    }


def _state(app: Flask, planted: dict[str, Any]) -> dict[str, Any]:
    with app.app_context():
        storage = case_images.get_storage()
        rows = set(db.session.scalars(select(CaseImage.id)))
        state = {
            "stray_object": storage.exists(planted["stray_key"]),
            "healthy_object": storage.exists(planted["healthy"][1]),
            "healthy_row": planted["healthy"][0] in rows,
            "lost_row": planted["lost"][0] in rows,
            "analysis_image_id": db.session.get(Analysis, planted["analysis_id"]).image_id,
            "purge_events": [
                (event.action, event.actor_id, event.case_id, event.image_id, event.details)
                for event in db.session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.action.like("image.purge%"))
                    .order_by(AuditEvent.id)
                )
            ],
        }
        db.session.remove()
    return state


def test_dry_run_reports_both_orphans_and_deletes_nothing(
    store_app: Flask, planted: dict[str, Any]
) -> None:
    result = _purge(store_app, "--dry-run", "--min-age", "0")
    assert result.exit_code == 0, result.output

    lost_id, lost_key = planted["lost"]
    lines = result.output.splitlines()
    assert "Objects without an image row: 1" in lines
    assert any(
        line.startswith(f"  would delete  {planted['stray_key']}  (written ") for line in lines
    )
    assert "Image rows without an object: 1" in lines
    assert f"  would delete  image {lost_id} of case {planted['case_id']}  ({lost_key})" in lines
    assert planted["healthy"][1] not in result.output
    assert "Dry run: nothing deleted. Without --dry-run: 1 object and 1 image row go." in lines

    assert _state(store_app, planted) == {
        "stray_object": True,
        "healthy_object": True,
        "healthy_row": True,
        "lost_row": True,
        "analysis_image_id": lost_id,
        "purge_events": [],
    }


def test_purge_deletes_both_orphans_audits_them_and_keeps_the_rest(
    store_app: Flask, planted: dict[str, Any]
) -> None:
    result = _purge(store_app, "--min-age", "0")
    assert result.exit_code == 0, result.output
    lost_id, lost_key = planted["lost"]
    assert f"  deleted  image {lost_id} of case {planted['case_id']}  ({lost_key})" in result.output
    assert f"  deleted  {planted['stray_key']}" in result.output
    assert "Deleted 1 object and 1 image row." in result.output

    stray_image_id = uuid.UUID(planted["stray_key"].rsplit("/", 1)[1].removesuffix(".jpg"))
    assert _state(store_app, planted) == {
        "stray_object": False,
        "healthy_object": True,
        "healthy_row": True,
        "lost_row": False,
        "analysis_image_id": None,  # the analysis keeps its results without its image
        "purge_events": [
            (
                "image.purge_object",
                None,
                planted["case_id"],
                stray_image_id,
                {"storage_key": planted["stray_key"], "reason": "no image row"},
            ),
            (
                "image.purge",
                None,
                planted["case_id"],
                lost_id,
                {"storage_key": lost_key, "reason": "object missing"},
            ),
        ],
    }

    again = _purge(store_app, "--min-age", "0")
    assert again.exit_code == 0, again.output
    assert "Objects without an image row: 0" in again.output
    assert "Image rows without an object: 0" in again.output
    assert "Deleted 0 objects and 0 image rows." in again.output


def test_recent_objects_without_a_row_are_left_alone_by_default(
    local_app: Flask, make_user: Callable[..., Any], make_case: Callable[..., uuid.UUID]
) -> None:
    # An upload stores its object before its row: a fresh object without a row may be one.
    case_id = make_case(make_user())
    key = f"cases/{case_id}/{uuid.uuid4()}.jpg"
    with local_app.app_context():
        storage = case_images.get_storage()
        storage.put(key, b"\xff\xd8 not really a photo", "image/jpeg")
        path = Path(storage.root) / key  # type: ignore[attr-defined]

    result = _purge(local_app)
    assert result.exit_code == 0, result.output
    assert "Objects without an image row: 0" in result.output
    assert "Left alone: 1 object without a row written less than 60 minutes ago" in result.output
    assert f"  kept  {key}" in result.output
    assert path.exists()

    two_hours_ago = time.time() - 2 * 3600
    os.utime(path, (two_hours_ago, two_hours_ago))
    result = _purge(local_app)
    assert result.exit_code == 0, result.output
    assert f"  deleted  {key}" in result.output
    assert not path.exists()


def test_storage_failure_exits_non_zero(s3_app: Flask, s3: Any) -> None:
    s3.delete_bucket(Bucket=S3_BUCKET)
    result = _purge(s3_app, "--dry-run")
    assert result.exit_code == 1
    assert "Error: The stored images could not be listed." in result.output


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_modified_at_is_aware_utc_and_missing_objects_are_not_found(
    backend: str, request: pytest.FixtureRequest
) -> None:
    store_app = request.getfixturevalue("local_app" if backend == "local" else "s3_app")
    key = f"cases/{uuid.uuid4()}/{uuid.uuid4()}.jpg"
    with store_app.app_context():
        storage = case_images.get_storage()
        before = datetime.now(UTC) - timedelta(seconds=2)
        storage.put(key, b"data", "image/jpeg")
        written = storage.modified_at(key)
        assert written.tzinfo is not None and written.utcoffset() == timedelta(0)
        assert before <= written <= datetime.now(UTC) + timedelta(seconds=2)
        with pytest.raises(NotFound):
            storage.modified_at(f"cases/{uuid.uuid4()}/missing.jpg")
