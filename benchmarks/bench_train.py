"""engine.train: throughput against a plain torch.nn loop, the cost of snapshots, and the seeds'
claim on delayed recall (D = 50), all seeded.

python benchmarks/bench_train.py            # about 1-2 minutes on a quiet 2-core machine
python benchmarks/bench_train.py --quick    # fewer blocks, one seed
python benchmarks/bench_train.py --gru      # also the GRU's throughput
python benchmarks/bench_train.py --presets  # only 3.: the Train page's remedy presets, seeds 0-2

1. Throughput: steps per second of train() with snapshots off, and of a plain torch.nn loop doing
   the same work (same model, same initial weights, same batches, Adam, clipping, loss.item()),
   on delayed recall D = 50, H = 32, batch 32, one torch thread each. The three take turns on
   every batch so machine noise hits them alike; ratios are medians over blocks of 10 steps.
   Required: train() / plain <= 1.2 in time per step; snapshots every 10 steps cost <= 20 %.
2. Delayed recall D = 50 (T = 51), hidden 32, batch 32, Adam lr 0.01, clip 1, a few hundred
   steps: final loss (mean of the last tenth of the steps) over the baseline (predicting the
   mean, 1/3) for RNN tanh, IRNN, the LSTM with torch's default init, the LSTM with its
   forget-gate bias at 4 (about ln D: a knob on the Train page), and the tanh RNN with the
   attention readout. Printed as measured.
3. The Train page's remedy presets (assets/train_presets.json), each exactly as its link sets the
   page (models, steps, H, lr, clip, snapshots), for seeds 0, 1, 2: final loss / baseline per
   model and seed, and the seconds each run took. The presets' captions quote this table.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dashboard.state.train_presets import load_train_presets  # noqa: E402
from engine.models import build_model  # noqa: E402
from engine.tasks import TrainTask, task_loss, train_config  # noqa: E402
from engine.train import Trainer, train, train_many  # noqa: E402

H, B, D = 32, 32, 50
LR, CLIP = 0.01, 1.0


class PlainLoop:
    """A plain torch.nn training loop's step: the same model, initial weights and batches as
    train(), Adam, clipping, loss.item(); nothing recorded beyond the loss."""

    def __init__(self, config):
        self.task = TrainTask(config)
        self.rnn, self.readout = build_model(config, 1)
        self.params = [*self.rnn.parameters(), *self.readout.parameters()]
        self.opt = torch.optim.Adam(self.params, lr=LR)
        self.losses = []

    def step(self, s: int, x, y) -> None:
        self.opt.zero_grad()
        out, _ = self.rnn(x)
        loss = task_loss(self.readout(out), y, self.task.loss_mode)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, CLIP)
        self.opt.step()
        self.losses.append(loss.item())


def ours(config, steps: int, snapshot_every: int) -> Trainer:
    task = TrainTask(config)
    return Trainer(config, task, 1, optimizer="adam", lr=LR, clip=CLIP, window=None, steps=steps,
                   snapshot_every=snapshot_every, radius_every=10, label="", device="cpu")


def whole_calls(config, steps: int, reps: int) -> tuple[float, float]:
    """Median seconds of whole train() calls and whole plain loops, interleaved."""
    a, b = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        train(config, steps, lr=LR, clip=CLIP)
        a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        loop = PlainLoop(config)
        for s in range(steps):
            loop.step(s, *loop.task.batch(s))
        b.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)


def throughput(steps: int, cells: tuple[str, ...]) -> None:
    """Step-interleaved: plain, train() without and with snapshots take turns on each batch (in
    rotating order), so load on a shared machine hits all three alike. Ratios are medians over
    blocks of 10 consecutive steps (each block holds one snapshot step)."""
    print(f"1. Throughput: recall D={D}, H={H}, batch {B}, Adam, clip {CLIP}, 1 thread; "
          f"{steps} steps each, interleaved step by step")
    print(f"   {'model':6s} {'plain torch':>12s} {'train()':>12s} {'ratio':>6s} "
          f"{'snapshots/10':>13s} {'overhead':>9s} {'whole calls':>12s}")
    torch.set_num_threads(1)
    for cell in cells:
        c = train_config("recall", delay=D, hidden_size=H, batch_size=B, cell=cell, seed=0)
        whole_calls(c, 10, 1)  # warm-up (lazy imports, allocators)
        task, plain, bare, snap = TrainTask(c), PlainLoop(c), ours(c, steps, 0), ours(c, steps, 10)
        runners = [plain.step, bare.step, snap.step]
        times = [[0.0] * steps for _ in runners]
        for s in range(steps):
            x, y = task.batch(s)
            for k in range(3):
                j = (s + k) % 3
                t0 = time.perf_counter()
                runners[j](s, x, y)
                times[j][s] = time.perf_counter() - t0
        blocks = [[sum(t[i:i + 10]) for i in range(0, steps, 10)] for t in times]
        ratio = statistics.median(o / p for o, p in zip(blocks[1], blocks[0], strict=True))
        over = statistics.median(w / o - 1 for w, o in zip(blocks[2], blocks[1], strict=True))
        rate = [steps / sum(t) for t in times]
        wa, wb = whole_calls(c, 100, 3)
        print(f"   {cell:6s} {rate[0]:7.0f} st/s {rate[1]:7.0f} st/s {ratio:6.3f} "
              f"{rate[2]:8.0f} st/s {100 * over:8.1f}% {wa / wb:12.3f}")
    print("   required: ratio (time per step, train() over plain) <= 1.2; snapshot overhead <= "
          "20 %;\n   'whole calls': the same ratio for complete train() calls vs complete loops "
          "(medians of 3)")


def recall_table(steps: int, seeds: list[int]) -> None:
    models = [("RNN tanh (default init)", dict(cell="rnn", activation="tanh")),
              ("IRNN (ReLU, identity init)", dict(cell="rnn", activation="relu", init_hh="identity")),
              ("LSTM (default init)", dict(cell="lstm")),
              ("LSTM (forget-gate bias 4)", dict(cell="lstm", forget_bias=4.0)),
              ("RNN tanh + attention", dict(cell="rnn", activation="tanh", readout="attention"))]
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


def preset_table(seeds: list[int]) -> None:
    """Every remedy preset as the page runs it, once per seed: final loss / baseline."""
    print("\n3. The Train page's remedy presets (assets/train_presets.json), as their links set "
          "the page:\n   final loss / baseline (1 = learned nothing) and, in brackets, the largest "
          "||dL/dW|| of the run\n   (before clipping); seconds per run (all models side by side)")
    for p in load_train_presets():
        s = p.settings
        print(f"\n   {p.id}: {p.title} · {s.task} D={s.delay}, H={s.hidden_size}, batch {s.batch}, "
              f"{s.optimizer} lr {s.lr:g}, clip {s.clip}, {s.steps} steps")
        ratios, took = {label: [] for label in s.labels()}, []
        peaks = {label: [] for label in s.labels()}
        for seed in seeds:
            run = dataclasses.replace(s, seed=seed)
            t0 = time.perf_counter()
            results = train_many(run.configs(), run.steps, **run.train_args())
            took.append(time.perf_counter() - t0)
            for r in results:
                ratios[r.label].append(r.final_loss / r.baselines[0].loss)
                peaks[r.label].append(float(r.grad_norm.max()))
        print(f"   {'model':32s} " + " ".join(f"{'seed ' + str(x):>16s}" for x in seeds))
        for label, rs in ratios.items():
            print(f"   {label:32s} " + " ".join(f"{r:7.3f} [{g:6.3g}]"
                                                for r, g in zip(rs, peaks[label], strict=True)))
        print(f"   {'seconds':32s} " + " ".join(f"{t:16.1f}" for t in took))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps, one seed")
    ap.add_argument("--gru", action="store_true", help="also time the GRU (slow on CPU)")
    ap.add_argument("--presets", action="store_true", help="only the remedy presets, seeds 0-2")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.presets:
        preset_table(seeds=[0, 1, 2])
        print(f"\ntotal {time.perf_counter() - t0:.0f} s")
        return
    cells = ("rnn", "lstm", "gru") if args.gru else ("rnn", "lstm")
    throughput(steps=200 if args.quick else 500, cells=cells)
    recall_table(steps=400, seeds=[0] if args.quick else [0, 1, 2])
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
