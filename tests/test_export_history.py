"""``flask cases export`` keeps everything the AI said about a case: every analysis (the current
one and those superseded by a newer run, each with its timestamps and model version) and every
re-analysis of its photo by a newer model, and names the case's patient and lesion. Both
formats parsed back and compared with the rows in PostgreSQL; the reference AI (two model
versions) over real HTTP."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Analysis, Case, Patient, Reanalysis
from app.services import exports
from tests.lesion_visits import seen_by_two_models
from tests.test_cli_export import _export

#: The CSV columns before patients, lesions and re-analyses were exported (kept, in order).
_CSV_COLUMNS_BEFORE = (
    "case_id",
    "owner_id",
    "patient_reference",
    "patient_age",
    "patient_sex",
    "body_site",
    "fitzpatrick_type",
    "chief_complaint",
    "status",
    "urgency",
    "physician_notes",
    "created_at",
    "updated_at",
    "anamnesis",
    "analyses",
    "review_final_diagnosis",
    "review_icd10",
    "review_agreement",
    "review_notes",
    "review_reviewed_at",
    "review_reviewed_by_id",
    "outcome_diagnosis",
    "outcome_icd10",
    "outcome_outcome_date",
    "outcome_excised",
    "outcome_notes",
    "outcome_recorded_at",
    "outcome_recorded_by_id",
    "consent_ai_analysis",
    "consent_image_storage",
    "consent_teaching_research",
)


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _history(ai_app, ai_client, older_ai_app, make_user, api_headers) -> tuple[uuid.UUID, ...]:
    """A lesion's first visit analysed by the older model, analysed again (current model),
    and its photo re-analysed for a comparison; return (first visit, second visit)."""
    owner = make_user()
    headers = api_headers(owner)
    lesion_id, v1, v2 = seen_by_two_models(ai_app, older_ai_app, owner, headers)
    reanalysed = ai_client.post(
        f"/api/lesions/{lesion_id}/compare/reanalyse",
        json={"from": str(v1), "to": str(v2)},
        headers=headers,
    )
    assert reanalysed.status_code == 201, reanalysed.get_json()
    again = ai_client.post(f"/api/cases/{v1}/analyze", json={}, headers=headers)
    assert again.status_code == 200, again.get_json()
    return v1, v2


def _database(app, case_id: uuid.UUID) -> dict[str, Any]:
    with app.app_context():
        case = db.session.get(Case, case_id)
        patient = db.session.get(Patient, case.patient_id)
        analyses = db.session.scalars(
            select(Analysis)
            .where(Analysis.case_id == case_id)
            .order_by(Analysis.created_at, Analysis.id)
        ).all()
        reanalyses = db.session.scalars(
            select(Reanalysis)
            .where(Reanalysis.case_id == case_id)
            .order_by(Reanalysis.created_at, Reanalysis.id)
        ).all()
        found = {
            "patient_id": str(case.patient_id),
            "patient_record_reference": patient.reference,
            "lesion_id": str(case.lesion_id),
            "analyses": [
                (str(a.id), a.model_version, a.status, a.created_at, a.completed_at)
                for a in analyses
            ],
            "reanalyses": [
                {
                    "id": str(r.id),
                    "original_analysis_id": str(r.original_analysis_id),
                    "image_id": str(r.image_id),
                    "model_version": r.model_version,
                    "predictions": r.predictions,
                    "tier": r.tier,
                    "urgency": r.urgency,
                    "requested_by_id": r.requested_by_id,
                    "created_at": r.created_at,
                }
                for r in reanalyses
            ],
        }
        db.session.remove()
    return found


def _assert_history(record: dict[str, Any], expected: dict[str, Any]) -> None:
    for name in ("patient_id", "patient_record_reference", "lesion_id"):
        assert record[name] == expected[name], name
    analyses, rows = record["analyses"], expected["analyses"]
    assert [
        (a["id"], a["model_version"], a["status"], _when(a["created_at"]), _when(a["completed_at"]))
        for a in analyses
    ] == rows
    # the newest run is current; each earlier one was superseded by the next, when it was made
    assert [a["current"] for a in analyses] == [False] * (len(rows) - 1) + [True]
    assert [a["superseded_by"] for a in analyses] == [row[0] for row in rows[1:]] + [None]
    assert [_when(a["superseded_at"]) for a in analyses] == [row[3] for row in rows[1:]] + [None]
    got = record["reanalyses"]
    assert len(got) == len(expected["reanalyses"])
    for item, want in zip(got, expected["reanalyses"], strict=True):
        assert _when(item["created_at"]) == want["created_at"]
        assert {name: item[name] for name in want if name != "created_at"} == {
            name: value for name, value in want.items() if name != "created_at"
        }
        assert item["current"] is False  # never the visit's own record
        assert item["top_diagnosis"] == want["predictions"][0]["disease"]


def test_json_export_keeps_every_analysis_and_reanalysis(
    ai_app, ai_client, older_ai_app, make_user, api_headers
):
    v1, v2 = _history(ai_app, ai_client, older_ai_app, make_user, api_headers)
    result = _export(ai_app, "--format", "json")
    assert result.exit_code == 0, result.output
    records = {record["case_id"]: record for record in json.loads(result.stdout)}
    first, second = _database(ai_app, v1), _database(ai_app, v2)
    # the first visit: the older model's run, superseded by the current model's; one re-analysis
    assert [row[1] for row in first["analyses"]] == ["reference-0.9", "reference-1.0"]
    assert len(first["reanalyses"]) == 1 and second["reanalyses"] == []
    _assert_history(records[str(v1)], first)
    _assert_history(records[str(v2)], second)
    assert records[str(v1)]["patient_id"] == records[str(v2)]["patient_id"]


def test_csv_export_adds_the_columns_and_keeps_the_old_ones_first(
    ai_app, ai_client, older_ai_app, make_user, api_headers
):
    v1, _ = _history(ai_app, ai_client, older_ai_app, make_user, api_headers)
    result = _export(ai_app, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    header = list(rows[0])
    assert header == list(exports.CSV_COLUMNS)
    assert tuple(header[: len(_CSV_COLUMNS_BEFORE)]) == _CSV_COLUMNS_BEFORE
    [row] = [row for row in rows if row["case_id"] == str(v1)]
    record = {
        **row,
        "analyses": json.loads(row["analyses"]),
        "reanalyses": json.loads(row["reanalyses"]),
    }
    _assert_history(record, _database(ai_app, v1))


def test_a_case_without_lesion_or_analysis_exports_empty_history(client, app, make_user):
    """A draft case (no analysis) exports empty lists; its patient and lesion ids are there
    (every case opened now has them)."""
    from tests.fixtures.cases import case_payload

    owner = make_user()
    with app.app_context():
        from app.models import User
        from app.services import cases

        case = cases.create_case(
            actor=db.session.get(User, owner.id), **case_payload(patient_reference="pt-x")
        )
        case_id = case.id
        db.session.remove()
    [record] = json.loads(_export(app, "--format", "json").stdout)
    assert record["case_id"] == str(case_id)
    assert record["analyses"] == [] and record["reanalyses"] == []
    expected = _database(app, case_id)
    assert (record["patient_id"], record["lesion_id"]) == (
        expected["patient_id"],
        expected["lesion_id"],
    )
    assert record["patient_record_reference"] == "pt-x" == record["patient_reference"]
