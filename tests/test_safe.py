"""dashboard.safe.md: user text comes out with every Markdown-significant character escaped."""

from __future__ import annotations

import re

import pytest

from dashboard.safe import md

PAYLOADS = ["<script>alert(1)</script>", "![x](http://h/p.png)", "[a](javascript:alert(1))",
            "$x^2$", ":red[boom]", ":material/warning:", "**b** _i_ `c`", "# head", "a\nb\r\nc",
            "\\*", "plain words 123"]


def unescape(s: str) -> str:
    """What CommonMark shows for an escaped string: each backslash-escaped character itself."""
    return re.sub(r"\\(.)", r"\1", s)


@pytest.mark.parametrize("text", PAYLOADS)
def test_md_shows_text_verbatim(text):
    out = md(text)
    assert unescape(out) == text.replace("\r", " ").replace("\n", " ")
    # no special character is left unescaped
    bare = re.sub(r"\\.", "", out)
    assert not re.search(r"[<>\[\]()*_`$:#!\\]", bare), out
