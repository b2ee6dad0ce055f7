"""WTForms for the portal's login pages (Flask-WTF adds the CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Email and password, with an optional 'keep me signed in on this device'."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    remember = BooleanField("Keep me signed in on this device")


class MfaCodeForm(FlaskForm):
    """The second factor: the authenticator app's 6-digit code or a recovery code."""

    code = StringField(
        "Code from your authenticator app",
        validators=[DataRequired(), Length(max=32)],
        filters=[lambda value: value.strip() if value else value],
    )
