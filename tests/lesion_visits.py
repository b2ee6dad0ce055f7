"""Helpers for the lesion tests: a demo-like lesion seen three times, analysed by the
reference AI over real HTTP (``ai_client``), through the services and ``POST /api/diagnosis``.

The three visits' answers are those of ``flask demo seed`` (:mod:`app.services.lesions.demo`):
a flat light-brown mole of 5 mm, 6 mm a year later, then 9 mm, three colours, asymmetric,
irregular border, changed in size and colour. The fixtures ``older_reference_ai_url`` /
``older_ai_app`` (a second reference AI serving the older model) are in
``tests/fixtures/lesions.py``.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

from app.extensions import db
from app.models import User
from app.services.lesions import demo, lesions, patients, visits
from tests.fixtures.cases import SAMPLES

#: The demo lesion's visits (photo, answers), with the age of a patient born in 1981 in 2026.
VISITS: list[tuple[Path, dict[str, Any]]] = [
    (SAMPLES / "images" / visit.photo, {"age": 45, **visit.answers}) for visit in demo.VISITS
]


def diagnose(
    client: Any, headers: dict[str, str], case_id: uuid.UUID, photo: Path, anamnesis: dict[str, Any]
) -> dict[str, Any]:
    """POST /api/diagnosis for a case; assert it succeeded; return the body."""
    response = client.post(
        "/api/diagnosis",
        data={
            "image": (io.BytesIO(photo.read_bytes()), photo.name, "image/jpeg"),
            "anamnesis": json.dumps(anamnesis),
            "case_id": str(case_id),
        },
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def make_lesion(
    app: Any, owner: Any, *, reference: str = "PT-LESION-1", birth_year: int | None = 1981
) -> tuple[uuid.UUID, uuid.UUID]:
    """A patient and a lesion on the back for ``owner``; return (patient id, lesion id)."""
    with app.app_context():
        actor = db.session.get(User, owner.id)
        patient = patients.create_patient(actor=actor, reference=reference, birth_year=birth_year)
        lesion = lesions.create_lesion(
            actor=actor,
            patient_id=patient.id,
            label="left scapula, naevus",
            body_site="back",
            map_x=0.38,
            map_y=0.27,
            map_view="back",
        )
        ids = patient.id, lesion.id
        db.session.remove()
    return ids


def new_visit(app: Any, owner: Any, lesion_id: uuid.UUID) -> uuid.UUID:
    """A new visit (case) of ``lesion_id`` opened by ``owner``; its id."""
    with app.app_context():
        case_id = visits.new_visit(actor=db.session.get(User, owner.id), lesion_id=lesion_id).id
        db.session.remove()
    return case_id


def seen_three_times(
    app: Any, client: Any, headers: dict[str, str], owner: Any, count: int = 3
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A lesion with ``count`` visits, each analysed; return (lesion id, case ids)."""
    _, lesion_id = make_lesion(app, owner)
    case_ids = []
    for photo, anamnesis in VISITS[:count]:
        case_id = new_visit(app, owner, lesion_id)
        diagnose(client, headers, case_id, photo, anamnesis)
        case_ids.append(case_id)
    return lesion_id, case_ids


def seen_by_two_models(
    app: Any, older_app: Any, owner: Any, headers: dict[str, str], *, older_first: bool = True
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A lesion whose two visits were analysed by two model versions (``older_app``'s reference
    AI serves the older one; the first visit by it unless ``older_first`` is false, the second
    with the demo's third answers and photo); return (lesion id, first visit, second visit)."""
    first, second = (older_app, app) if older_first else (app, older_app)
    lesion_id, (v1,) = seen_three_times(first, first.test_client(), headers, owner, count=1)
    v2 = new_visit(app, owner, lesion_id)
    diagnose(second.test_client(), headers, v2, *VISITS[2])
    return lesion_id, v1, v2
