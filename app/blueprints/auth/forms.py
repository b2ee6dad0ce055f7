"""WTForms for the portal's login pages (Flask-WTF adds the CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


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


class RegisterForm(FlaskForm):
    """Self-registration (``REGISTRATION`` open or invite): the invitation's token rides along
    hidden (from ``/register?invite=<token>``); the password is typed twice."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        "Password again",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )
    invite = HiddenField(validators=[Length(max=200)])
