"""The cases API: create, list, read, update, archive, answers; authorisation matrix; audit."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEvent, Case, CaseImage
from app.models.base import utcnow
from app.services.clinical_terms import BODY_SITES
from tests.fixtures.cases import MELANOMA, case_payload

# --- helpers --------------------------------------------------------------------------------


#: The answers a case opened with ``case_payload()`` starts with (its age, sex and body site).
STARTING_ANSWERS = {"age": 54, "sex": "female", "location1.primary": "back"}


def create(client, headers, **overrides):
    response = client.post("/api/cases", json=case_payload(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def set_columns(app, case_id, **values):
    """Set workflow columns the API does not expose (created_at, urgency, status)."""
    with app.app_context():
        db.session.execute(update(Case).where(Case.id == case_id).values(**values))
        db.session.commit()


def audit_events(app, **where):
    with app.app_context():
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        events = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return events


# --- create ---------------------------------------------------------------------------------


def test_create_case_answers_201_with_location_and_the_case(client, make_user, api_headers):
    headers = api_headers(make_user())
    response = client.post(
        "/api/cases", json=case_payload(patient_reference="  PT-7  "), headers=headers
    )
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/cases/{body['id']}"
    assert body["patient_reference"] == "PT-7"  # trimmed
    # the facts given are the first answers, as for a case opened on the portal
    assert body["status"] == "questionnaire"
    assert body["anamnesis"] == STARTING_ANSWERS
    assert body["images"] == []
    assert body["latest_analysis"] is None
    assert body["review"] is None
    assert body["urgency"] is None
    assert uuid.UUID(body["id"])
    assert client.get(response.headers["Location"], headers=headers).status_code == 200


def test_create_case_without_optional_fitzpatrick(client, make_user, api_headers):
    payload = case_payload()
    del payload["fitzpatrick_type"]
    response = client.post("/api/cases", json=payload, headers=api_headers(make_user()))
    assert response.status_code == 201
    assert response.get_json()["fitzpatrick_type"] is None


def test_create_case_missing_fields_are_named(client, make_user, api_headers):
    response = client.post("/api/cases", json={}, headers=api_headers(make_user()))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert set(error["details"]) == {
        "patient_reference",
        "patient_age",
        "patient_sex",
        "body_site",
        "chief_complaint",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("patient_reference", ""),
        ("patient_reference", "   "),
        ("patient_reference", "x" * 65),
        ("patient_age", -1),
        ("patient_age", 121),
        ("patient_age", "54"),
        ("patient_age", True),
        ("patient_age", 54.5),
        ("patient_sex", "f"),
        ("body_site", "elbow"),
        ("fitzpatrick_type", "VII"),
        ("fitzpatrick_type", "ii"),
        ("chief_complaint", ""),
        ("chief_complaint", "x" * 2001),
    ],
)
def test_create_case_invalid_field_is_named(client, make_user, api_headers, field, value):
    response = client.post(
        "/api/cases", json=case_payload(**{field: value}), headers=api_headers(make_user())
    )
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["error"]["details"]) == [field]


def test_create_case_rejects_an_email_as_patient_reference(client, make_user, api_headers):
    response = client.post(
        "/api/cases",
        json=case_payload(patient_reference="jane.doe@example.org"),
        headers=api_headers(make_user()),
    )
    assert response.status_code == 422
    message = response.get_json()["error"]["details"]["patient_reference"]
    assert "pseudonymous" in message


def test_create_case_limits_are_inclusive(client, make_user, api_headers):
    headers = api_headers(make_user())
    for age in (0, 120):
        assert create(client, headers, patient_age=age)["patient_age"] == age
    body = create(client, headers, patient_reference="r" * 64, chief_complaint="c" * 2000)
    assert len(body["chief_complaint"]) == 2000


def test_every_documented_body_site_is_accepted(client, make_user, api_headers):
    headers = api_headers(make_user())
    for site in BODY_SITES:
        assert create(client, headers, body_site=site)["body_site"] == site


def test_create_case_unknown_field_and_wrong_body(client, make_user, api_headers):
    headers = api_headers(make_user())
    response = client.post("/api/cases", json=case_payload(status="reviewed"), headers=headers)
    assert response.status_code == 422
    assert "status" in response.get_json()["error"]["details"]
    response = client.post("/api/cases", data="patient_age=3", headers=headers)
    assert response.status_code == 415
    response = client.post(
        "/api/cases", data="{not json", headers=headers, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"


def test_cases_api_requires_a_token(client):
    assert client.get("/api/cases").status_code == 401
    assert client.post("/api/cases", json=case_payload()).status_code == 401


# --- read -----------------------------------------------------------------------------------


def test_invalid_uuid_in_path_is_404_in_error_shape(client, make_user, api_headers):
    headers = api_headers(make_user())
    for path in (
        "/api/cases/not-a-uuid",
        f"/api/cases/{uuid.uuid4()}/images/not-a-uuid",
        "/api/cases/123/answers",
    ):
        for method in ("get", "patch", "delete"):
            response = getattr(client, method)(path, headers=headers)
            assert response.status_code == 404, (method, path)
            assert response.get_json()["error"]["code"] == "not_found"


def test_unknown_case_and_someone_elses_case_answer_the_same_404(
    client, make_user, api_headers, make_case
):
    owner, other = make_user(), make_user()
    case_id = make_case(owner)
    headers = api_headers(other)
    theirs = client.get(f"/api/cases/{case_id}", headers=headers)
    missing = client.get(f"/api/cases/{uuid.uuid4()}", headers=headers)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_json() == missing.get_json()
    assert theirs.get_json()["error"]["code"] == "case_not_found"


# --- list -----------------------------------------------------------------------------------


@pytest.fixture
def listed(app, client, make_user, api_headers):
    """Physician A with 5 cases (1 minute apart, newest last), B with 2, and an admin."""
    a, b, admin = make_user(), make_user(), make_user(role="admin")
    ha, hb, hadmin = api_headers(a), api_headers(b), api_headers(admin)
    refs = ["PT-001", "pt-002", "A_B%1", "AXB1", "Derm-77"]
    base = utcnow() - timedelta(hours=1)
    a_ids = []
    for minute, ref in enumerate(refs):
        case_id = create(client, ha, patient_reference=ref)["id"]
        set_columns(app, case_id, created_at=base + timedelta(minutes=minute))
        a_ids.append(case_id)
    b_ids = []
    for minute, ref in enumerate(["B-1", "B-2"]):
        case_id = create(client, hb, patient_reference=ref)["id"]
        set_columns(app, case_id, created_at=base + timedelta(minutes=10 + minute))
        b_ids.append(case_id)
    return {"a": ha, "b": hb, "admin": hadmin, "a_ids": a_ids, "b_ids": b_ids}


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_list_shows_own_cases_newest_first(client, listed):
    response = client.get("/api/cases", headers=listed["a"])
    assert ids(response) == list(reversed(listed["a_ids"]))
    body = response.get_json()
    assert body["total"] == 5
    assert body["page"] == 1
    assert body["per_page"] == 20
    assert "anamnesis" not in body["items"][0]
    assert ids(client.get("/api/cases", headers=listed["b"])) == list(reversed(listed["b_ids"]))


def test_admin_lists_every_case(client, listed):
    expected = list(reversed(listed["b_ids"])) + list(reversed(listed["a_ids"]))
    response = client.get("/api/cases", headers=listed["admin"])
    assert ids(response) == expected
    assert response.get_json()["total"] == 7


def test_list_search_by_reference_is_case_insensitive_and_escapes_wildcards(client, listed):
    def search(q):
        return ids(client.get("/api/cases", query_string={"q": q}, headers=listed["a"]))

    a = listed["a_ids"]
    assert search("pt-00") == [a[1], a[0]]
    assert search("PT-002") == [a[1]]
    assert search("derm") == [a[4]]
    assert search("a_b") == [a[2]]  # "_" is literal: AXB1 does not match
    assert search("%") == [a[2]]
    assert search("B-1") == []  # someone else's case is never found
    assert ids(client.get("/api/cases?q=B-", headers=listed["admin"])) == list(
        reversed(listed["b_ids"])
    )


def test_list_filters_by_status_and_urgency(app, client, listed):
    a = listed["a_ids"]
    set_columns(app, a[0], status="analyzed", urgency="high")
    set_columns(app, a[1], status="analyzed", urgency="low")
    set_columns(app, a[2], urgency="high")

    def listing(**query):
        return ids(client.get("/api/cases", query_string=query, headers=listed["a"]))

    assert listing(status="analyzed") == [a[1], a[0]]
    assert listing(urgency="high") == [a[2], a[0]]
    assert listing(status="analyzed", urgency="high") == [a[0]]
    assert listing(status="reviewed") == []


def test_archived_cases_are_listed_only_on_request(client, listed):
    a = listed["a_ids"]
    assert client.delete(f"/api/cases/{a[0]}", headers=listed["a"]).status_code == 200
    assert a[0] not in ids(client.get("/api/cases", headers=listed["a"]))
    assert ids(client.get("/api/cases?status=archived", headers=listed["a"])) == [a[0]]


def test_list_pagination(app, client, make_user, api_headers):
    headers = api_headers(make_user())
    base = utcnow() - timedelta(days=1)
    created = []
    for n in range(25):
        case_id = create(client, headers, patient_reference=f"P-{n:02d}")["id"]
        set_columns(app, case_id, created_at=base + timedelta(minutes=n))
        created.append(case_id)
    newest_first = list(reversed(created))

    pages = []
    for page in (1, 2, 3, 4):
        response = client.get(f"/api/cases?page={page}&per_page=10", headers=headers)
        assert response.get_json()["total"] == 25
        pages.append(ids(response))
    assert [len(p) for p in pages] == [10, 10, 5, 0]
    assert pages[0] + pages[1] + pages[2] == newest_first
    assert len(ids(client.get("/api/cases?per_page=100", headers=headers))) == 25


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("page=99999999999999999999", "page"),
        ("page=x", "page"),
        ("status=deleted", "status"),
        ("urgency=critical", "urgency"),
        ("perpage=10", "perpage"),
    ],
)
def test_list_rejects_bad_query(client, make_user, api_headers, query, field):
    response = client.get(f"/api/cases?{query}", headers=api_headers(make_user()))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert list(error["details"]) == [field]


# --- update and archive ---------------------------------------------------------------------


def test_patch_changes_only_the_given_fields(client, make_user, api_headers):
    headers = api_headers(make_user())
    case = create(client, headers)
    response = client.patch(
        f"/api/cases/{case['id']}",
        json={"body_site": "forearm", "physician_notes": "  Dermoscopy: atypical network.  "},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["body_site"] == "forearm"
    assert body["physician_notes"] == "Dermoscopy: atypical network."
    assert body["patient_age"] == case["patient_age"]
    assert body["fitzpatrick_type"] == "II"
    assert body["updated_at"] > case["updated_at"]

    response = client.patch(
        f"/api/cases/{case['id']}",
        json={"fitzpatrick_type": None, "physician_notes": None},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["fitzpatrick_type"] is None
    assert response.get_json()["physician_notes"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"patient_age": None}, "patient_age"),
        ({"patient_reference": None}, "patient_reference"),
        ({"patient_age": 130}, "patient_age"),
        ({"body_site": "knee"}, "body_site"),
        ({"patient_reference": "someone@clinic.example"}, "patient_reference"),
        ({"status": "reviewed"}, "status"),
        ({"owner_id": 2}, "owner_id"),
        ({"physician_notes": "n" * 10_001}, "physician_notes"),
        ({}, "body"),
    ],
)
def test_patch_rejects_bad_changes(client, make_user, api_headers, body, field):
    headers = api_headers(make_user())
    case = create(client, headers)
    response = client.patch(f"/api/cases/{case['id']}", json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["error"]["details"]) == [field]
    unchanged = client.get(f"/api/cases/{case['id']}", headers=headers).get_json()
    assert unchanged["status"] == "questionnaire"


def test_archive_keeps_the_case_read_only(app, client, make_user, api_headers, upload):
    headers = api_headers(make_user())
    case_id = create(client, headers)["id"]
    image = upload(case_id, headers).get_json()

    response = client.delete(f"/api/cases/{case_id}", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "archived"
    with app.app_context():  # no hard delete: the row and its image are still there
        assert db.session.get(Case, uuid.UUID(case_id)).status == "archived"
        assert db.session.get(CaseImage, uuid.UUID(image["id"])) is not None

    assert client.get(f"/api/cases/{case_id}", headers=headers).status_code == 200
    assert client.get(image["url"], headers=headers).status_code == 200
    for response in (
        client.patch(f"/api/cases/{case_id}", json={"patient_age": 3}, headers=headers),
        client.post(f"/api/cases/{case_id}/answers", json={"itch": True}, headers=headers),
        upload(case_id, headers),
        client.delete(image["url"], headers=headers),
    ):
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "case_archived"

    again = client.delete(f"/api/cases/{case_id}", headers=headers)
    assert again.status_code == 200
    assert len(audit_events(app, action="case.archive")) == 1  # archiving twice is a no-op


# --- answers --------------------------------------------------------------------------------


def test_answers_merge_into_the_anamnesis(client, make_user, api_headers):
    headers = api_headers(make_user())
    case_id = create(client, headers)["id"]
    first = client.post(
        f"/api/cases/{case_id}/answers",
        json={"itch": True, "duration_weeks": 12, "history.family_melanoma": "no"},
        headers=headers,
    )
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "questionnaire"
    second = client.post(
        f"/api/cases/{case_id}/answers",
        json={"itch": False, "symptoms": ["bleeding", "growth"]},
        headers=headers,
    )
    assert second.status_code == 200
    assert second.get_json()["anamnesis"] == {
        **STARTING_ANSWERS,
        "itch": False,
        "duration_weeks": 12,
        "history.family_melanoma": "no",
        "symptoms": ["bleeding", "growth"],
    }
    assert second.get_json()["status"] == "questionnaire"


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"lesion": {"size_mm": 6}}, "answers.lesion"),
        ({"symptoms": ["itch", 3]}, "answers.symptoms"),
        ({"note": "x" * 5000}, "answers.note"),
        ({"note": None}, "answers.note"),
        ({f"q{n}": True for n in range(201)}, "answers"),
        ({"k" * 101: True}, None),
        ({}, "answers"),
    ],
)
def test_answers_shape_errors_are_422(client, make_user, api_headers, answers, field):
    headers = api_headers(make_user())
    case_id = create(client, headers)["id"]
    response = client.post(f"/api/cases/{case_id}/answers", json=answers, headers=headers)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    if field is not None:
        assert field in error["details"]
    case = client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert case["anamnesis"] == STARTING_ANSWERS
    assert case["status"] == "questionnaire"


def test_answers_that_would_overflow_the_anamnesis_are_refused(client, make_user, api_headers):
    headers = api_headers(make_user())
    case_id = create(client, headers)["id"]
    first = {f"q{n}": n for n in range(150)}
    assert (
        client.post(f"/api/cases/{case_id}/answers", json=first, headers=headers).status_code == 200
    )
    more = {f"extra{n}": n for n in range(60)}
    response = client.post(f"/api/cases/{case_id}/answers", json=more, headers=headers)
    assert response.status_code == 422
    assert "anamnesis" in response.get_json()["error"]["details"]
    case = client.get(f"/api/cases/{case_id}", headers=headers).get_json()
    assert case["anamnesis"] == {**STARTING_ANSWERS, **first}


def test_answers_body_must_be_a_json_object(client, make_user, api_headers):
    headers = api_headers(make_user())
    case_id = create(client, headers)["id"]
    response = client.post(f"/api/cases/{case_id}/answers", json=["itch"], headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "json_not_object"


# --- authorisation matrix -------------------------------------------------------------------

OWNER, OTHER, ADMIN, ANONYMOUS = "owner", "other physician", "admin", "anonymous"

# endpoint → expected status for (owner, other physician, admin, anonymous)
MATRIX = {
    "list cases": (200, 200, 200, 401),
    "create case": (201, 201, 201, 401),
    "read case": (200, 404, 200, 401),
    "update case": (200, 404, 200, 401),
    "archive case": (200, 404, 200, 401),
    "merge answers": (200, 404, 200, 401),
    "upload image": (201, 404, 201, 401),
    "view image": (200, 404, 200, 401),
    "delete image": (204, 404, 204, 401),
}
ROLES = (OWNER, OTHER, ADMIN, ANONYMOUS)


@pytest.fixture
def matrix_case(client, make_user, api_headers, upload):
    """An owner's case with one image, and the three other kinds of caller."""
    owner = make_user(email="owner@example.org")
    actors = {
        OWNER: owner,
        OTHER: make_user(email="other@example.org"),
        ADMIN: make_user(email="admin@example.org", role="admin"),
    }
    owner_headers = api_headers(owner)
    case_id = create(client, owner_headers)["id"]
    image = upload(case_id, owner_headers).get_json()
    headers = {role: api_headers(user) for role, user in actors.items()} | {ANONYMOUS: {}}
    return {"case_id": case_id, "image": image, "headers": headers}


CELLS = [
    (endpoint, role, statuses[index])
    for endpoint, statuses in MATRIX.items()
    for index, role in enumerate(ROLES)
]


@pytest.mark.parametrize("cell", CELLS, ids=[f"{e} as {r} -> {x}" for e, r, x in CELLS])
def test_authorisation_matrix(client, upload, matrix_case, cell):
    endpoint, role, expected = cell
    case_id, image = matrix_case["case_id"], matrix_case["image"]
    headers = matrix_case["headers"][role]
    owner_headers = matrix_case["headers"][OWNER]
    case_url = f"/api/cases/{case_id}"

    requests = {
        "list cases": lambda: client.get("/api/cases", headers=headers),
        "create case": lambda: client.post("/api/cases", json=case_payload(), headers=headers),
        "read case": lambda: client.get(case_url, headers=headers),
        "update case": lambda: client.patch(
            case_url, json={"physician_notes": "seen"}, headers=headers
        ),
        "archive case": lambda: client.delete(case_url, headers=headers),
        "merge answers": lambda: client.post(
            f"{case_url}/answers", json={"itch": True}, headers=headers
        ),
        "upload image": lambda: upload(case_id, headers, MELANOMA),
        "view image": lambda: client.get(image["url"], headers=headers),
        "delete image": lambda: client.delete(image["url"], headers=headers),
    }
    response = requests[endpoint]()
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if expected >= 400:
        assert set(response.get_json()["error"]) == {"code", "message", "details"}
    if endpoint == "list cases" and role != ANONYMOUS:
        listed = ids(response)
        assert (case_id in listed) is (role != OTHER)
    if expected == 404:  # the other physician changed nothing
        case = client.get(case_url, headers=owner_headers).get_json()
        assert case["status"] == "questionnaire"
        assert case["physician_notes"] is None
        assert case["anamnesis"] == STARTING_ANSWERS
        assert [i["id"] for i in case["images"]] == [image["id"]]


# --- audit ----------------------------------------------------------------------------------


def test_every_case_and_image_action_is_audited_with_request_id_and_address(
    app, client, make_user, api_headers, upload
):
    user = make_user()
    headers = api_headers(user)
    address = "203.0.113.9"
    client.environ_base["REMOTE_ADDR"] = address

    def call(request_id, method, path, **kwargs):
        response = getattr(client, method)(
            path, headers={**headers, "X-Request-ID": request_id}, **kwargs
        )
        assert response.status_code < 300, response.get_json()
        return response

    case_id = call("req-create", "post", "/api/cases", json=case_payload()).get_json()["id"]
    call("req-list", "get", "/api/cases?q=PT")
    call("req-read", "get", f"/api/cases/{case_id}")
    call("req-update", "patch", f"/api/cases/{case_id}", json={"patient_age": 55})
    call("req-answers", "post", f"/api/cases/{case_id}/answers", json={"itch": True})
    image = upload(case_id, {**headers, "X-Request-ID": "req-upload"}).get_json()
    call("req-view", "get", image["url"])
    call("req-delete-image", "delete", image["url"])
    call("req-archive", "delete", f"/api/cases/{case_id}")

    expected = [
        ("req-create", "case.create", True, False),
        ("req-list", "case.list", False, False),
        ("req-read", "case.read", True, False),
        ("req-update", "case.update", True, False),
        ("req-answers", "case.update", True, False),
        ("req-upload", "image.upload", True, True),
        ("req-view", "image.view", True, True),
        ("req-delete-image", "image.delete", True, True),
        ("req-archive", "case.archive", True, False),
    ]
    by_request = {}  # the first event of each request (opening a case also seeds answers)
    for e in audit_events(app):
        by_request.setdefault(e.request_id, e)
    for request_id, action, has_case, has_image in expected:
        event = by_request[request_id]
        assert event.action == action
        assert event.actor_id == user.id
        assert event.client_address == address
        assert event.created_at.tzinfo is not None
        assert (event.case_id == uuid.UUID(case_id)) if has_case else event.case_id is None
        if has_image:
            assert event.image_id == uuid.UUID(image["id"])
        else:
            assert event.image_id is None
    assert by_request["req-update"].details == {
        "fields": ["patient_age"],
        "changes": {
            "patient_age": {"before": 54, "after": 55},
            "anamnesis.age": {"before": 54, "after": 55},  # the age answer follows the case's
        },
    }
    assert by_request["req-answers"].details == {
        "fields": ["anamnesis"],
        "answers": ["itch"],
        "changes": {"anamnesis.itch": {"before": None, "after": True}},
    }
    assert by_request["req-list"].details["q"] == "PT"
    # The trail survives the image it mentions.
    assert len(audit_events(app, image_id=uuid.UUID(image["id"]))) == 3


def test_refused_access_writes_no_audit_event(app, client, make_user, api_headers, make_case):
    case_id = make_case(make_user())
    before = len(audit_events(app))
    other = api_headers(make_user())
    assert client.get(f"/api/cases/{case_id}", headers=other).status_code == 404
    assert len(audit_events(app)) == before


def test_age_and_sex_stay_one_value_between_case_fields_and_answers(client, make_user, api_headers):
    """The case's age/sex and the anamnesis answers ``age``/``sex`` (what the AI is sent) are
    the same facts: changing one changes the other, so that one case never holds two ages
    (found by driving the API: PATCH patient_age left the AI's ``age`` answer behind, and the
    FHIR bundle then showed age 73 in an Observation and 80 in the QuestionnaireResponse)."""
    headers = api_headers(make_user())
    case_id = create(client, headers, patient_age=72, patient_sex="male")["id"]
    answered = client.post(
        f"/api/cases/{case_id}/answers", json={"age": 72, "sex": "male"}, headers=headers
    )
    assert answered.status_code == 200, answered.get_json()

    patched = client.patch(
        f"/api/cases/{case_id}", json={"patient_age": 73, "patient_sex": "female"}, headers=headers
    )
    assert patched.status_code == 200, patched.get_json()
    body = patched.get_json()
    assert (body["patient_age"], body["anamnesis"]["age"]) == (73, 73)
    assert (body["patient_sex"], body["anamnesis"]["sex"]) == ("female", "female")

    answered = client.post(
        f"/api/cases/{case_id}/answers", json={"age": 80, "sex": "male"}, headers=headers
    )
    body = answered.get_json()
    assert (body["patient_age"], body["anamnesis"]["age"]) == (80, 80)
    assert (body["patient_sex"], body["anamnesis"]["sex"]) == ("male", "male")
