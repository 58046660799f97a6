"""Showing user-provided text (URL values, file and column names, sentences) as text, never markup.

Streamlit renders st.warning / st.error / st.info / st.markdown bodies as Markdown: without
escaping, a URL value like ``![x](http://host/t.png)`` would load an image, ``$...$`` would be
typeset and ``:red[...]`` coloured. Raw HTML is never enabled anywhere in the dashboard
(no unsafe_allow_html, no st.html), so escaping Markdown is all that is needed.
"""

from __future__ import annotations

import re

# Every ASCII punctuation character CommonMark lets a backslash escape, which covers Markdown
# syntax, raw-HTML angle brackets, Streamlit's $math$ and :directive[...] / :emoji: forms.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=/^%@;?,])")


def md(text: str) -> str:
    """text with every Markdown-significant character backslash-escaped: it shows verbatim."""
    s = str(text).replace("\r", " ").replace("\n", " ")  # one line: no block syntax
    return _SPECIAL.sub(r"\\\1", s)
