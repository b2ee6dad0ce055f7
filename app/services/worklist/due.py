"""When an analysed case is due for the physician's review, from its headline urgency.

The review window follows the headline action (:mod:`app.services.clinical_record.headline`):

============  ==========================================  ===========================
urgency       action                                      due after the analysis
============  ==========================================  ===========================
emergency     refer as an emergency, now                  at once (0)
high          2-week suspected-cancer pathway             14 days (NICE NG12 1.7.1-3)
medium        physician review within 24 hours            24 hours (the AI contract)
low           routine care                                ``WORKLIST_ROUTINE_DAYS``
============  ==========================================  ===========================

The clock starts at the case's first completed analysis: a re-analysis never postpones it.
Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: Review windows of the urgencies with a fixed one (``low`` comes from the settings).
WINDOWS: dict[str, timedelta] = {
    "emergency": timedelta(0),
    "high": timedelta(days=14),
    "medium": timedelta(hours=24),
}
#: Default routine window, days (``WORKLIST_ROUTINE_DAYS``): a routine case is looked at
#: within four weeks, the usual routine dermatology referral target.
DEFAULT_ROUTINE_DAYS = 28

#: Worklist states, most pressing first: past due; due within the next 24 hours; later.
STATES: tuple[str, ...] = ("overdue", "due_today", "upcoming")
#: How soon counts as "due today".
SOON = timedelta(hours=24)


def window(urgency: str | None, routine_days: int = DEFAULT_ROUTINE_DAYS) -> timedelta:
    """The review window of a headline urgency (unknown counts as medium: a physician must look
    within 24 hours before anything is called routine)."""
    if urgency == "low":
        return timedelta(days=routine_days)
    return WINDOWS.get(urgency or "", WINDOWS["medium"])


def state_of(due_at: datetime, now: datetime) -> str:
    """``overdue`` (due before ``now``), ``due_today`` (within 24 h) or ``upcoming``."""
    if due_at < now:
        return "overdue"
    return "due_today" if due_at - now <= SOON else "upcoming"


def _amount(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    if minutes < 60:
        value, unit = max(minutes, 1), "minute"
    elif minutes < 48 * 60:
        value, unit = round(minutes / 60), "hour"
    else:
        value, unit = round(minutes / (24 * 60)), "day"
    return f"{value} {unit}{'' if value == 1 else 's'}"


def time_in_words(due_at: datetime, now: datetime) -> str:
    """ "overdue by 3 hours", "due in 2 days", "due in 1 minute" (rounded to the nearest unit;
    minutes below an hour, hours below two days, then days)."""
    if due_at < now:
        return f"overdue by {_amount(now - due_at)}"
    return f"due in {_amount(due_at - now)}"
