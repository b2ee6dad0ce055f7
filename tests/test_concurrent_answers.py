"""Answers sent at the same moment to one case are all kept (real HTTP, real PostgreSQL).

``POST /api/cases/<id>/answers`` (and ``POST /api/diagnosis`` with a ``case_id``, and the
portal) merge new answers into the case's anamnesis: read the row, merge, write it back. Two
requests doing that at once both read the same anamnesis and the later write dropped the
earlier one's answers, although both were answered 200 (found by t1 for issue #15: 8 answers
sent at once to one case, 8 x 200, 2 answers kept). The case's row is now locked for the merge.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from werkzeug.serving import make_server

from tests.fixtures.cases import case_payload

ANSWERS = 8


@pytest.fixture
def served(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The test app served over HTTP by a threaded server (greenlets: the suite is patched)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_answers_sent_at_once_to_one_case_are_all_kept(served, make_user, api_headers):
    headers = api_headers(make_user())
    created = requests.post(f"{served}/api/cases", json=case_payload(), headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    url = f"{served}/api/cases/{case_id}/answers"
    statuses: list[int] = []
    start = threading.Barrier(ANSWERS)

    def send(number: int) -> None:
        start.wait()
        response = requests.post(
            url, json={f"note_{number}": f"v{number}"}, headers=headers, timeout=30
        )
        statuses.append(response.status_code)

    senders = [threading.Thread(target=send, args=(n,)) for n in range(ANSWERS)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert statuses == [200] * ANSWERS

    case = requests.get(f"{served}/api/cases/{case_id}", headers=headers, timeout=30).json()
    for number in range(ANSWERS):
        assert case["anamnesis"].get(f"note_{number}") == f"v{number}", case["anamnesis"]
    notes = [key for key in case["answer_order"] if key.startswith("note_")]
    assert sorted(notes) == sorted(f"note_{n}" for n in range(ANSWERS))
    assert case["answer_order"][:3] == ["age", "sex", "location1.primary"]  # the case's facts
