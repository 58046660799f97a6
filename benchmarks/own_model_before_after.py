"""The closing note of "Bring your own model": one LSTM trained with engine.train on recall, saved
as .safetensors before and after training, read back as a user's file (engine.read_weights,
config_from_weights) and unrolled on the same recall batch: how far back the gradient reaches.

    .venv/bin/python benchmarks/own_model_before_after.py [--delay 30] [--steps 400] [--forget-bias 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from engine import config_from_weights, init_weights, read_weights, unroll
from engine.inputs import make_task
from engine.tasks import train_config
from engine.train import train


def save(weights: dict, path: Path) -> None:
    save_file({k: torch.as_tensor(np.asarray(v)).contiguous() for k, v in weights.items()}, str(path))


def report(label: str, path: Path, delay: int, batch: int) -> None:
    config, w = config_from_weights(read_weights(path), task="recall", delay=delay,
                                    seq_len=delay + 1, loss="last", batch_size=batch, seed=123)
    x, y = make_task(config)  # the same held-out recall batch for both files (seed 123)
    tr = unroll(config, inputs=x, targets=y, weights=w, influence=False, jacobian=False)
    lg = tr.grad_hidden_log10[0]  # (T, B) log10 |dL/dh_t|
    fit = tr.batch_decay[0]
    print(f"{label:7s} {w.found}\n        loss L_T = {tr.loss:.4f} | median over the batch of "
          f"||dL/dh_0|| = {10 ** np.median(lg[0]):.3g}, of ||dL/dh_T-1|| = {10 ** np.median(lg[-1]):.3g} "
          f"(ratio {10 ** (np.median(lg[0]) - np.median(lg[-1])):.3g})"
          f" | decay fit: x{fit['rate']:.3f} per step back, half-life "
          f"{fit['half_life']:.3g} steps (r2 {fit['r2']:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=int, default=30)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--cell", default="lstm")
    ap.add_argument("--out", default=None, help="folder for before/after.safetensors (default: a temporary one)")
    ap.add_argument("--forget-bias", default=4.0,  # "none": torch's default init
                    type=lambda v: None if v == "none" else float(v))
    args = ap.parse_args()
    config = train_config("recall", delay=args.delay, cell=args.cell, hidden_size=32,
                          batch_size=32, seed=0, forget_bias=args.forget_bias)
    out = Path(args.out or tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    save(init_weights(config, 1, 1), out / "before.safetensors")
    t0 = time.perf_counter()
    result = train(config, args.steps, optimizer="adam", lr=0.01, clip=1.0)
    print(f"trained {args.steps} steps in {time.perf_counter() - t0:.1f} s: loss "
          f"{result.loss[:10].mean():.4f} (first 10 steps) -> {result.loss[-10:].mean():.4f} "
          f"(last 10); trivial baseline {result.baselines}")
    save(result.weights, out / "after.safetensors")
    for label in ("before", "after"):
        report(label, out / f"{label}.safetensors", args.delay, 32)
    print(f"files: {out}")


if __name__ == "__main__":
    main()
