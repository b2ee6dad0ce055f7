"""Checks of FHIR output shared by the FHIR tests: every resource validated by the
``fhir.resources`` R4B models and serialised back unchanged; every reference resolvable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def round_trip(resource: dict[str, Any]) -> None:
    """Validate ``resource`` with its R4B model and check it serialises back to the same JSON
    (nothing unknown dropped, nothing malformed coerced)."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    assert json.loads(model.model_dump_json()) == resource, resource["resourceType"]


def references(value: Any) -> Iterator[str]:
    """Every ``reference`` string inside ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def check_bundle(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Validate a collection bundle and each of its resources; check that every reference (and
    the QuestionnaireResponse's canonical) names an entry. Return the resources by type."""
    round_trip(bundle)
    assert bundle["type"] == "collection"
    urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(urls) == len(set(urls))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        round_trip(resource)
        by_type.setdefault(resource["resourceType"], []).append(resource)
    for reference in references(bundle["entry"]):
        assert reference in urls, reference
    for response in by_type.get("QuestionnaireResponse", []):
        assert response["questionnaire"] in {q["url"] for q in by_type["Questionnaire"]}
    return by_type
