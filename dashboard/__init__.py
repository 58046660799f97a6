"""Unrolled dashboard: Streamlit pages over the engine (figures and state, no engine maths)."""
