"""The case report as a PDF, for the portal (``/cases/<id>/report.pdf``) and the API
(``/api/cases/<id>/report.pdf``): the report page's HTML, laid out for paper by
:mod:`app.services.report.pdf`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Response, current_app, render_template, request, url_for

from app.errors import ValidationFailed
from app.services import case_images, case_record
from app.services.report import content, pdf
from app.services.report.records import reopened_case_ids

#: The stylesheet of the PDF, under ``static/``.
STYLESHEET = "css/report-pdf.css"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def paper_size(value: str | None) -> str:
    """The CSS page size for ``?paper=`` (``a4``, the default, or ``letter``).

    Raises:
        ValidationFailed: any other value (``details["paper"]``).
    """
    size = pdf.PAPER_SIZES.get((value or "a4").lower())
    if size is None:
        raise ValidationFailed({"paper": "Choose a4 or letter."})
    return size


def build_report(record: case_record.CaseRecord, actor: Any) -> content.Report:
    """The report of a case record, for ``actor`` (named in its footer)."""
    reopened = record.case.id in reopened_case_ids([record.case.id])
    return content.build_report(record, author=getattr(actor, "full_name", ""), reopened=reopened)


def _resources(actor: Any, report: content.Report) -> tuple[dict[str, pdf.Resource], str | None]:
    css = Path(current_app.static_folder or "static") / STYLESHEET
    resources = {url_for("static", filename=STYLESHEET): pdf.Resource(css.read_bytes(), "text/css")}
    analysis = report.analysis
    if analysis is None or analysis.image_id is None:
        return resources, None
    case_id, image_id = report.case.id, analysis.image_id
    download = case_images.open_image(
        actor=actor, case_id=case_id, image_id=image_id, as_stream=True
    )
    assert download.stream is not None
    with download.stream as stream:  # bounded by MAX_IMAGE_BYTES at upload
        data = stream.read()
    photo_url = url_for("cases.image", case_id=case_id, image_id=image_id)
    resources[photo_url] = pdf.print_photo(data)
    return resources, photo_url


def report_pdf(*, actor: Any, case_id: uuid.UUID, paper: str) -> Response:
    """Render the report of the case as a PDF response (inline, never cached).

    Raises:
        NotFound: ``case_not_found`` (also for a case the actor may not see), or the photo.
        StorageUnavailable: the photo could not be read.
    """
    record = case_record.load_case_record(actor=actor, case_id=case_id, ask_ai=False)
    report = build_report(record, actor)
    resources, photo_url = _resources(actor, report)
    html = render_template(
        "diagnosis/report_pdf.html",
        report=report,
        photo_url=photo_url,
        paper=paper,
        now=datetime.now(UTC),
    )
    document = pdf.html_to_pdf(html, base_url=request.url_root, resources=resources)
    name = _UNSAFE_FILENAME.sub("-", report.case.patient_reference).strip("-") or "case"
    response = Response(document, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="report-{name}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
