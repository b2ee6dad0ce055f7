"""schemathesis over ``/api/openapi.json``: every operation, positive and negative examples,
against the app and the real PostgreSQL; no server error and no status the document omits.

Bounded (``SCHEMATHESIS_MAX_EXAMPLES`` per operation and mode, 15 by default) so that it runs in
a couple of minutes on a shared machine; set it to 200 to run it harder. (schemathesis's own
pytest integration, ``from_fixture``, does not work with pytest 9, so the operations are walked
here, each with a Hypothesis ``@given`` of its strategy.)
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, status_code_conformance

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance]

pytestmark = pytest.mark.slow


def _run(operation, mode: GenerationMode, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    @given(operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def examples(case) -> None:  # type: ignore[no-untyped-def]
        # Negative cases may carry their own (broken) Authorization header: keep it.
        extra = {} if "Authorization" in (case.headers or {}) else headers
        case.call_and_validate(headers=extra, checks=CHECKS)

    examples()


def test_no_server_error_and_no_undocumented_status(app, make_user, login_tokens):
    token = login_tokens(make_user().email)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run(operation, mode, headers)
            except Unsatisfiable:
                continue  # no negative case exists (an operation without parameters or body)
            except Exception as exc:
                failures.append(f"{operation.label} [{mode.value}]: {exc}"[:2000])
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
