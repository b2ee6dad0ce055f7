"""Portal sessions (server-side records), remember-me tokens, revoking everything a user holds,
and the drafts kept when a session ends mid-typing.

- :mod:`.portal`: :func:`start_portal_session` (the one way a portal login begins, after the
  password and any second factor), :func:`resume_portal_session`, :func:`lock_portal_session`,
  :func:`end_portal_session`.
- :mod:`.remember`: remember-me tokens, random, stored hashed, rotated at each use.
- :mod:`.revocation`: :func:`revoke_everything`, the one function that ends every session and
  revokes every token of a user (logout everywhere, deactivation, password reset).
- :mod:`.drafts`: what was posted after the session ended, kept per user, case and form.
"""

from app.services.sessions.drafts import keep_draft, take_drafts
from app.services.sessions.portal import (
    PortalLogin,
    end_portal_session,
    idle_limit,
    lock_portal_session,
    locked_session_user,
    resume_portal_session,
    start_portal_session,
)
from app.services.sessions.remember import forget_remember_token, redeem_remember_token
from app.services.sessions.revocation import revoke_everything

__all__ = [
    "PortalLogin",
    "end_portal_session",
    "forget_remember_token",
    "idle_limit",
    "keep_draft",
    "lock_portal_session",
    "locked_session_user",
    "redeem_remember_token",
    "resume_portal_session",
    "revoke_everything",
    "start_portal_session",
    "take_drafts",
]
