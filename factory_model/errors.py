"""User-facing errors.

Every problem a user can cause (an unknown id, a bad number, a configuration that cannot run, a malformed file)
raises :class:`FactoryModelError` with a one-line message that names the culprit and, where possible, the fix.
The CLI prints that line and exits with status 2; the dashboard shows it. Anything else is a bug.
"""

from __future__ import annotations

import difflib


class FactoryModelError(ValueError):
    """A problem with the user's input, explained in one line."""


class CatalogError(FactoryModelError):
    """A catalog or data file is missing, malformed, or lacks a source for a number."""


def unknown_id_message(kind: str, given: str, known: list[str]) -> str:
    """'unknown system 'h100' (did you mean 'h100-sxm'?); known: ...'"""
    given = str(given)
    close = difflib.get_close_matches(given[:100], known, n=1, cutoff=0.4) if len(given) <= 100 else []
    if not close and given:  # prefix matches catch short forms such as 'h100' or 'gb200'
        close = [k for k in known if k.startswith(given.lower())][:1]
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    shown = given if len(given) <= 40 else given[:40] + "…"  # never echo a whole hostile value
    return f"unknown {kind} {shown!r}{hint}; known {kind}s: {', '.join(known)}"
