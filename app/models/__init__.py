"""All models, imported here so Alembic and the app see the whole metadata."""

from app.models.analysis import Analysis, AnalysisStatus, IdempotencyRecord
from app.models.audit import AuditEvent
from app.models.base import Base
from app.models.case import Case, CaseImage, CaseReview
from app.models.consent import CaseConsent
from app.models.invite import Invite
from app.models.lesion import Lesion, Patient, Reanalysis
from app.models.outcome import CaseOutcome
from app.models.session import Draft, PortalSession, RememberToken
from app.models.user import RecoveryCode, Role, TokenBlocklist, User

__all__ = [
    "Analysis",
    "AnalysisStatus",
    "AuditEvent",
    "Base",
    "Case",
    "CaseConsent",
    "CaseImage",
    "CaseOutcome",
    "CaseReview",
    "Draft",
    "IdempotencyRecord",
    "Invite",
    "Lesion",
    "Patient",
    "PortalSession",
    "Reanalysis",
    "RecoveryCode",
    "RememberToken",
    "Role",
    "TokenBlocklist",
    "User",
]
