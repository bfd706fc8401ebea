"""Throughput of lit-gen's VAE against a plain PyTorch loop.

Two workloads, both lit-gen quickstart configs on the embedded digits:
``configs/quickstart/vae.yaml`` (MLP, 16x16, ~0.2M parameters: a step costs a few ms, so any
fixed per-step cost shows) and ``configs/quickstart/conv_vae.yaml`` (conv, 32x32).

For each, both sides train the same network (the config's ``VAE``, built with the same seed),
on the same in-memory training split, same batch size, optimizer and number of epochs, one CPU
thread, alternating in one process. lit-gen runs through ``lit_gen.cli.run`` with all its
defaults (rich progress bar, CSV logging, a checkpoint per epoch, image grids); validation is
disabled on both sides, since the plain loop has none. The plain loop is what a careful engineer
writes: a ``randperm`` over the in-memory tensor, slicing, no DataLoader.

A third side, "bare Lightning", trains the same module with a stock ``lightning.Trainer`` and
everything optional switched off (no logger, progress bar, checkpoints or callbacks) on the same
data module: ``bare/plain`` is the cost of Lightning's own loop, ``lit-gen/bare`` the cost of
what lit-gen adds (progress bar, CSV log, a checkpoint per epoch, resume and fault callbacks).

Throughput counts steps from the first training batch to the end of training (``timing.RunTimer``:
start-up and the end-of-run one-offs, i.e. the final checkpoint and closing the progress bar, are
excluded and the one-offs reported apart) and is reported per wall-clock second and per CPU
second of the process: the CPU-time ratio is robust to other load on the machine, the wall-clock
one is what users feel.

    python benchmarks/vae_throughput.py --repeats 15 --epochs 3

The machine's speed drifts (a shared virtual machine: the same plain loop ran at 8 to 14 steps/s
within minutes on an otherwise idle machine), so the sides of a repeat run back to back in ABBA
order, repeats are short and many, and two estimates are reported: the median (and quartiles) of
the per-repeat ratios, and the ratio of each side's best run (timeit's estimator: noise only ever
slows a run down).

``--ablate`` instead attributes lit-gen's extra CPU time per step: the same lit-gen run with its
checkpoints, its progress bar, its logger, or all three switched off, against bare Lightning.

    python benchmarks/vae_throughput.py --ablate --repeats 4 --epochs 10 --workloads mlp
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import lightning as L
import torch
import yaml
from timing import RunTimer, fit_bare

from lit_gen.cli import run
from lit_gen.data import DigitsDataModule
from lit_gen.models import VAE

ROOT = Path(__file__).resolve().parents[1]
#: wall seconds of lit-gen's end-of-run one-offs (final checkpoint, closing the progress bar)
END_OF_RUN: list[float] = []
CONFIGS = {"mlp": ROOT / "configs/quickstart/vae.yaml", "conv": ROOT / "configs/quickstart/conv_vae.yaml"}


def load_setup(config: Path) -> tuple[dict, dict]:
    spec = yaml.safe_load(config.read_text())
    model_args = dict(spec["model"]["init_args"])
    optimizer = model_args.pop("optimizer", {"init_args": {"lr": 1e-3}})
    model_args["lr"] = optimizer["init_args"].get("lr", 1e-3)
    return model_args, spec["data"]["init_args"]


def plain_loop(images: torch.Tensor, model_args: dict, batch: int, epochs: int, seed: int) -> tuple[int, float, float]:
    args = dict(model_args)
    lr = args.pop("lr")
    torch.manual_seed(seed)
    model = VAE(images.shape[1:], (0.0, 1.0), **args)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    steps = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        order = torch.randperm(len(images))
        for i in range(len(images) // batch):  # drop_last, as the data module does
            x = images[order[i * batch : (i + 1) * batch]]
            terms = model.elbo_terms(x)
            loss = terms["recon"].mean() + model.beta * terms["kl"].mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
    return steps, time.perf_counter() - wall, time.process_time() - cpu


def lit_gen_loop(config: Path, epochs: int, seed: int, workdir: str) -> tuple[int, float, float, VAE]:
    cli = run([
        "fit", "--config", str(config), f"--seed_everything={seed}",
        f"--trainer.max_epochs={epochs}", "--trainer.limit_val_batches=0",
        "--trainer.num_sanity_val_steps=0", "--trainer.enable_model_summary=false",
        "--trainer.callbacks+=timing.RunTimer", f"--run_dir={workdir}/run{seed}",
    ])
    timer = next(c for c in cli.trainer.callbacks if isinstance(c, RunTimer))
    END_OF_RUN.append(timer.end_of_run())
    return cli.trainer.global_step, timer.wall, timer.cpu, cli.model


def bare_lightning_loop(config: Path, epochs: int, seed: int) -> tuple[int, float, float]:
    model_args, data_args = load_setup(config)
    lr = model_args.pop("lr")
    L.seed_everything(seed, verbose=False)
    data = DigitsDataModule(**data_args)
    model = VAE(data.data_shape, tuple(data.value_range), optimizer=partial(torch.optim.Adam, lr=lr), **model_args)
    trainer, timer = fit_bare(model, data, epochs)
    return trainer.global_step, timer.wall, timer.cpu


ABLATIONS = {
    "lit-gen defaults": [],
    "without checkpoints": ["--trainer.enable_checkpointing=false"],
    "without progress bar": ["--trainer.enable_progress_bar=false"],
    "without logger": ["--trainer.logger=false"],
    "without all three": [
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.logger=false",
    ],
}


def ablate(config: Path, epochs: int, repeats: int) -> None:
    """CPU ms per step of lit-gen with parts switched off, and of bare Lightning (min, median)."""
    cpu_ms: dict[str, list[float]] = {name: [] for name in [*ABLATIONS, "bare Lightning"]}
    with tempfile.TemporaryDirectory() as workdir:
        for repeat in range(repeats):  # interleaved, so load changes hit every variant alike
            for i, (name, extra) in enumerate(ABLATIONS.items()):
                cli = run(
                    [
                        "fit", "--config", str(config), f"--seed_everything={repeat}",
                        f"--trainer.max_epochs={epochs}", "--trainer.limit_val_batches=0",
                        "--trainer.num_sanity_val_steps=0", "--trainer.enable_model_summary=false",
                        "--trainer.callbacks+=timing.RunTimer",
                        f"--run_dir={workdir}/run{repeat}_{i}", *extra,
                    ]
                )
                timer = next(c for c in cli.trainer.callbacks if isinstance(c, RunTimer))
                cpu_ms[name].append(1000 * timer.cpu / cli.trainer.global_step)
            steps, _, cpu = bare_lightning_loop(config, epochs, repeat)
            cpu_ms["bare Lightning"].append(1000 * cpu / steps)
    print(f"| {config.relative_to(ROOT)} | CPU ms/step, min | median |\n|---|---|---|")
    for name, values in cpu_ms.items():
        print(f"| {name} | {min(values):.2f} | {statistics.median(values):.2f} |", flush=True)


def quartiles(values: list[float]) -> str:
    """First and third quartiles, the spread of the per-repeat ratios."""
    if len(values) < 2:
        return "n/a"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.3f}-{q3:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workloads", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--ablate", action="store_true", help="attribute lit-gen's overhead")
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # the CLI is driven by run([...]) below
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}, lightning {L.__version__}")
    if args.ablate:
        for workload in args.workloads:
            ablate(CONFIGS[workload], args.epochs, args.repeats)
        return
    for workload in args.workloads:
        model_args, data_args = load_setup(CONFIGS[workload])
        data = DigitsDataModule(**data_args)
        data.setup()
        images, _ = data.train_set.tensors()
        wall_ratios, cpu_ratios, rates, bare_cpu_ratios, added_cpu_ratios = [], [], [], [], []
        cpu_rates: list[tuple[float, float, float]] = []
        with tempfile.TemporaryDirectory() as workdir:
            for repeat in range(args.repeats):
                sides = {
                    "plain": partial(plain_loop, images, model_args, data.batch_size, args.epochs, repeat),
                    "lit-gen": partial(lit_gen_loop, CONFIGS[workload], args.epochs, repeat, workdir),
                    "bare": partial(bare_lightning_loop, CONFIGS[workload], args.epochs, repeat),
                }
                # ABBA order: a drift in the machine's speed during a repeat favours no side.
                order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
                out = {name: sides[name]() for name in order}
                p_steps, p_wall, p_cpu = out["plain"]
                l_steps, l_wall, l_cpu, model = out["lit-gen"]
                b_steps, b_wall, b_cpu = out["bare"]
                assert l_steps == p_steps == b_steps, (l_steps, p_steps, b_steps)
                bare_cpu_ratios.append(p_cpu / b_cpu)
                added_cpu_ratios.append(b_cpu / l_cpu)
                if repeat == 0:  # identical networks on both sides
                    plain_shapes = {k: v.shape for k, v in VAE(images.shape[1:], (0.0, 1.0), **{k: v for k, v in model_args.items() if k != "lr"}).state_dict().items()}
                    assert plain_shapes == {k: v.shape for k, v in model.state_dict().items()}
                wall_ratios.append(p_wall / l_wall)
                cpu_ratios.append(p_cpu / l_cpu)
                rates.append((p_steps / p_wall, l_steps / l_wall))
                cpu_rates.append((p_steps / p_cpu, l_steps / l_cpu, b_steps / b_cpu))
                print(f"{workload} repeat {repeat}: plain {p_steps / p_wall:.1f} steps/s, lit-gen {l_steps / l_wall:.1f} steps/s, "
                      f"wall ratio {wall_ratios[-1]:.3f}, cpu ratio {cpu_ratios[-1]:.3f}; cpu ratios bare/plain "
                      f"{bare_cpu_ratios[-1]:.3f}, lit-gen/bare {added_cpu_ratios[-1]:.3f}", flush=True)
        print(f"== {workload} ({CONFIGS[workload].relative_to(ROOT)}, batch {data.batch_size}, {p_steps} steps per run): "
              f"plain {statistics.median(r[0] for r in rates):.1f} steps/s, lit-gen {statistics.median(r[1] for r in rates):.1f} steps/s; "
              f"ratio lit-gen/plain: wall {statistics.median(wall_ratios):.3f} (quartiles {quartiles(wall_ratios)}), "
              f"cpu {statistics.median(cpu_ratios):.3f} (quartiles {quartiles(cpu_ratios)}); cpu ratio bare Lightning/plain "
              f"{statistics.median(bare_cpu_ratios):.3f}, lit-gen/bare Lightning {statistics.median(added_cpu_ratios):.3f}", flush=True)
        print(f"== {workload} lit-gen end-of-run one-offs (final checkpoint, closing the progress bar): "
              f"median {1000 * statistics.median(END_OF_RUN):.0f} ms per run", flush=True)
        END_OF_RUN.clear()
        # timeit's estimator: each side's least disturbed run (noise only ever slows a run down)
        best_plain, best_lit, best_bare = (max(r[i] for r in cpu_rates) for i in range(3))
        best_wall_plain, best_wall_lit = (max(r[i] for r in rates) for i in range(2))
        print(f"== {workload} best runs: plain {best_plain:.1f}, lit-gen {best_lit:.1f}, bare Lightning {best_bare:.1f} steps per CPU s; "
              f"ratio lit-gen/plain of the best runs: cpu {best_lit / best_plain:.3f}, wall {best_wall_lit / best_wall_plain:.3f}; "
              f"bare Lightning/plain {best_bare / best_plain:.3f}", flush=True)


if __name__ == "__main__":
    main()
