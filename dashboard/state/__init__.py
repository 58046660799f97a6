"""Pure page state: the knob schema, one URL parser, each page's schema, the limits, the presets. No Streamlit."""
