import time, os, sys
import streamlit as st
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboard import explore
if not getattr(explore, "_timed", False):
    explore._timed = True
    _orig = explore._main_view
    def _tm(config):
        t0 = time.time(); _orig(config)
        open("/tmp/bs/tim.txt", "a").write(f"main_view start {t0:.3f} end {time.time():.3f}\n")
    explore._main_view = _tm
st.set_page_config(page_title="Unrolled", layout="wide")
def page():
    t0 = time.time(); explore.page()
    open("/tmp/bs/tim.txt", "a").write(f"page start {t0:.3f} end {time.time():.3f}\n")
st.navigation([st.Page(page, title="Explore", url_path="explore", default=True)]).run()
