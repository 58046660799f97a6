"""Pure exports: a Trace and its Config as files (tables, config JSON, a PyTorch script, an HTML report). No Streamlit."""
