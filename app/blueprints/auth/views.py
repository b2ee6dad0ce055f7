"""Portal pages: log in, log out (here or everywhere), and the idle lock's two requests."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from app.blueprints.auth.forms import LoginForm
from app.blueprints.auth.mfa_views import await_second_factor
from app.errors import PermissionDenied, Unauthorized
from app.portal_login import (
    PORTAL_SESSION_KEY,
    lock_portal,
    log_in_portal,
    log_out_everywhere,
    log_out_portal,
)
from app.security import public
from app.services import accounts, mfa, sessions
from app.services.rate_limits import Throttled

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str | None:
    """Return ``target`` when it is a local path on this site, else ``None`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login():  # type: ignore[no-untyped-def]
    """Show the login form; on success start a fresh session and go to ``next`` or my cases."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("worklist.index"))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(email=form.email.data, password=form.password.data)
        except (Unauthorized, PermissionDenied, Throttled) as failure:
            error, status = failure.message, failure.status
        else:
            target = safe_next(request.args.get("next"))
            if user.mfa_enabled:
                return await_second_factor(
                    mfa.issue_token(user), remember=bool(form.remember.data), target=target
                )
            log_in_portal(user, remember=bool(form.remember.data))
            flash(f"Welcome, {user.full_name}.", "success")
            return redirect(target or url_for("worklist.index"))
    elif form.is_submitted():
        status = 422
    else:
        locked = sessions.locked_session_user(session.get(PORTAL_SESSION_KEY))
        form.email.data = locked.email if locked is not None else None
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """End this browser's session and forget its remember-me token."""
    log_out_portal()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
def logout_everywhere():  # type: ignore[no-untyped-def]
    """End every session of mine, on every device, and revoke all my API tokens."""
    log_out_everywhere(current_user)
    flash("You have been logged out everywhere: on every device and in every app.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/session/lock")
@public  # also when the server ended the session first: the message is the same
def lock():  # type: ignore[no-untyped-def]
    """End this session by the idle lock (asked by the page after the idle time)."""
    lock_portal()
    minutes = current_app.config["PORTAL_IDLE_MINUTES"]
    flash(
        f"The page locked after {minutes:g} minutes without activity, to protect patient data. "
        "Log in to continue.",
        "info",
    )
    return "", 204


@bp.post("/session/ping")
def ping():  # type: ignore[no-untyped-def]
    """Record activity in the page (typing, reading) that sent no request."""
    return "", 204
