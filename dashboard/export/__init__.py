"""Pure exports: a Trace and its Config as files. No Streamlit (the Export section's widgets are
dashboard/ui/export.py).

- tables.py: the numbers as tidy CSV, Parquet, and a zip of every quantity with its config
- config_file.py: the config JSON file (written, and read back strictly) and download names
- script.py: the reproducible PyTorch script, script_template.py filled in with one run
- script_template.py: that script as plain, linted Python with marked placeholders (read as text)
- report.py: the offline HTML report of the current view
"""
