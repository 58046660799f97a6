"""Engine speed: unroll's trace vs torch.nn forward + backward, measured interleaved in one run.

python3 dev.py bench            # full grid (several minutes)
python3 dev.py bench --quick    # T in {200, 1000}, H in {32, 128}
python3 dev.py bench --cell lstm  # one cell's rows (then the other sections as usual)
python3 benchmarks/bench_engine.py --only-influence  # the influence matrix rows only

Prints, per (cell, T, H): median seconds of the trace (everything except influence and
jacobian_norm) and of torch.nn's forward + backward on the same weights and data, their ratio,
the row's bound (LSTM <= 1.2 at every size: issue 15) and whether it is met; then jacobian_norm's ratio, the influence matrix's time at T=1000, H=128, the spectrum's
time (computed on first use), and peak memory of one unroll at T=5000, H=512.

Threads: both sides run on the same number of torch threads, by default the page's engine setting
(one: dashboard/ui/startup.ENGINE_THREADS, UNROLLED_TORCH_THREADS overrides both); --threads 2
compares on two. The C heap keeps freed blocks for the next call, as in the page's process
(engine/heap.py). CPU pressure (/proc/pressure/cpu, avg10) is printed before and after the grid:
other work on the machine moves the ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine import Config, unroll  # noqa: E402
from engine.heap import keep_freed_memory  # noqa: E402

CASES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
REQUIRED = {"rnn": 1.0, "gru": 1.0, "lstm": 1.2}  # trace / torch.nn at every size
PAGE_THREADS = int(os.environ.get("UNROLLED_TORCH_THREADS", "1"))  # as dashboard/ui/startup.py


def torch_fwd_bwd(trace) -> float:
    """One torch.nn forward + backward of the same model and loss (sum of squared errors)."""
    m = trace.to_torch()
    rnn, readout, x, y = m["rnn"], m["readout"], m["inputs"], m["targets"]
    t0 = time.perf_counter()
    out, _ = rnn(x)
    loss = ((readout(out) - y) ** 2).sum() / x.shape[1]
    loss.backward()
    return time.perf_counter() - t0


def ours(config, trace, **kw) -> float:
    """One unroll on the same prebuilt weights and data that torch gets (so neither side pays
    for initialization or data generation)."""
    t0 = time.perf_counter()
    unroll(config, trace.inputs, trace.targets, trace.weights, **kw)
    return time.perf_counter() - t0


def median_pair(config, reps: int, **kw) -> tuple[float, float]:
    trace = unroll(config, jacobian=False, influence=False)  # warm-up, and the weights for torch
    torch_fwd_bwd(trace)
    ours(config, trace, **kw)
    a, b = [], []
    for _ in range(reps):  # interleaved so machine noise hits both alike
        a.append(ours(config, trace, **kw))
        b.append(torch_fwd_bwd(trace))
    return statistics.median(a), statistics.median(b)


def cpu_pressure() -> str:
    """The machine's CPU pressure (share of time some task waited for a CPU, last 10 s)."""
    try:
        with open("/proc/pressure/cpu") as f:
            return f.readline().split()[1].replace("avg10=", "some avg10 ") + " %"
    except (OSError, IndexError):
        return "unknown"


def _peak_rss_kib() -> int:
    """This process's peak RSS in KiB. Linux's VmHWM belongs to this program alone; ru_maxrss can
    carry the parent's peak over fork + exec (the child then reports the benchmark's own peak)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_memory(T: int, H: int) -> None:
    """Child process: one unroll, print peak RSS above the baseline after imports (MiB)."""
    base = _peak_rss_kib()
    unroll(Config(cell="lstm", seq_len=T, hidden_size=H, dtype="float32", loss="sum"),
           jacobian=False, influence=False)
    peak = _peak_rss_kib()
    print(f"{(peak - base) / 1024:.0f} {peak / 1024:.0f}")


INFLUENCE_BOUND = {"rnn": 1.0, "gru": 1.0, "lstm": 2.0}  # seconds, every row (issue 15, part 5)


def influence_table() -> None:
    """The influence matrix's extra time over the trace at T=1000, H=128, and its row count."""
    print("\ninfluence matrix at T=1000, H=128 (extra time over the trace)")
    for cell, act in CASES:
        cfg = Config(cell=cell, activation=act, seq_len=1000, hidden_size=128, dtype="float32")
        with_i, _ = median_pair(cfg, 3, jacobian=False, influence=True)
        trace_only, _ = median_pair(cfg, 3, jacobian=False, influence=False)
        t = unroll(cfg, jacobian=False, influence=True)
        name = f"{cell}-{act}" if cell == "rnn" else cell
        print(f"{name:<10} {with_i - trace_only:7.3f} s  rows {len(t.influence_steps)} of 1000  "
              f"bound {INFLUENCE_BOUND[cell]:.1f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small grid only")
    p.add_argument("--threads", type=int, default=PAGE_THREADS,
                   help="torch threads for both sides (default: the page's engine setting)")
    p.add_argument("--cell", choices=["rnn", "lstm", "gru"], help="only this cell's trace rows")
    p.add_argument("--only-influence", action="store_true", help="only the influence matrix rows")
    p.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the page's process does (dashboard/ui/startup.py): both sides gain
    if args.memory_child:
        peak_memory(*args.memory_child)
        return
    if args.only_influence:
        influence_table()
        return
    Ts = (200, 1000) if args.quick else (200, 1000, 5000)
    Hs = (32, 128) if args.quick else (32, 128, 512)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads on both sides, "
          "float32, batch 1, input 8, loss sum; CPU pressure before: " + cpu_pressure())
    print(f"{'cell':<10}{'T':>6}{'H':>6}{'trace s':>10}{'torch s':>10}{'ratio':>8}{'bound':>8}  met")
    worst = []
    for cell, act in [c for c in CASES if args.cell in (None, c[0])]:
        for T in Ts:
            for H in Hs:
                cfg = Config(cell=cell, activation=act, seq_len=T, hidden_size=H, input_size=8,
                             dtype="float32", loss="sum", task="noise")
                reps = 7 if T * H <= 200 * 128 else 5  # medians of 5 at the large sizes: steadier
                a, b = median_pair(cfg, reps, jacobian=False, influence=False)
                req = REQUIRED[cell]
                worst.append((a / b) <= req)
                name = f"{cell}-{act}" if cell == "rnn" else cell
                print(f"{name:<10}{T:>6}{H:>6}{a:>10.4f}{b:>10.4f}{a / b:>8.2f}   <= {req:.1f}  "
                      f"{'yes' if worst[-1] else 'NO'}", flush=True)
    print(f"trace ratios within the required bound: {sum(worst)} of {len(worst)}; CPU pressure "
          "after: " + cpu_pressure())

    print("\njacobian_norm (extra time over the trace) vs torch.nn forward + backward")
    for cell, act in CASES:
        for T, H in ((1000, 32), (1000, 128)):
            cfg = Config(cell=cell, activation=act, seq_len=T, hidden_size=H, dtype="float32")
            with_j, base = median_pair(cfg, 3, jacobian=True, influence=False)
            trace_only, _ = median_pair(cfg, 3, jacobian=False, influence=False)
            name = f"{cell}-{act}" if cell == "rnn" else cell
            print(f"{name:<10}{T:>6}{H:>6} jacobian {with_j - trace_only:8.4f} s  ratio "
                  f"{(with_j - trace_only) / base:6.2f}", flush=True)

    influence_table()

    print("\nspectrum (computed on first use of trace.spectrum: SVD + eigenvalues of W_hh)")
    for cell in ("rnn", "lstm"):
        for H in Hs:
            t = unroll(Config(cell=cell, seq_len=10, hidden_size=H, dtype="float32"),
                       jacobian=False, influence=False)
            t0 = time.perf_counter()
            t.spectrum  # noqa: B018 - the property computes it
            print(f"{cell:<10} H={H:<5} {time.perf_counter() - t0:7.4f} s", flush=True)

    T, H = (1000, 128) if args.quick else (5000, 512)
    res = subprocess.run([sys.executable, __file__, "--memory-child", str(T), str(H)],
                         capture_output=True, text=True, check=True)
    extra, total = res.stdout.split()
    print(f"\npeak memory, LSTM T={T} H={H} float32: {extra} MiB above the imports "
          f"({total} MiB process peak RSS)")


if __name__ == "__main__":
    main()
