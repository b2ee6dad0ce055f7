"""All models, imported here so Alembic and the app see the whole metadata."""

from app.models.base import Base
from app.models.user import Role, TokenBlocklist, User

__all__ = ["Base", "Role", "TokenBlocklist", "User"]
