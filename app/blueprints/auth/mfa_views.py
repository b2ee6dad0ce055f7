"""Portal pages of the second factor: the code after the password, and enrolment.

An account that ``MFA_REQUIRED_FOR`` obliges to use MFA and that has not enrolled yet can use
nothing but the enrolment page (and log out) until it has.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from app.blueprints.auth.forms import MfaCodeForm
from app.errors import Unauthorized, ValidationFailed
from app.portal_login import MFA_PENDING_KEY, log_in_portal
from app.security import public
from app.services import mfa
from app.services.rate_limits import Throttled

bp = Blueprint("mfa", __name__)

#: Where the login waiting for its second factor is kept (in the signed session cookie).
PENDING_KEY = MFA_PENDING_KEY
_OPEN_DURING_ENROLMENT = {
    "mfa.account",
    "mfa.confirm",
    "auth.logout",
    "auth.logout_everywhere",
    "auth.lock",
    "auth.ping",
    "static",
}


def await_second_factor(token: str, *, remember: bool, target: str | None) -> Response:
    """Keep the password-checked login in the session and ask for the code."""
    session[PENDING_KEY] = {"token": token, "remember": remember, "next": target}
    return redirect(url_for("mfa.login_code"))


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code():  # type: ignore[no-untyped-def]
    """Ask for the code of the login whose password was right; on success start the session."""
    pending = session.get(PENDING_KEY)
    if not pending:
        return redirect(url_for("auth.login"))
    form = MfaCodeForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            user = mfa.complete_login(token=pending["token"], code=form.code.data)
        except Unauthorized as failure:
            if failure.code == "mfa_token_invalid":
                session.pop(PENDING_KEY, None)
                flash(failure.message, "info")
                return redirect(url_for("auth.login"))
            error, status = failure.message, failure.status
        except Throttled as failure:
            error, status = failure.message, failure.status
        else:
            log_in_portal(user, remember=bool(pending.get("remember")))
            flash(f"Welcome, {user.full_name}.", "success")
            return redirect(pending.get("next") or url_for("worklist.index"))
    elif form.is_submitted():
        status = 422
    return render_template("auth/mfa_code.html", form=form, error=error), status


@bp.get("/account/mfa")
def account():  # type: ignore[no-untyped-def]
    """Show the state of my second factor, or start setting it up (QR code and secret)."""
    if current_user.mfa_enabled:
        left = mfa.recovery_codes_left(current_user)
        return render_template("auth/mfa_status.html", recovery_left=left)
    enrolment = mfa.begin_enrolment(current_user)
    return render_template("auth/mfa_enrol.html", enrolment=enrolment, form=MfaCodeForm())


@bp.post("/account/mfa")
def confirm():  # type: ignore[no-untyped-def]
    """Turn the second factor on with the app's first code; show the recovery codes once."""
    if current_user.mfa_enabled:
        return redirect(url_for("mfa.account"))
    form = MfaCodeForm()
    if form.validate_on_submit():
        try:
            codes = mfa.confirm_enrolment(current_user, form.code.data)
        except ValidationFailed as failure:
            form.code.errors = [failure.details["code"]]
        else:
            return render_template("auth/mfa_recovery.html", codes=codes)
    enrolment = mfa.begin_enrolment(current_user)
    return render_template("auth/mfa_enrol.html", enrolment=enrolment, form=form), 422


@bp.before_app_request
def _enrol_first():  # type: ignore[no-untyped-def]
    """Send an account that must use MFA and has not set it up to the enrolment page."""
    if (
        request.path.startswith("/api/")
        or request.endpoint in _OPEN_DURING_ENROLMENT
        or request.endpoint is None
        # No cookie, no login (session and remember-me live in cookies): a probe or a bearer
        # client is not loaded as flask-login's anonymous user for nothing.
        or "HTTP_COOKIE" not in request.environ
        or not current_user.is_authenticated
        or not mfa.needs_enrolment(current_user)
    ):
        return None
    target = url_for("mfa.account")
    if request.headers.get("HX-Request") == "true":
        return Response(status=204, headers={"HX-Redirect": target})
    flash("Your account must use two-factor authentication: set it up to continue.", "info")
    return redirect(target)
