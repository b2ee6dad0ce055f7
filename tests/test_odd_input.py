"""Odd input gets a clear 4xx, never a 500: lone surrogates, file parts where text belongs."""

from __future__ import annotations

import io
import json

import pytest

from tests.fixtures.cases import MELANOMA
from tests.test_api_errors import assert_error

#: A lone (unpaired) surrogate, as a JSON escape: valid JSON, not a Unicode character.
LONE = "x\\ud800y"


def raw_json(client, path: str, text: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(path, data=text, content_type="application/json", headers=headers)


def test_a_lone_surrogate_in_an_answer_value_or_key_is_422(
    client, make_user, api_headers, make_case
):
    owner = make_user()
    headers = api_headers(owner)
    case_id = make_case(owner)
    path = f"/api/cases/{case_id}/answers"
    error = assert_error(raw_json(client, path, '{"itching": "' + LONE + '"}', headers), 422)
    assert "surrogate" in error["details"]["itching"]
    error = assert_error(raw_json(client, path, '{"it' + LONE + 'ch": "yes"}', headers), 422)
    assert "surrogate" in error["message"]
    # Nothing was stored; a proper pair (an emoji) is fine.
    response = raw_json(client, path, '{"itching": "\\ud83d\\ude00"}', headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["anamnesis"]["itching"] == "\U0001f600"


def test_a_lone_surrogate_in_a_multipart_anamnesis_is_422(client, make_user, api_headers):
    response = client.post(
        "/api/diagnosis",
        data={
            "image": (io.BytesIO(MELANOMA.read_bytes()), "a.jpg", "image/jpeg"),
            "anamnesis": '{"itching": "' + LONE + '"}',
        },
        headers=api_headers(make_user()),
        content_type="multipart/form-data",
    )
    assert_error(response, 422)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/diagnosis", "anamnesis"),
        ("/api/diagnosis", "case_id"),
        ("/api/diagnosis", "accept_low_quality"),
        ("/api/ai/predict_diagnosis", "anamnesis"),
    ],
)
def test_a_file_where_text_is_expected_is_422_naming_the_field(
    client, make_user, api_headers, path, field
):
    data = {
        "image": (io.BytesIO(MELANOMA.read_bytes()), "a.jpg", "image/jpeg"),
        "anamnesis": json.dumps({"age": 60}),
        field: (io.BytesIO(b'{"age": 60}'), "a.json", "application/json"),
    }
    response = client.post(
        path, data=data, headers=api_headers(make_user()), content_type="multipart/form-data"
    )
    error = assert_error(response, 422, "validation_failed")
    assert field in error["details"]
    assert field in error["message"]
