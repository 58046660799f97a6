"""engine.train: throughput against a plain torch.nn loop, the cost of snapshots, and the seeds'
claim on delayed recall (D = 50), all seeded.

python benchmarks/bench_train.py            # about 1-2 minutes on a quiet 2-core machine
python benchmarks/bench_train.py --quick    # fewer blocks, one seed
python benchmarks/bench_train.py --gru      # also the GRU's throughput

1. Throughput: steps per second of train() with snapshots off, and of a plain torch.nn loop doing
   the same work (same model, same initial weights, same batches, Adam, clipping, loss.item()),
   on delayed recall D = 50, H = 32, batch 32, one torch thread each. Blocks of steps of the
   three are interleaved so machine noise hits them alike; medians are printed. Required:
   train() / plain <= 1.2 in time per step; snapshots every 10 steps cost <= 20 % more.
2. Delayed recall D = 50 (T = 51), hidden 32, batch 32, Adam lr 0.01, clip 1, a few hundred
   steps: final loss (mean of the last tenth of the steps) over the baseline (predicting the
   mean, 1/3) for RNN tanh, IRNN, the LSTM with torch's default init, and the LSTM with its
   forget-gate bias at 4 (about ln D: a knob on the Train page). Printed as measured.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.tasks import TrainTask, task_loss, train_config  # noqa: E402
from engine.train import build_model, train, train_many  # noqa: E402

H, B, D = 32, 32, 50
LR, CLIP = 0.01, 1.0


def plain_loop(config, steps: int) -> float:
    """Seconds for `steps` steps of a plain torch.nn training loop on the same task."""
    task = TrainTask(config)
    rnn, readout = build_model(config, 1)
    params = [*rnn.parameters(), *readout.parameters()]
    opt = torch.optim.Adam(params, lr=LR)
    losses = []
    t0 = time.perf_counter()
    for s in range(steps):
        x, y = task.batch(s)
        opt.zero_grad()
        out, _ = rnn(x)
        loss = task_loss(readout(out), y, task.loss_mode)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        losses.append(loss.item())
    return time.perf_counter() - t0


def ours(config, steps: int, snapshot_every: int) -> float:
    t0 = time.perf_counter()
    train(config, steps, lr=LR, clip=CLIP, snapshot_every=snapshot_every)
    return time.perf_counter() - t0


def throughput(blocks: int, steps: int, cells: tuple[str, ...]) -> None:
    print(f"1. Throughput: recall D={D}, H={H}, batch {B}, Adam, clip {CLIP}, 1 thread; "
          f"median of {blocks} interleaved blocks of {steps} steps")
    print(f"   {'model':8s} {'plain torch':>13s} {'train()':>10s} {'ratio':>7s}   "
          f"{'snapshots/10':>13s} {'overhead':>9s}")
    torch.set_num_threads(1)
    for cell in cells:
        c = train_config("recall", delay=D, hidden_size=H, batch_size=B, cell=cell, seed=0)
        plain_loop(c, 20), ours(c, 20, 0), ours(c, 20, 10)  # warm-up (imports, allocators)
        p, o, s = [], [], []
        for _ in range(blocks):
            p.append(plain_loop(c, steps))
            o.append(ours(c, steps, 0))
            s.append(ours(c, steps, 10))
        tp, to, ts = (statistics.median(v) for v in (p, o, s))
        print(f"   {cell:8s} {steps / tp:9.0f} st/s {steps / to:6.0f} st/s {to / tp:7.3f}   "
              f"{steps / ts:9.0f} st/s {100 * (ts / to - 1):8.1f}%")
    print("   required: ratio <= 1.2 (time per step, train() over plain); overhead <= 20 %")


def recall_table(steps: int, seeds: list[int]) -> None:
    models = [("RNN tanh (default init)", dict(cell="rnn", activation="tanh")),
              ("IRNN (ReLU, identity init)", dict(cell="rnn", activation="relu", init_hh="identity")),
              ("LSTM (default init)", dict(cell="lstm")),
              ("LSTM (forget-gate bias 4)", dict(cell="lstm", forget_bias=4.0))]
    print(f"\n2. Delayed recall D={D} (T={D + 1}), H={H}, batch {B}, Adam lr {LR}, clip {CLIP}, "
          f"{steps} steps: final loss / baseline (1/3; 1 = learned nothing)")
    ratios = {name: [] for name, _ in models}
    for seed in seeds:
        configs = [train_config("recall", delay=D, hidden_size=H, batch_size=B, seed=seed, **m)
                   for _, m in models]
        t0 = time.perf_counter()
        results = train_many(configs, steps, lr=LR, clip=CLIP, labels=[n for n, _ in models])
        took = time.perf_counter() - t0
        for r in results:
            ratios[r.label].append(r.final_loss / r.baselines[0].loss)
        print(f"   seed {seed}: {len(models)} models x {steps} steps in {took:.1f} s")
    print(f"   {'model':28s} " + " ".join(f"seed {s:<3d}" for s in seeds) + "   median")
    for name, rs in ratios.items():
        print(f"   {name:28s} " + " ".join(f"{r:8.3f}" for r in rs) + f"   {statistics.median(rs):6.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 blocks, one seed")
    ap.add_argument("--gru", action="store_true", help="also time the GRU (slow on CPU)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cells = ("rnn", "lstm", "gru") if args.gru else ("rnn", "lstm")
    throughput(blocks=3 if args.quick else 7, steps=100, cells=cells)
    recall_table(steps=400, seeds=[0] if args.quick else [0, 1, 2])
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
