"""The Train page: train up to three models side by side and watch the gradient through time change.

Sidebar widgets -> TrainSettings (state/train.py, round-trips the URL) -> engine.train_many, whose
callback redraws the progress bar and the charts (train_figures.py) every REDRAW_S seconds. The
finished (or stopped) run stays in st.session_state, so the snapshot slider scrubs it afterwards
without training again. Stop (or any widget change) interrupts the run: Streamlit reruns the
script, and the page shows what was trained up to the last redraw.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import streamlit as st

from dashboard import uploads as U
from dashboard.figures import train as train_figs
from dashboard.safe import md
from dashboard.state import train as TS
from dashboard.state.train_presets import TrainPreset, load_train_presets
from dashboard.ui import present as present_ui
from dashboard.ui import series as series_pieces
from dashboard.ui import weights as weights_ui
from dashboard.ui.charts import draw, guarded
from dashboard.ui.widgets import applies, param_widget
from engine.train import Progress, TrainResult, train_many

if TYPE_CHECKING:
    import pandas as pd

REDRAW_S = 0.5  # live charts: redraw at most twice a second (the browser needs time to draw)
DRAW_SHARE = 0.3  # ... and spend at most about this share of the run drawing (slow machines)
RESULT = "train_result"  # session_state: {"settings", "results", "status"}
GROUPS = {"task": "Task", "model": "Models", "training": "Training"}
# When a knob matters (others keep their value but are greyed out).
RELEVANT = {
    "delay": lambda v: v["train_task"] == "recall",
    "seq_len": lambda v: v["train_task"] != "recall",
    "period": lambda v: v["train_task"] == "sine",
    "forget_bias": lambda v: bool({"lstm", "gru_bias"} & set(v["models"])),
}
INTRO = ("Train up to three models side by side on the same batches and watch what the seeds "
         "claim: a plain tanh RNN's gradient fades within a few steps, so it cannot learn a "
         "dependency D steps long; identity init (IRNN), gradient clipping, the gates of the "
         "LSTM and the GRU, and attention are the proposed fixes. Each is one click under "
         "**Remedies** in the sidebar: a run where it beats the plain tanh RNN (the caption says "
         "on which seeds); press **Train** and watch the heatmap light up to the left as it "
         "learns. With torch's default init the gates start near 0.5 and the gradient fades "
         "there too: a gate bias of about ln D (4 for D = 50) keeps it alive.")

PRESETS_NOTE = ("Each sets every knob to a run on delayed recall D = 50 (batch 32, clip 1) "
                "with the plain tanh RNN beside the remedy, on the same batches. Numbers: final "
                "loss / baseline on seeds 0, 1, 2 (1 = learned nothing), from "
                "`benchmarks/bench_train.py --presets`.")
CHARTS = ("**Loss**: thin lines every step, thick smoothed; dashed grey: the trivial baseline "
          "(a model at it has learned nothing). **Gradient norm** of all weights per step, "
          "before clipping and as applied, with the threshold. **Spectral radius** of W_hh: "
          "below 1 (tanh, ReLU) the gradient must fade going back. **Heatmap**: one row per "
          "snapshot, one column per step t; bright means dL/dh_t is large there, dark that the "
          "gradient from the loss never reaches that far back (blank: exactly 0, cut by truncated "
          "BPTT or blocked by ReLU units that are all off).")


def key(name: str) -> str:
    """Session-state key of a Train page widget (and its CSS class st-key-tr_<name>)."""
    return f"tr_{name}"


def _widget_values(s: TS.TrainSettings) -> dict:
    values = {p.name: getattr(s, TS.field_name(p.name)) for p in TS.PARAMS}
    return {**values, "models": list(s.models)}  # a multiselect holds a list


def init_state() -> None:
    """Fill the widgets: from the URL on a session's first visit (warnings kept for display), and
    from the last settings when coming back from another page (Streamlit forgets the state of
    widgets that a run did not draw)."""
    ss = st.session_state
    if not ss.get("_train_ready"):
        settings, warnings = TS.from_query(st.query_params.to_dict())
        ss["train_url_warnings"] = warnings
        ss["train_url_settings"] = settings
        ss["_train_ready"] = True
    elif key("train_task") not in ss:
        settings = ss.get("train_settings", TS.DEFAULT)
    else:
        return
    for name, value in _widget_values(settings).items():
        ss[key(name)] = value


def _apply_preset(preset: TrainPreset) -> None:
    """A preset button's click: every knob to what the preset's link would set."""
    for name, value in _widget_values(preset.settings).items():
        st.session_state[key(name)] = value


def presets_ui() -> None:
    """One button per remedy (assets/train_presets.json), its caption and its link."""
    with st.sidebar.expander("Remedies, one click each", expanded=True):
        st.caption(PRESETS_NOTE)
        for p in load_train_presets():
            st.button(p.title, key=key(f"preset_{p.id}"), on_click=_apply_preset, args=(p,),
                      width="stretch")
            st.caption(f"{p.caption[0]}  \n{p.caption[1]} [Link]({p.link})")


def settings_ui() -> tuple[TS.TrainSettings, list[str]]:
    """Every knob in the sidebar, grouped; returns the settings (and warnings for fixes)."""
    ss = st.session_state
    values = {p.name: ss.get(key(p.name)) for p in TS.PARAMS}
    for group, title in GROUPS.items():
        with st.sidebar.expander(title, expanded=True):
            for p in (p for p in TS.PARAMS if p.group == group):
                param_widget(p, key(p.name), disabled=not applies(p, RELEVANT, values))
    values = {TS.field_name(p.name): ss[key(p.name)] for p in TS.PARAMS if p.name != "models"}
    models = tuple(ss[key("models")])
    warnings = []
    if not models:
        warnings.append(f"no model chosen; training the default {', '.join(TS.DEFAULT.models)}")
        models = TS.DEFAULT.models
    settings, more = TS.checked(TS.TrainSettings(**values, models=models))
    ss["train_settings"] = settings  # outlives the widgets when another page is shown
    return settings, warnings + more


def _sync_url(settings: TS.TrainSettings) -> None:
    q = TS.page_query(settings, present_ui.presenting())
    if st.query_params.to_dict() != q:
        st.query_params.from_dict(q)


def page() -> None:
    """Build the whole Train page; whatever goes wrong is a message, never a traceback."""
    guarded(_page, "Try other settings; the link in the address bar reproduces them.")


def _page() -> None:
    init_state()
    presets_ui()
    settings, warnings = settings_ui()
    st.title("Unrolled · Train")
    st.caption(INTRO)
    url_warnings = st.session_state.get("train_url_warnings", [])
    if settings != st.session_state.get("train_url_settings"):
        url_warnings = []  # the link's problems are gone once the settings moved on
    for w in url_warnings + warnings:
        st.warning(md(w), icon=":material/warning:")
    _sync_url(settings)
    series, problem = None, None
    if settings.task == "series":
        series, problem = series_ui(settings)
    left, right, _ = st.columns([1, 1, 4])
    start = left.button("Train", key=key("run"), type="primary", icon=":material/play_arrow:",
                        disabled=problem is not None, width="stretch")
    right.button("Stop", key=key("stop"), icon=":material/stop:", width="stretch",
                 help="Stops a run in progress; what was trained so far stays on the page.")
    progress = st.empty()
    st.caption(CHARTS)
    cols = present_ui.chart_columns(3)
    slots = {"loss": cols[0].empty(), "norm": cols[1].empty(), "radius": cols[2].empty(),
             "heat": st.empty()}
    if start:
        _train(settings, series, progress, slots)
    run = st.session_state.get(RESULT)
    if run is None:
        progress.info("Choose a task and models, then press **Train**.", icon=":material/school:")
        return
    if run["settings"] != settings:
        st.info("The charts show the last run; the settings have changed since. Press **Train** "
                "to train with the new ones.", icon=":material/info:")
    _show(run, progress, slots)


def series_ui(settings: TS.TrainSettings) -> tuple[object, str | None]:
    """Upload a CSV, pick a numeric column and what to do with missing values (the uploader and
    its pieces are ui/series.py's, shared with Explore and Compare). Returns (values, problem):
    values for the engine, or a message why training cannot start."""
    with st.container(border=True):
        upload, problem = series_pieces.file_ui(
            key("upload"), "CSV file with a numeric column (e.g. daily closing prices)",
            "The file is not part of the link in the address bar.")
        if problem:
            return None, problem
        if upload is None:
            msg = "Upload a CSV file to train on your series."
            st.info(msg, icon=":material/upload_file:")
            return None, msg
        table = upload.table
        c1, c2 = st.columns(2)
        names = list(table.columns)
        if st.session_state.get(key("column")) not in names:
            st.session_state[key("column")] = names[-1]  # e.g. Close after Open in a price file
        column = c1.selectbox("Column", names, key=key("column"))
        fill = series_pieces.fill_ui(key("fill"), c2)
        try:
            s = U.column_series(table, column, fill=fill, min_length=settings.seq_len + 2)
        except U.UploadError as e:
            st.error(md(str(e)), icon=":material/error:")
            return None, str(e)
        # it names the file's columns: escaped
        (st.warning if s.missing else st.success)(md(series_pieces.column_note(s, table)))
        return s.values, None


def _copy(r: TrainResult) -> TrainResult:
    """A result that owns its arrays (the engine hands views of its buffers to the callback)."""
    return dataclasses.replace(r, loss=r.loss.copy(), grad_norm=r.grad_norm.copy(),
                               grad_norm_clipped=r.grad_norm_clipped.copy(),
                               snapshots=list(r.snapshots))


def _train(settings: TS.TrainSettings, series, progress, slots) -> None:
    """Run the training, redrawing the progress bar and charts from the engine's callback."""
    ss = st.session_state
    ss.pop(RESULT, None)
    redraw = {"next": 0.0, "n": 0}
    bar = progress.progress(0.0, text="Starting…")

    def on_progress(p: Progress) -> bool:
        now = time.monotonic()
        if now < redraw["next"] and p.step < p.steps:
            return True
        redraw["n"] += 1
        results = [_copy(r) for r in p.results]
        # Kept before drawing: a Stop click interrupts the script inside the next st call.
        ss[RESULT] = {"settings": settings, "results": results,
                      "status": f"Stopped after step {p.step} of {p.steps}."}
        bar.progress(p.step / p.steps, text=progress_text(p))
        _charts(results, slots, suffix=f"_live{redraw['n']}")
        spent = time.monotonic() - now  # the next redraw waits until drawing is a small share
        redraw["next"] = now + max(REDRAW_S, spent / DRAW_SHARE)
        return True

    try:
        results = train_many(settings.configs(), settings.steps, callback=on_progress,
                             series=series, **settings.train_args())
    except ValueError as e:
        progress.error(f"Cannot train with these settings: {md(str(e))}", icon=":material/error:")
        return
    total = sum(r.elapsed_s for r in results)
    done = max(r.steps_done for r in results)
    status = f"Done: {done} steps of {len(results)} model(s) in {total:.1f} s of training."
    diverged = [f"{r.label}: {r.stopped}" for r in results if r.stopped]
    if diverged:
        status += " " + " ".join(diverged)
    ss[RESULT] = {"settings": settings, "results": results, "status": status}


def progress_text(p: Progress) -> str:
    """'step 120 / 300 · 41 steps/s · 4 s left'."""
    rate = p.steps_per_s
    eta = p.eta_s
    left = f"{eta:.0f} s left" if eta == eta else "…"
    return f"step {p.step} / {p.steps} · {rate:.1f} steps/s · {left}"


def _charts(results: list[TrainResult], slots: dict, suffix: str = "", marker: int | None = None) -> None:
    """The four live charts into their placeholders (keys unique per redraw within a run)."""
    with slots["loss"].container():
        draw(train_figs.loss_figure, results, marker, key=f"tr_fig_loss{suffix}")
    with slots["norm"].container():
        draw(train_figs.grad_norm_figure, results, marker, key=f"tr_fig_norm{suffix}")
    with slots["radius"].container():
        draw(train_figs.radius_figure, results, marker, key=f"tr_fig_radius{suffix}")
    with slots["heat"].container():
        draw(train_figs.grad_time_figure, results, marker, key=f"tr_fig_heat{suffix}")


def _show(run: dict, progress, slots) -> None:
    """A finished or stopped run: status, charts, the snapshot slider and the summary table."""
    results = run["results"]
    done = max((r.steps_done for r in results), default=0)
    progress.progress(done / max(run["settings"].steps, 1), text=run["status"])
    snaps = [s.step for s in results[0].snapshots] if results else []
    marker = None
    if len(snaps) > 1:
        ss = st.session_state
        if ss.get(key("scrub")) not in snaps:
            ss[key("scrub")] = snaps[-1]
        marker = st.select_slider("Snapshot: training step", snaps, key=key("scrub"),
                                  help="Scrub through the snapshots: the marker moves on every "
                                       "chart, and the plots below show that step.")
    _charts(results, slots, marker=marker)
    if snaps:
        index = snaps.index(marker) if marker in snaps else len(snaps) - 1
        c1, c2 = present_ui.chart_columns(2)
        with c1:
            draw(train_figs.snapshot_figure, results, index, key="tr_fig_snapshot")
        with c2:
            draw(train_figs.hidden_figure, results, index, key="tr_fig_hidden")
    present_ui.table(summary(results), hide_index=True, key="tr_summary")
    weights_ui.trained_models_ui(results)  # download as .safetensors, open in Explore


def summary(results: list[TrainResult]) -> pd.DataFrame:
    """Per model: final loss (mean of the last tenth of the steps), the baseline, their ratio."""
    import pandas as pd  # after a run only: its import (0.5 s) stays off the cold start

    rows = []
    for r in results:
        base = r.baselines[0]
        rows.append({"model": r.label, "steps": r.steps_done, "final loss": r.final_loss,
                     f"baseline ({base.name})": base.loss,
                     "final / baseline": r.final_loss / base.loss,
                     "note": r.stopped or ""})
    return pd.DataFrame(rows)
