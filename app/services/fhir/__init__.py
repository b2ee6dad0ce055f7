"""FHIR R4 for every case: one case as a ``Bundle`` for the API, every case as NDJSON for the
export (FHIR Bulk Data layout, one stream).

The resources are plain JSON objects built by one small function per resource (``subject``,
``anamnesis``, ``findings``, ``report``), assembled by :mod:`.bundle` from a
:class:`~.source.CaseSource`. The structures are those of FHIR R4 (4.0.1); the tests validate every
resource with the ``fhir.resources`` R4B (4.3.0) models, which have the same structure for every
resource used here (the package's R4 models need pydantic 1).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, TextIO

from app.extensions import db
from app.services import audit, cases
from app.services.exports import check_purpose
from app.services.fhir.bundle import FHIR_JSON, FHIR_NDJSON, case_bundle, write_ndjson
from app.services.fhir.source import DEFAULT_BATCH_SIZE, iter_case_sources, load_case_source

__all__ = ["FHIR_JSON", "FHIR_NDJSON", "bundle_of_case", "export_ndjson"]


def bundle_of_case(*, actor: Any, case_id: uuid.UUID, base_url: str = "") -> dict[str, Any]:
    """Return the case as a FHIR ``Bundle`` (see :mod:`.bundle`) and audit the read.

    ``base_url`` (e.g. ``https://gateway.example.org``) makes the photo URLs absolute.

    Raises:
        NotFound: ``case_not_found`` (also for a case the actor may not see).
    """
    case = cases.require_case(actor=actor, case_id=case_id)
    audit.record(actor, audit.CASE_READ, case_id=case.id, details={"format": "fhir"})
    db.session.commit()
    source = load_case_source(case_id, base_url=base_url.rstrip("/"))
    db.session.rollback()  # end the read transaction
    assert source is not None  # read above, never deleted (cases are archived, not deleted)
    return case_bundle(source)


def export_ndjson(
    out: TextIO,
    *,
    since: date | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    base_url: str = "",
    purpose: str = "records",
) -> int:
    """Stream every case's resources to ``out`` as NDJSON; return how many cases were written.

    ``purpose`` ``teaching`` writes only the cases whose teaching/research consent is granted
    (see :data:`app.services.exports.PURPOSES`).

    Memory is bounded by ``batch_size`` (cases are read in batches of plain rows). One audit
    event ``case.export`` (actor ``None``: the CLI) records the format, ``since``, the count and
    whether the export completed.

    Raises:
        OSError: ``out`` could not be written (the audit event says ``completed: false``).
    """
    check_purpose(purpose)
    sources = iter_case_sources(
        since=since, batch_size=batch_size, base_url=base_url.rstrip("/"), purpose=purpose
    )
    counted = _Counted(sources)
    completed = False
    try:
        write_ndjson(counted, out)
        completed = True
    finally:
        db.session.rollback()  # end the long read transaction before writing the audit event
        details = {
            "format": "fhir",
            "purpose": purpose,
            "since": since.isoformat() if since else None,
            "cases": counted.count,
            "completed": completed,
        }
        audit.record(None, audit.CASE_EXPORT, details=details)
        db.session.commit()
    return counted.count


class _Counted:
    """Iterate ``sources`` and count them (so a failed export still audits how far it got)."""

    def __init__(self, sources: Any) -> None:
        self._sources = sources
        self.count = 0

    def __iter__(self) -> Any:
        for source in self._sources:
            self.count += 1
            yield source
