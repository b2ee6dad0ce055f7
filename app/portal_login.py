"""The HTTP side of portal sessions: what the browser's cookies carry and how a request is sent
to the login page. The records themselves live in :mod:`app.services.sessions`.

- The signed session cookie carries the random key of a server-side session record
  (:data:`PORTAL_SESSION_KEY`) beside flask-login's user id and the CSRF token.
- The remember-me cookie (``REMEMBER_ME_COOKIE``) carries a random token, rotated at each use;
  flask-login's own remember-me cookie is not used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, current_app, flash, g, redirect, request, session, url_for
from flask_login import login_user, logout_user
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from app.models import User
from app.services import mfa, sessions

F = TypeVar("F", bound=Callable[..., Any])

#: Where the signed session cookie keeps the portal session's key.
PORTAL_SESSION_KEY = "portal_session"
#: Where the signed session cookie keeps a login waiting for its second factor: ``token`` (the
#: MFA token), ``remember``, ``next``, and ``remembered`` when a remember-me cookie stood in for
#: the password.
MFA_PENDING_KEY = "mfa_login"

REMEMBERED_NEEDS_CODE = (
    "Welcome back. This browser remembers your password, not your second factor: enter the "
    "code from your authenticator app to continue."
)

DRAFT_KEPT = (
    "Your session had ended, so that was not saved yet. Nothing is lost: it is kept, and "
    "after you log in it is back in the form for you to check and save."
)


def keeps_draft(form: str) -> Callable[[F], F]:
    """Mark a case-page form post (``/cases/<case_id>/...``) whose fields are kept as a draft
    named ``form`` when it arrives after the idle lock ended the session."""

    def mark(view: F) -> F:
        view.draft_form = form  # type: ignore[attr-defined]
        return view

    return mark


def log_in_portal(user: User, *, remember: bool = False) -> None:
    """Start the portal session of ``user``, who has just proved who they are (the password,
    and the second factor when one is asked). Nothing of the browser's previous session
    survives (no session fixation); with ``remember`` a remember-me cookie is set too."""
    opened = sessions.start_portal_session(
        user, remember=remember, user_agent=request.user_agent.string
    )
    _enter(user, opened, fresh=True)


def _enter(user: User, opened: sessions.PortalLogin, *, fresh: bool) -> None:
    session.clear()
    session[PORTAL_SESSION_KEY] = opened.session_key
    login_user(user, fresh=fresh)
    if opened.remember_token is not None:
        g.remember_cookie = (opened.remember_token, opened.remember_expires_at)


def log_out_portal() -> None:
    """End this browser's portal session and its remember-me token."""
    sessions.end_portal_session(session.get(PORTAL_SESSION_KEY))
    _forget_remember_cookie()
    session.clear()
    logout_user()


def log_out_everywhere(user: User) -> None:
    """End every portal session and revoke every token of ``user``, this browser's included."""
    sessions.revoke_everything(user)
    _forget_remember_cookie()
    session.clear()
    logout_user()


def lock_portal() -> None:
    """End this browser's session by the idle lock: the session record is locked (forms posted
    with it become drafts) and the remember-me token is dropped, so only the password opens
    the portal again. The cookie keeps the key and the CSRF token, which drafts need."""
    sessions.lock_portal_session(session.get(PORTAL_SESSION_KEY))
    _forget_remember_cookie()


def resume_remembered_user() -> User | None:
    """Log the browser in from its remember-me cookie (flask-login's request loader), or
    return ``None``. Not after the idle lock of this browser: then the password is asked. For
    a user with MFA the cookie only replaces the password: the login waits for the code
    (:data:`MFA_PENDING_KEY`, and :func:`to_login` sends the browser to the code page)."""
    token = request.cookies.get(current_app.config["REMEMBER_ME_COOKIE"])
    if not token:
        return None
    if sessions.locked_session_user(session.get(PORTAL_SESSION_KEY)) is not None:
        _forget_remember_cookie()
        return None
    pending = session.get(MFA_PENDING_KEY)
    if pending and pending.get("remembered"):
        return None  # the code is being asked for already (to_login sends there)
    redeemed = sessions.redeem_remember_token(token)
    if redeemed is None:
        g.remember_cookie = None
        return None
    user, fresh_token, expires_at = redeemed
    if user.mfa_enabled:
        # A remembered browser stands in for the password, never for the second factor: on a
        # shared clinic computer the physician's phone is what keeps a remembered login theirs.
        g.remember_cookie = (fresh_token, expires_at)  # rotated as at every use
        session[MFA_PENDING_KEY] = {
            "token": mfa.issue_token(user),
            "remember": False,  # the cookie just rotated stays; no second token is made
            "next": return_path(),
            "remembered": True,
        }
        return None
    opened = sessions.start_portal_session(user, user_agent=request.user_agent.string)
    _enter(user, sessions.PortalLogin(opened.session_key, fresh_token, expires_at), fresh=False)
    return user


def _forget_remember_cookie() -> None:
    sessions.forget_remember_token(request.cookies.get(current_app.config["REMEMBER_ME_COOKIE"]))
    g.remember_cookie = None


def write_remember_cookie(response: Response) -> Response:
    """Set or delete the remember-me cookie as this request decided (``g.remember_cookie``:
    ``(token, expires_at)`` to set, ``None`` to delete)."""
    if "remember_cookie" not in g:
        return response
    config = current_app.config
    name = config["REMEMBER_ME_COOKIE"]
    options = {"httponly": True, "samesite": "Lax", "secure": config["SESSION_COOKIE_SECURE"]}
    if g.remember_cookie is None:
        if name in request.cookies:
            response.delete_cookie(name, **options)
    else:
        token, expires_at = g.remember_cookie
        response.set_cookie(name, token, expires=expires_at, **options)
    return response


def keep_posted_draft(form: str) -> bool:
    """Keep the posted form as a draft of the locked session's user; return whether it was
    kept. The CSRF token must be valid (the session cookie still holds it after the lock)."""
    case_id = (request.view_args or {}).get("case_id")
    if case_id is None or request.method != "POST":
        return False
    try:
        validate_csrf(request.form.get("csrf_token") or request.headers.get("X-CSRFToken"))
    except ValidationError:
        return False
    fields = {name: values for name, values in request.form.lists() if name != "csrf_token"}
    return sessions.keep_draft(
        session_key=session.get(PORTAL_SESSION_KEY), case_id=case_id, form=form, fields=fields
    )


def return_path() -> str | None:
    """The local page to come back to after the login: the requested page for a GET; for a
    form post, the case page it came from (a post cannot be replayed as a GET)."""
    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    case_id = (request.view_args or {}).get("case_id")
    if case_id is not None:
        return url_for("cases.show", case_id=case_id)
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.netloc == request.host and current.path.startswith("/"):
        return current.path + (f"?{current.query}" if current.query else "")
    return None


def to_login(message: str | None) -> Response:
    """Send the request to the login page, with ``next``: ``HX-Redirect`` for htmx (never a
    login form swapped into a fragment), else a redirect with ``message`` flashed."""
    target = return_path()
    login_url = url_for("auth.login", next=target) if target else url_for("auth.login")
    if (session.get(MFA_PENDING_KEY) or {}).get("remembered"):
        login_url, message = url_for("mfa.login_code"), REMEMBERED_NEEDS_CODE
    if request.headers.get("HX-Request") == "true":
        response = Response(status=401)
        response.headers["HX-Redirect"] = login_url
        return response
    if message:
        flash(message, "info")
    return redirect(login_url)
