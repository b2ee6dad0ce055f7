"""What every portal view shares: HTMX-aware rendering and the redirect after a form post.

An HTMX request that targets a region gets only that region's ``_fragment`` template; a plain
request (JavaScript off, a reload, a bookmark, a history restore) gets the whole page. Both
answers carry ``Vary: HX-Request`` so that no cache hands one out for the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, make_response, redirect, render_template, request

if TYPE_CHECKING:
    from app.services.thumbnails.serve import Thumbnail


def is_htmx() -> bool:
    """Whether this request came from htmx and wants a fragment (a history restore wants the
    whole page, whatever its headers say)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def wants_fragment(target: str | None = None) -> bool:
    """Whether to answer only a region: an htmx request aimed at ``target`` (an element id;
    ``None``: any target)."""
    return is_htmx() and (target is None or request.headers.get("HX-Target") == target)


def render(
    page: str, fragment: str, http_status: int = 200, *, target: str | None = None, **context: Any
) -> Response:
    """Render ``fragment`` for an htmx request aimed at the region ``target``, else ``page``;
    both with ``Vary: HX-Request``."""
    template = fragment if wants_fragment(target) else page
    response = make_response(render_template(template, **context), http_status)
    response.vary.add("HX-Request")
    return response


def after_post(location: str) -> Response:
    """Finish a successful form post: 303 to ``location``, or for htmx a full-page
    ``HX-Redirect`` (a followed redirect would swap a whole page into a region)."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
    else:
        response = redirect(location, code=303)
    response.vary.add("HX-Request")
    return response


def thumbnail_response(thumbnail: Thumbnail) -> Response:
    """Send a photo's thumbnail: its bytes, or 304 when the browser's copy is current.

    ``Cache-Control: private, no-cache`` with a (weak) ETag: only the user's own browser may
    keep it (patient data; never a shared cache), and it asks before every showing, so access
    is checked and the view audited each time, at the cost of a 304 without a body. A photo
    sent in place of its thumbnail (no ETag) is not kept at all.
    """
    if thumbnail.data is None:
        response = Response(status=304)
    else:
        response = Response(thumbnail.data, mimetype=thumbnail.content_type)
    if thumbnail.etag is None:
        response.headers["Cache-Control"] = "private, no-store"
    else:
        response.set_etag(thumbnail.etag, weak=True)
        response.headers["Cache-Control"] = "private, no-cache"
    return response
