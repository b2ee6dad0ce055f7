"""The worklist: analysed, unreviewed cases ordered by when their review is due.

``due`` holds the pure rules (review window per urgency, states, time in words); ``queue``
reads the queue, counts it per state and reassigns a case (admins).
"""

from app.services.worklist.due import STATES, state_of, time_in_words, window
from app.services.worklist.queue import WorkItem, counts, physicians, reassign_case, worklist

__all__ = [
    "STATES",
    "WorkItem",
    "counts",
    "physicians",
    "reassign_case",
    "state_of",
    "time_in_words",
    "window",
    "worklist",
]
