"""The dashboard's pages (a folder named pages/ beside app.py is Streamlit's reserved multipage folder): each turns its widgets into a config, calls the engine and draws."""
