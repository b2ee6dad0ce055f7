"""``flask cases export --format fhir``: NDJSON of every case's FHIR resources, the same as the
API's bundle, streamed with bounded memory.

The cases come from tests/test_cli_export.py (made through the services and the reference AI);
the memory test bulk-inserts its thousands of cases with SQL, as that file's does.
"""

from __future__ import annotations

import json
import tracemalloc
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.services import fhir
from tests import test_cli_export
from tests.fhir_checks import references, round_trip
from tests.test_cli_export import _bulk_insert, _export, _Sink

#: The cases of tests/test_cli_export.py (a fixture, shared).
three_cases = test_cli_export.three_cases


def _resources(stdout: str) -> list[dict[str, Any]]:
    lines = stdout.splitlines()
    assert all(line.startswith('{"resourceType":') for line in lines)
    return [json.loads(line) for line in lines]


def _as_bulk(resource: dict[str, Any]) -> dict[str, Any]:
    """A bundle entry's resource with its ``urn:uuid:`` references made relative."""
    text = json.dumps(resource)
    for reference in set(references(resource)):
        target = next(  # the type is beside the reference
            ref["type"] for ref in _refs_of(resource) if ref["reference"] == reference
        )
        text = text.replace(f'"{reference}"', f'"{target}/{reference.removeprefix("urn:uuid:")}"')
    return json.loads(text)


def _refs_of(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        own = [value] if "reference" in value else []
        return own + [ref for item in value.values() for ref in _refs_of(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs_of(item)]
    return []


def test_fhir_export_is_every_case_as_valid_resources_with_resolvable_references(
    ai_app: Flask, three_cases: dict[str, uuid.UUID]
) -> None:
    result = _export(ai_app, "--format", "fhir", "--base-url", "https://derma.example.org/")
    assert result.exit_code == 0, result.output
    assert "Exported 3 cases as fhir to stdout." in result.stderr
    resources = _resources(result.stdout)
    for resource in resources:
        round_trip(resource)
    present = {f"{r['resourceType']}/{r['id']}" for r in resources}
    assert len(present) == len(resources)  # each resource once (physicians, models too)
    for reference in references(resources):
        assert reference in present, reference

    patients = [r for r in resources if r["resourceType"] == "Patient"]
    assert [p["identifier"][0]["value"] for p in patients] == ["PT-EXP-1", "PT-EXP-2", "PT-EXP-3"]
    [report] = [r for r in resources if r["resourceType"] == "DiagnosticReport"]
    assert report["status"] == "final"
    assert report["conclusionCode"][0]["coding"][0]["code"] == "C43.5"
    [media] = [r for r in resources if r["resourceType"] == "Media"]
    assert media["content"]["url"].startswith("https://derma.example.org/api/cases/")
    assert "@example.org" not in result.stdout

    with ai_app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "case.export")
        ).one()
        assert event.details == {
            "format": "fhir",
            "purpose": "records",
            "since": None,
            "cases": 3,
            "completed": True,
        }
        db.session.remove()


def test_fhir_export_of_a_case_is_the_bundle_of_the_api(
    ai_app: Flask,
    three_cases: dict[str, uuid.UUID],
    api_headers: Callable[..., dict[str, str]],
) -> None:
    exported = _resources(_export(ai_app, "--format", "fhir").stdout)
    case_id = three_cases["PT-EXP-1"]
    headers = api_headers(SimpleNamespace(email="ana@example.org"))
    response = ai_app.test_client().get(f"/api/cases/{case_id}/fhir", headers=headers)
    bundle = response.get_json(force=True)
    from_api = [_as_bulk(entry["resource"]) for entry in bundle["entry"]]
    for resource in from_api:  # the API's URLs are absolute; the export without --base-url not
        if resource["resourceType"] == "Media":
            resource["content"]["url"] = resource["content"]["url"].removeprefix("http://localhost")
    by_key = {(r["resourceType"], r["id"]): r for r in exported}
    assert [by_key[(r["resourceType"], r["id"])] for r in from_api] == from_api


@pytest.mark.parametrize("since", ["2020-01-01"])
def test_fhir_export_takes_since_and_writes_a_file(
    ai_app: Flask, three_cases: dict[str, uuid.UUID], tmp_path: Any, since: str
) -> None:
    target = tmp_path / "cases.ndjson"
    result = _export(ai_app, "--format", "FHIR", "--since", since, "--output", str(target))
    assert result.exit_code == 0, result.output
    assert len([r for r in _resources(target.read_text()) if r["resourceType"] == "Patient"]) == 3
    empty = _export(ai_app, "--format", "fhir", "--since", "2999-01-01")
    assert empty.exit_code == 0 and empty.stdout == ""


def _peak(app: Flask, batch_size: int) -> tuple[int, int, int]:
    with app.app_context():
        sink = _Sink()
        tracemalloc.start()
        try:
            count = fhir.export_ndjson(sink, batch_size=batch_size)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        db.session.remove()
    return count, sink.written, peak


def test_fhir_export_memory_does_not_grow_with_the_number_of_cases(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    owner = make_user()

    def measured() -> tuple[int, int, int]:
        # One-time costs first, then the lowest peak of two runs (see tests/test_cli_export.py).
        _peak(app, 25)
        return min((_peak(app, 25) for _ in range(2)), key=lambda run: run[2])

    _bulk_insert(app, owner.id, 100, start=1)
    small_count, small_written, small_peak = measured()
    _bulk_insert(app, owner.id, 900, start=101)
    large_count, large_written, large_peak = measured()

    assert (small_count, large_count) == (100, 1000)
    assert large_written > 9 * small_written
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
    assert large_peak < large_written / 3, (large_peak, large_written)
