"""The portal's registration page: ``/register`` (``/register?invite=<token>`` for an invitation).

It calls the same service as ``POST /api/auth/register`` (:func:`app.services.registration.
register`), so the ``REGISTRATION`` policy, the throttle and the answers are the API's: with
``open`` every registration ends with the same message whether or not the address had an
account; with ``invite`` only the holder of a valid invitation for that address gets an account.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.auth.forms import RegisterForm
from app.errors import AppError, ValidationFailed
from app.security import public
from app.services import registration

bp = Blueprint("register", __name__)

_FIELDS = ("email", "full_name", "password")


def _closed_page(policy: registration.Policy, form: RegisterForm) -> str | None:
    """The message shown instead of the form when this request cannot register at all."""
    if policy is registration.Policy.CLOSED:
        return "Self-registration is disabled; ask an administrator for an account."
    if policy is registration.Policy.INVITE and not form.invite.data:
        return registration.InviteRequired.message + " It comes as a link to this page."
    return None


@bp.route("/register", methods=["GET", "POST"])
@public
def register():  # type: ignore[no-untyped-def]
    """Show the registration form; on success go to the login page with the outcome."""
    if current_user.is_authenticated:
        return redirect(url_for("worklist.index"))
    form = RegisterForm()
    if request.method == "GET":
        form.invite.data = request.args.get("invite", "").strip()
    policy = registration.Policy(current_app.config["REGISTRATION"])
    refused = _closed_page(policy, form)
    if refused is not None:
        return render_template("auth/register.html", form=None, error=refused), 403
    error, status = None, 200
    if form.validate_on_submit():
        try:
            outcome = registration.register(
                email=form.email.data,
                password=form.password.data,
                full_name=form.full_name.data,
                invite_token=form.invite.data or None,
            )
        except ValidationFailed as failure:
            for name, message in failure.details.items():
                if name in _FIELDS:
                    getattr(form, name).errors = [message]
            error, status = None, 422
        except AppError as failure:  # invite_invalid, email_taken, throttled, server busy
            error, status = failure.message, failure.status
        else:
            if outcome.user is not None:
                flash("Your account is ready. Log in with the password you chose.", "success")
            else:
                flash(registration.ACCEPTED_MESSAGE, "info")
            return redirect(url_for("auth.login"))
    elif form.is_submitted():
        status = 422
    return render_template("auth/register.html", form=form, error=error), status
