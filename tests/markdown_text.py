"""Reading page messages as a person sees them: user text in them is Markdown-escaped
(dashboard/safe.py), and CommonMark shows each backslash-escaped character as itself."""

from __future__ import annotations

import re


def plain(markdown: str) -> str:
    """The text a Markdown body shows, for bodies whose only markup is backslash escapes."""
    return re.sub(r"\\(.)", r"\1", markdown)
