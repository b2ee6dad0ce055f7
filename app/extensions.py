"""Unbound extension singletons; ``create_app`` binds each with ``init_app``."""

from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app.models.base import Base
from app.token_decoding import RememberingJWTManager

# expire_on_commit=False: a request commits its change and then serialises what it wrote;
# expiring on commit would reload every object row by row (one query each) for nothing.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
jwt = RememberingJWTManager()  # flask-jwt-extended's, verified tokens remembered until they expire
login_manager = LoginManager()
csrf = CSRFProtect()
