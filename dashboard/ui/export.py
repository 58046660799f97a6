"""The Export section of a page: downloads (CSV, Parquet, zip, config JSON, PyTorch script, HTML
report) and the config upload that restores a view. Thin: the bytes come from dashboard/export/.

Every download is built only when clicked (st.download_button's deferred callable) from the trace
the page already holds, which the URL's config reproduces: the same link gives the same file.
"""

from __future__ import annotations

import urllib.parse

import streamlit as st

from dashboard.export import config_file, report, script, tables
from dashboard.figures import readouts
from dashboard.figures.present import style_for_presentation
from dashboard.safe import md
from dashboard.state import explore as S
from dashboard.state.schema import DIRECTIONS, View
from dashboard.ui import present as present_ui
from dashboard.ui.charts import image_format_ui
from dashboard.ui.widgets import set_widgets
from engine import Config, Trace

UPLOAD_COUNT = "_export_upload_n"  # bumping it gives the uploader a new key, which empties it
RESTORED = "_export_restored"  # (message, warnings) of the last upload, shown once
RERUN = "_export_rerun"  # an upload changed the sidebar: the whole app must rerun
EXPANDER = "export_open"  # session state: whether the Export section is open


def _upload_key() -> str:
    return f"export_upload_{st.session_state.get(UPLOAD_COUNT, 0)}"


def _restore() -> None:
    """Uploader callback: apply a config file whole, or nothing (the error is shown instead)."""
    ss = st.session_state
    file = ss.get(_upload_key())
    if file is None:
        return
    try:
        config, view, warnings = config_file.load_config_json(file.getvalue())
    except config_file.ConfigFileError as e:
        ss[RESTORED] = ("error", str(e), [])
        return
    set_widgets(config, view)
    ss[present_ui.KEY] = view.present
    ss[UPLOAD_COUNT] = ss.get(UPLOAD_COUNT, 0) + 1
    ss[RESTORED] = ("ok", f"Loaded {file.name}: the view it describes is restored.", warnings)
    ss[RERUN] = True


def rerun_if_restored() -> None:
    """Call at the top of a fragment holding export_section: after an upload the sidebar's
    widgets changed, so the whole app reruns (a fragment rerun would keep the old config)."""
    if st.session_state.pop(RERUN, False):
        st.rerun(scope="app")


def _link(config: Config, view: View) -> str:
    base = st.context.url or ""
    return f"{base}?{urllib.parse.urlencode(S.state_to_query(config, view))}"


def _report(trace: Trace, view: View, explain: dict, url: str) -> bytes:
    figures = report.view_figures(trace, view)
    if view.present:
        figures = [(k, style_for_presentation(f)) for k, f in figures]
    d = DIRECTIONS.index(view.direction)
    summary = [f"Loss L = {trace.loss:.4g}. |dL/dh_t| going back in time: "
               f"{readouts.decay_readout(trace, view.layer, d)}"]
    if view.view == "spectrum":
        summary.append(trace.spectrum[trace.layer_index(view.layer, d)]["verdict"])
    flags = readouts.flag_lines(trace)
    warnings = ["Numerical trouble (non-finite cells are drawn in magenta): " + "; ".join(flags)
                ] if flags else []
    page = report.report_html(figures, trace.config, view=view,
                         explanations=[(S.VIEW_TITLES[view.view], explain.get(view.view, ""))],
                         summary=summary, warnings=warnings, notes=trace.notes, url=url)
    return page.encode()


def export_section(trace: Trace, view: View, explain: dict, source: dict | None = None) -> None:
    """The Export expander: every download for this trace and view, and the config upload.
    source: where an uploaded series came from (file name, SHA-256), kept in the config files."""
    ss = st.session_state
    restored = ss.pop(RESTORED, None)
    config = trace.config
    stem = config_file.file_stem(config)
    if restored is not None:
        ss[EXPANDER] = True  # open, to show what the upload did
    box = st.expander("Export: data, config, PyTorch script, report", key=EXPANDER,
                      on_change="rerun", icon=":material/download:")
    if not box.open:  # lazy: nothing inside is built or sent until someone opens the section
        return
    with box:
        if restored is not None:
            kind, message, warnings = restored
            (st.error if kind == "error" else st.success)(md(message))  # may quote the file
            for w in warnings:
                st.warning(md(w), icon=":material/warning:")
        st.caption("Every file is made from the configuration in the address bar: the same link "
                   "gives the same file. Plots also download one by one from the camera in their "
                   "toolbar (hover a plot), as PNG or SVG:")
        image_format_ui()
        names = tables.quantities(trace)
        c1, c2, c3, c4 = st.columns([2, 1, 1, 2], vertical_alignment="bottom")
        what = c1.selectbox("Quantity (tidy: layer, direction, t, sample, unit, value)",
                            ["all quantities"] + names, key="export_quantity")
        name = None if what == "all quantities" else what
        part = "all" if name is None else name.replace(".", "_")
        c2.download_button("CSV", lambda: tables.csv_bytes(trace, name), f"{stem}_{part}.csv",
                           "text/csv", key="export_csv", on_click="ignore",
                           icon=":material/table:")
        c3.download_button("Parquet", lambda: tables.parquet_bytes(trace, name),
                           f"{stem}_{part}.parquet", "application/vnd.apache.parquet",
                           key="export_parquet", on_click="ignore", icon=":material/table:")
        c4.download_button("Zip: every quantity (CSV) + config.json",
                           lambda: tables.zip_bytes(trace, view, source), f"{stem}.zip", "application/zip",
                           key="export_zip", on_click="ignore", icon=":material/folder_zip:")
        c1, c2, c3 = st.columns(3)
        c1.download_button("Config (JSON)", config_file.config_json(config, view, source), f"{stem}.json",
                           "application/json", key="export_config", on_click="ignore",
                           icon=":material/settings:", help="Load it back below to restore "
                           "this exact view.")
        n = script.snippet_size(trace)
        if n <= script.MAX_SNIPPET_VALUES:
            c2.download_button("PyTorch script (.py)", lambda: script.snippet(trace).encode(),
                               f"{stem}.py", "text/x-python", key="export_snippet",
                               on_click="ignore", icon=":material/code:",
                               help="Plain torch.nn with the same weights and inputs (embedded): "
                               "recomputes h_t and dL/dh_t with autograd and prints their norms.")
        else:
            c2.caption(f"PyTorch script: {n:,} values to embed is above its cap of "
                       f"{script.MAX_SNIPPET_VALUES:,}; lower H, T or the batch.")
        url = _link(config, view)
        c3.download_button("HTML report (offline)",
                           lambda: _report(trace, view, explain, url), f"{stem}_{view.view}.html",
                           "text/html", key="export_report", on_click="ignore",
                           icon=":material/description:",
                           help="This view's plots, the explanations and the configuration in one "
                           "file that opens without a network: for lecture handouts.")
        st.file_uploader("Load a config (JSON) to restore its view", type=["json"],
                         key=_upload_key(), on_change=_restore,
                         max_upload_size=1, help=f"At most {config_file.MAX_CONFIG_BYTES:,} "
                         "bytes; a file is applied whole or not at all.")
