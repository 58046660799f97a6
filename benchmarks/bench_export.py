"""Time every export (bytes built when a download button is clicked) and the presentation
restyling, at the default size and at a lecture-hall size. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_export.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard.export import report, script, tables  # noqa: E402
from dashboard.figures.present import style_for_presentation  # noqa: E402
from dashboard.state import explore as S  # noqa: E402
from engine import Config, unroll  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    for config in (Config(), Config(cell="lstm", seq_len=1000, hidden_size=256)):
        trace = unroll(config, influence=False, jacobian=False, adjoints=False)
        view = S.View()
        print(f"{config.cell} T={config.seq_len} H={config.hidden_size}")
        jobs = {
            "CSV, all quantities": lambda trace=trace: tables.csv_bytes(trace),
            "Parquet, all quantities": lambda trace=trace: tables.parquet_bytes(trace),
            "zip (CSV per quantity)": lambda trace=trace, view=view: tables.zip_bytes(trace, view),
            "PyTorch script": lambda trace=trace: script.snippet(trace).encode(),
            "HTML report (gradient view)": lambda trace=trace, view=view, config=config:
                report.report_html(report.view_figures(trace, view), config, view=view).encode(),
        }
        for name, job in jobs.items():
            data, dt = timed(job)
            print(f"  {name:30s} {dt:6.2f} s  {len(data) / 1e6:8.2f} MB")
        figs = report.view_figures(trace, view)
        _, dt = timed(lambda figs=figs: [style_for_presentation(f) for _, f in figs])
        print(f"  {'presentation restyling':30s} {dt:6.2f} s  ({len(figs)} figures)")


if __name__ == "__main__":
    main()
