"""Portal pages: log in and log out (flask-login sessions)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.blueprints.auth.forms import LoginForm
from app.errors import PermissionDenied, Unauthorized
from app.security import public
from app.services import accounts
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
        return redirect(safe_next(request.args.get("next")) or url_for("cases.index"))
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
            session.clear()  # a new session at login: nothing from before survives (fixation)
            login_user(user, remember=bool(form.remember.data))
            flash(f"Welcome, {user.full_name}.", "success")
            return redirect(target or url_for("cases.index"))
    elif form.is_submitted():
        status = 422
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """End the session and forget the remember-me cookie."""
    session.clear()
    # After the clear: logout_user() marks the remember-me cookie for deletion in the session,
    # and a clear afterwards would drop that mark (the cookie would log the user back in).
    logout_user()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
