"""Start the dashboard's server: `streamlit run dashboard/app.py`, with the heavy imports begun at
once. `python3 dev.py app` (and each replica of `dev.py room`) runs it as

    python -m dashboard.serve [streamlit options]

Streamlit runs app.py only when the first browser connects, and the first chart then waits for
torch and the engine to import (2-3 s on an idle 2-core machine, more under load), time the bare
one-heatmap page never spends. Here a background thread starts those imports as the server
process starts, while the server boots and the browser loads Streamlit's frontend; app.py's own
imports then find the modules loaded (or wait for the thread to finish them: Python's import
lock makes that safe). Only modules that need no Streamlit script context are imported here: the
pages (with their st.cache_data) are still imported by app.py inside a script run.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
HEAVY = ("torch", "numpy", "pandas", "plotly.graph_objects", "plotly.io", "engine")


def _import_heavy() -> None:
    """Import what the first chart needs; a failure is left for app.py to report in words."""
    for name in HEAVY:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - the page's own import says what is wrong
            return


def main(argv: list[str]) -> int:
    threading.Thread(target=_import_heavy, name="unrolled-imports", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *argv]
    return cli.main(prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
