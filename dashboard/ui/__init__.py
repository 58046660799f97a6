"""Streamlit pieces shared by the pages: widgets from the schema, drawing charts, presentation mode, export."""
