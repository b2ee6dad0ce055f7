"""All models, imported here so Alembic and the app see the whole metadata."""

from app.models.audit import AuditEvent
from app.models.base import Base
from app.models.case import Case, CaseImage
from app.models.user import Role, TokenBlocklist, User

__all__ = ["AuditEvent", "Base", "Case", "CaseImage", "Role", "TokenBlocklist", "User"]
