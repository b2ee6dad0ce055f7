"""The case report as a PDF, rendered from its HTML by WeasyPrint.

WeasyPrint (BSD, maintained by CourtBouillon) lays out HTML and CSS for print, with CSS Paged
Media (``@page`` margins with running headers and page numbers, ``break-inside``), which is what a
report that a clinic files needs; it draws text with Pango, so the machine needs Debian's
``libpango-1.0-0``, ``libpangoft2-1.0-0``, ``libharfbuzz-subset0`` and a font
(``fonts-dejavu-core``), installed by ``.ci/run`` and the Dockerfile.

The renderer never reaches the network or the file system by itself: every URL in the HTML is
served from the ``resources`` given (the stylesheet, the photo), anything else is refused.
WeasyPrint is imported on first use, so that a worker that never prints does not load it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageFile, ImageOps

#: Paper sizes a report is printed on (CSS ``@page size`` names).
PAPER_SIZES = {"a4": "A4", "letter": "letter"}
#: The longest side of the photo in the PDF, pixels: sharp at 300 dpi on about 13 cm.
PHOTO_MAX_PIXELS = 1600


@dataclass(frozen=True)
class Resource:
    """A file the report's HTML refers to: its bytes and MIME type."""

    data: bytes
    mime_type: str


def print_photo(data: bytes) -> Resource:
    """The photo as the PDF embeds it: at most :data:`PHOTO_MAX_PIXELS` on its longest side,
    JPEG (a 10 MB photo would make a 10 MB report)."""
    with Image.open(io.BytesIO(data)) as image:
        photo = ImageOps.exif_transpose(image).convert("RGB")
    photo.thumbnail((PHOTO_MAX_PIXELS, PHOTO_MAX_PIXELS))
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=88)
    return Resource(out.getvalue(), "image/jpeg")


def _weasyprint() -> Any:
    """Import WeasyPrint, keeping Pillow's truncated-image check as it was.

    WeasyPrint 70 sets ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True`` for the whole process when
    its ``images`` module is imported (``weasyprint/images.py``). The gateway's image intake relies
    on Pillow refusing a truncated upload (``ImageCorrupt``), so the flag is put back.
    """
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import weasyprint
        import weasyprint.images
        import weasyprint.urls
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved
    return weasyprint


def _fetcher(base_url: str, resources: Mapping[str, Resource]) -> Any:
    urls = _weasyprint().urls
    URLFetcher, URLFetcherResponse = urls.URLFetcher, urls.URLFetcherResponse

    host = urlsplit(base_url).netloc

    class OnlyGiven(URLFetcher):
        """Serve only ``resources`` (by path, on the report's own host); refuse the rest."""

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            parts = urlsplit(url)
            found = resources.get(parts.path) if parts.netloc == host else None
            if found is None:
                raise ValueError(f"The report may not load {url}")
            return URLFetcherResponse(url, found.data, {"Content-Type": found.mime_type})

    return OnlyGiven()


def html_to_pdf(html: str, *, base_url: str, resources: Mapping[str, Resource]) -> bytes:
    """Render ``html`` to PDF bytes.

    Args:
        html: the report page; its URLs are resolved against ``base_url``.
        base_url: the gateway's address (e.g. ``http://localhost/``).
        resources: ``{path: Resource}``, e.g. ``{"/static/css/report.css": …}``; the only
            files the HTML may load (anything else is left out of the PDF).
    """
    document = _weasyprint().HTML(
        string=html, base_url=base_url, url_fetcher=_fetcher(base_url, resources)
    )
    return document.write_pdf()
