"""Generated URLs through the real app (AppTest): wrong types, out-of-range and huge numbers,
unknown keys, unicode and injection-looking strings. Never an exception; every value that is not
applied, and every unknown key, is named in a warning; the address bar is rewritten to a clean,
complete state.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard.state import explore as S
from dashboard.state import schema

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
EXAMPLES = 200

# Sizes stay small when valid (each example runs the engine), but may be far out of range.
SMALL = {"seq_len": (1, 40), "hidden_size": (1, 12), "batch_size": (1, 3), "num_layers": (1, 2),
         "input_size": (1, 4)}
NASTY = st.sampled_from([
    "", " ", "none", "None", "null", "NaN", "inf", "-inf", "1e309", "-1", "0", "3.5", "9" * 40,
    "0x10", "1_000", "true", "yes", "[]", "{}", "'; DROP TABLE runs; --", "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>', "../../etc/passwd", "%00", "\u202eevil", "é ü 漢字 🙂",
    "${7*7}", "{{7*7}}", "$(rm -rf /)", "a" * 3000, "rnn\x00", "lstm ", "GRU",
])


def _value_for(p: schema.Param) -> st.SearchStrategy:
    """A plausible value for a known parameter, or junk."""
    if p.kind == "choice":
        good = st.sampled_from(p.choices)
    elif p.kind == "bool":
        good = st.sampled_from(["true", "false", "1", "0", "on", "off"])
    elif p.kind == "int":
        lo, hi = SMALL.get(p.name, (int(p.lo), min(int(p.hi), 60)))
        good = st.integers(lo, hi).map(str)
    elif p.kind == "float":
        good = st.floats(p.lo, min(p.hi, 5.0), allow_nan=False).map(repr)
    else:
        good = st.text(min_size=1, max_size=40)
    return st.one_of(good, NASTY, st.text(max_size=30), st.integers(-10**20, 10**20).map(str))


KNOWN = {p.name: _value_for(p) for p in S.PARAMS + S.VIEW_PARAMS}
# a series a link cannot name: an uploaded file's column, a stock that is not built in
KNOWN["series"] = st.one_of(KNOWN["series"], st.sampled_from(
    ["upload:Close", "upload:", "stocks:TSLA", "stocks:aapl", "AAPL", "stocks:AAPL "]))
UNKNOWN_KEYS = st.one_of(st.sampled_from(["colour", "cell ", "CELL", "a.cell", "__proto__",
                                          "<script>", "seed[]", "é"]),
                         st.text(min_size=1, max_size=12))


@st.composite
def queries(draw) -> dict:
    q = draw(st.fixed_dictionaries({}, optional=KNOWN))
    for _ in range(draw(st.integers(0, 2))):
        key = draw(UNKNOWN_KEYS)
        if key not in KNOWN:
            q[key] = draw(NASTY)
    return q


def _plain(s: str) -> str:
    """A warning as shown (user text is Markdown-escaped: dashboard/safe.py)."""
    return re.sub(r"\\(.)", r"\1", s)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(queries())
def _check_url(seen: dict, query: dict) -> None:
    """One generated URL through the app; tallies runs, warned pages and clean links in seen
    (hypothesis fills query; the caller passes seen)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    seen["runs"] += 1
    assert not at.exception, [e.value for e in at.exception]
    warned = _plain(" | ".join(w.value for w in at.warning))
    seen["warned"] += bool(warned)
    # a link that names no knob lands on the landing preset (state/explore.landing_query)
    expected, view, _ = S.state_from_query(S.landing_query(query))
    for key, raw in query.items():
        p = S.PARAM.get(key) or S.VIEW_PARAM.get(key)
        if p is None:
            assert repr(key)[1:-1][:20] in warned, f"unknown key {key!r} not named: {warned}"
            continue
        try:
            applied = schema.parse_value(p, raw) == (getattr(expected, key) if key in S.PARAM
                                                else getattr(view, key))
        except ValueError:
            applied = False
        if not applied:
            assert key in warned, f"{key}={raw!r} was not applied but no warning names it"
    # the page shows the state it runs, and the address bar holds exactly that state
    for p in S.PARAMS:
        assert at.session_state[f"cfg_{p.name}"] == getattr(expected, p.name), p.name
    shown = dict(at.query_params)
    assert set(shown) <= set(KNOWN), f"unknown keys left in the URL: {set(shown) - set(KNOWN)}"
    if not at.error:  # (a size problem is an error message, by design, and leaves the URL be)
        for p in S.PARAMS:  # every knob, exactly as applied: the link reproduces the page
            assert shown[p.name] == schema.format_value(p, getattr(expected, p.name)), p.name
        seen["clean"] += 1


def test_generated_urls_never_crash_and_name_what_was_ignored():
    """Every generated URL passes _check_url, and the run covered what it is for: all its
    examples ran, at least half of them warned, and some gave a clean, complete link (checked
    here, in the same test, so it holds run alone or in any order)."""
    seen = {"runs": 0, "warned": 0, "clean": 0}
    _check_url(seen)
    assert seen["runs"] >= EXAMPLES and seen["warned"] >= EXAMPLES // 2, seen
    assert seen["clean"] > 0, seen
    print(f"URL fuzz: {seen}")


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(queries(), st.sampled_from(["a.", "b.", ""]))
def test_compare_and_train_links_parse_or_warn(query, prefix):
    """The Compare and Train pages' URL parsers (pure) on the same generated links: never an
    exception; every unknown key is named in a warning."""
    from dashboard.state import compare as CS
    from dashboard.state import train as TS

    q = {f"{prefix}{k}": v for k, v in query.items()}
    a, b, _, warnings = CS.compare_from_query(q)
    text = " ".join(warnings)
    for key in q:
        side, _, name = key.partition(".")
        known = (side in ("a", "b") and name in S.PARAM) or key in CS.VIEW_PARAM
        if not known:
            assert repr(key)[1:-1][:20] in text, f"compare: {key!r} not named"
    settings, warnings = TS.from_query(q)
    text = " ".join(warnings)
    for key in q:
        if key not in TS.PARAM and key not in ("models", "present"):
            assert repr(key)[1:-1][:20] in text, f"train: {key!r} not named"
    assert TS.from_query(TS.to_query(settings)) == (settings, [])
