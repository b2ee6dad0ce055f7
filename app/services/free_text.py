"""Whether free text a person typed holds anything visible.

``str.strip()`` removes whitespace only; a field made of zero-width spaces (U+200B), joiners,
word joiners, byte order marks, bidi marks, soft hyphens or blank-looking letters such as the
Hangul filler (U+3164) survives it and looks empty on every page, report and export. Required
free text (chief complaint, patient reference, final diagnosis, reason for reopening, histology
diagnosis) is refused when :func:`is_invisible` is true, with :func:`invisible_problem`.
"""

from __future__ import annotations

import unicodedata

#: Unicode general categories that draw nothing on their own: controls, format characters
#: (zero-width, joiners, bidi marks, soft hyphen, BOM), surrogates, private use, unassigned,
#: separators, and combining marks with no base letter (Unicode Standard, ch. 4.5).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})
#: Letters and symbols that render as blank space although their category says otherwise
#: (Hangul fillers, Braille pattern blank).
BLANK_LOOKING = frozenset({"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"})


def is_invisible(text: str) -> bool:
    """True when ``text`` has no character that is drawn (empty text included)."""
    return all(
        char in BLANK_LOOKING or unicodedata.category(char) in INVISIBLE_CATEGORIES for char in text
    )


def invisible_problem(label: str) -> str:
    """The message for required free text ``label`` (e.g. "The chief complaint") that holds
    only invisible characters."""
    return (
        f"{label} contains only invisible characters (such as zero-width spaces); type it in words."
    )
