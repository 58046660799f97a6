"""A page that reconnects reruns in full, so a replica that takes over restores it from the URL.

Behind a balancer (deploy/, `python3 dev.py room N`), a replica that dies cuts its browsers'
websockets; each page reconnects through the balancer to a live replica, which holds no session
for it and starts a fresh one. Streamlit's page asks for a script run after reconnecting only in
some states (a script or a fragment was running, or a fragment reruns on a timer); otherwise it
keeps the old drawing and assumes the server still holds its session. Its next action is then
often a fragment rerun (a tab, the time cursor, a knob of Explore's views), which the fresh session
cannot run: it holds no fragment, the rerun is skipped, and the tab stays empty (seen in Chromium).

`rerun_on_reconnect()` draws one empty fragment that reruns on a timer of a day: its only effect
is that Streamlit's page asks for a full run every time its websocket reconnects, and a full run
on a fresh session reads the whole state from the URL (every page's `init_state`). On a reconnect
to the same, still-living session that run changes nothing. tests/test_replicas.py checks it in
Chromium through HAProxy: after the kill, a tab click on the moved page draws its view.
"""

from __future__ import annotations

import streamlit as st

TIMER_S = 86_400  # s: a day; the timer only has to exist (setInterval caps at about 24 days)


@st.fragment(run_every=TIMER_S)
def _timer() -> None:
    """Draws nothing; its timer is what makes a reconnecting page ask for a full run."""


def rerun_on_reconnect() -> None:
    """Call once per full run, after the page (an empty element at its end)."""
    _timer()
