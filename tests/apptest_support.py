"""Shared AppTest helpers: run a page with URL query parameters, and insist it ran clean."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def run_page(at: AppTest, query: dict | None = None) -> AppTest:
    """Run an AppTest (from_file or from_function) with these query parameters in the URL."""
    at.query_params.update(query or {})
    return at.run()


def ok(at: AppTest) -> AppTest:
    """at, after checking the page shows no exception and no error message."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at
