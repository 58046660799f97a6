"""Memory of one dashboard run, per cell: the numbers behind the dashboard's size caps.

    .venv/bin/python benchmarks/bench_memory.py [--T 2000] [--H 256] [--batch 2]

For each cell (float64, as the dashboard runs it, jacobian/influence off, adjoints=False) a fresh
process imports the engine, records its resident size, unrolls once and records the peak. It
prints the peak working set per value (bytes / (T*B*H*layers*directions)) and the bytes the
finished Trace keeps (what the dashboard's cache holds). dashboard/state/limits.py's PEAK_BYTES_PER_VALUE
and KEPT_BYTES_PER_VALUE must not be below these figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from engine import Config, unroll
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
cell, T, H, B = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
warm = unroll(Config(cell=cell, seq_len=5, hidden_size=4), jacobian=False, influence=False)
base = rss()
c = Config(cell=cell, seq_len=T, hidden_size=H, batch_size=B, dtype="float64")
t = unroll(c, jacobian=False, influence=False, adjoints=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
arrays = [t.hidden, t.grad_hidden, t.cell, t.grad_cell, t.act_deriv, *t.gates.values()]
kept = sum(a.nbytes for a in arrays if a is not None)
print(json.dumps({"base": base, "peak": peak, "kept": kept, "n": T * B * H}))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=2000)
    ap.add_argument("--H", type=int, default=256)
    ap.add_argument("--batch", type=int, default=2)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from dashboard.state import limits as L

    print(f"T={a.T} H={a.H} batch={a.batch} float64, one layer")
    print(f"{'cell':5} {'peak B/value':>13} {'cap uses':>9} {'kept B/value':>13} {'cap uses':>9}")
    ok = True
    for cell in ("rnn", "lstm", "gru"):
        out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), cell, str(a.T), str(a.H),
                              str(a.batch)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        peak = (r["peak"] - r["base"]) / r["n"]
        kept = r["kept"] / r["n"]
        cap_peak, cap_kept = L.PEAK_BYTES_PER_VALUE[cell], L.KEPT_BYTES_PER_VALUE[cell]
        ok &= peak <= cap_peak and kept <= cap_kept
        print(f"{cell:5} {peak:13.0f} {cap_peak:9.0f} {kept:13.0f} {cap_kept:9.0f}")
    print("caps cover the measurement" if ok else "A CAP IS BELOW THE MEASUREMENT: raise it")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
