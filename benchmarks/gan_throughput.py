"""Throughput of lit-gen's GAN (DCGAN) against a plain PyTorch loop.

Workloads: ``configs/quickstart/dcgan.yaml`` as shipped (16x16 digits, 32 base channels,
batch 64: a step costs a few ms, so any fixed per-step cost shows) and the same config at
32x32 with 64 base channels (the DCGAN layout of CIFAR-10-sized images).

Both sides train the same networks (the config's ``GAN``, built by the CLI with the same seed),
with the same optimizers (the config's Adam(2e-4, 0.5, 0.999)), objective (non-saturating),
batch size and number of epochs, on the same in-memory training split, one CPU thread,
alternating in one process. lit-gen runs through ``lit_gen.cli.run`` with its defaults (progress
bar, CSV logging, a checkpoint per epoch); validation is disabled on both sides, since the plain
loop has none. The plain loop is what a careful engineer writes: a ``randperm`` over the
in-memory tensor and slicing (no DataLoader), one generator forward per batch, the critic update
on the detached samples, then the generator update with the discriminator's parameters frozen
(``requires_grad_(False)``, so no discriminator weight gradients are computed), gradients set to
``None``.

A third side, "bare Lightning", trains the same module and data under a stock ``lightning.Trainer``
with logger, progress bar, checkpoints and lit-gen's callbacks off: ``bare/plain`` is the cost of
Lightning's own loop (manual optimization: ``LightningOptimizer``, ``toggle_optimizer``,
``manual_backward``, hooks), ``lit-gen/bare`` the cost of what lit-gen adds.

Throughput counts batches from the first training batch to the end of training
(``timing.RunTimer``: start-up and the end-of-run one-offs, i.e. the final checkpoint and closing
the progress bar, are excluded and the one-offs reported apart), per wall-clock second and per CPU second of the process: the CPU-time ratio is robust
to other load on the machine, the wall-clock one is what users feel.

    python benchmarks/gan_throughput.py --repeats 3 --epochs 5
    python benchmarks/gan_throughput.py --op-counts   # same operators per batch on both sides?
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from timing import RunTimer, fit_bare  # noqa: E402

from lit_gen.cli import LitGenCLI, run  # noqa: E402
from lit_gen.models import GAN  # noqa: E402

CONFIG = ROOT / "configs/quickstart/dcgan.yaml"
WORKLOADS = {
    "dcgan16": [],
    "dcgan32": [
        "--data.init_args.image_size=32",
        "--model.init_args.generator.init_args.base_channels=64",
        "--model.init_args.discriminator.init_args.base_channels=64",
    ],
}


def build(overrides: list[str], seed: int, workdir: str) -> tuple[GAN, L.LightningDataModule]:
    """The config's model and data, instantiated by the CLI (same seed: same initial weights)."""
    cli = LitGenCLI(
        L.LightningModule,
        L.LightningDataModule,
        run=False,
        args=[
            "--config",
            str(CONFIG),
            *overrides,
            f"--seed_everything={seed}",
            f"--run_dir={workdir}/plain{seed}",
        ],
    )
    return cli.model, cli.datamodule


def plain_loop(
    overrides: list[str], epochs: int, seed: int, workdir: str
) -> tuple[int, float, float]:
    model, data = build(overrides, seed, workdir)
    data.setup("fit")
    images, _ = data.train_set.tensors()
    batch = data.batch_size
    generator, discriminator, objective = model.generator, model.discriminator, model.objective
    opt_g, opt_d = (entry["optimizer"] for entry in model.configure_optimizers())
    generator.train()
    discriminator.train()
    steps = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        order = torch.randperm(len(images))
        for i in range(len(images) // batch):  # drop_last, as the data module does
            real = images[order[i * batch : (i + 1) * batch]]
            fake = generator(torch.randn(batch, model.latent_dim))
            d_loss = objective.d_loss(discriminator(real), discriminator(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            discriminator.requires_grad_(False)
            g_loss = objective.g_loss(discriminator(fake))
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            discriminator.requires_grad_(True)
            steps += 1
    return steps, time.perf_counter() - wall, time.process_time() - cpu


#: wall seconds of lit-gen's end-of-run one-offs (final checkpoint, closing the progress bar)
END_OF_RUN: list[float] = []

#: extra CLI overrides of the lit-gen side (``--lit-gen-args``), to attribute its costs
LIT_GEN_EXTRA: list[str] = []


def lit_gen_loop(
    overrides: list[str], epochs: int, seed: int, workdir: str
) -> tuple[int, float, float]:
    cli = run(
        [
            "fit",
            "--config",
            str(CONFIG),
            *overrides,
            f"--seed_everything={seed}",
            f"--trainer.max_epochs={epochs}",
            "--trainer.limit_val_batches=0",
            "--trainer.num_sanity_val_steps=0",
            "--trainer.enable_model_summary=false",
            "--trainer.callbacks+=timing.RunTimer",
            f"--run_dir={workdir}/lit{seed}",
            *LIT_GEN_EXTRA,
        ]
    )
    timer = next(c for c in cli.trainer.callbacks if isinstance(c, RunTimer))
    END_OF_RUN.append(timer.end_of_run())
    assert cli.model.critic_steps == cli.model.generator_steps
    return cli.model.generator_steps, timer.wall, timer.cpu


def bare_lightning_loop(
    overrides: list[str], epochs: int, seed: int, workdir: str
) -> tuple[int, float, float]:
    """The same module and data under a stock ``lightning.Trainer`` with everything optional off
    (no logger, progress bar, checkpoints or lit-gen callbacks): Lightning's own cost."""
    model, data = build(overrides, seed, workdir)
    _, timer = fit_bare(model, data, epochs)
    return model.generator_steps, timer.wall, timer.cpu


OP_NAMES = ("convolution_backward", "native_batch_norm", "mkldnn_convolution", "Adam.step", "randn")


def op_counts(overrides: list[str]) -> dict[str, dict[str, float]]:
    """Per-batch counts of the heavy operators (convolutions and their backward, batch norm,
    optimizer steps, noise draws) of one epoch of the plain loop and of bare Lightning, by
    ``torch.profiler``: equal counts mean both sides do the same numerical work, so any gap in
    throughput is per-step overhead, not extra computation."""
    from collections import Counter

    from torch.profiler import ProfilerActivity, profile

    result = {}
    for name, loop in (("plain", plain_loop), ("bare", bare_lightning_loop)):
        with tempfile.TemporaryDirectory() as workdir, profile(activities=[ProfilerActivity.CPU]) as prof:
            steps, _, _ = loop(overrides, 1, 0, workdir)
        counts = Counter(e.name for e in prof.events() if any(k in e.name for k in OP_NAMES))
        result[name] = {k: round(v / steps, 2) for k, v in sorted(counts.items())}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument(
        "--lit-gen-args",
        nargs="*",
        default=[],
        help="extra overrides of the lit-gen side, e.g. --trainer.enable_checkpointing=false",
    )
    parser.add_argument(
        "--op-counts",
        action="store_true",
        help="only print the per-batch operator counts of the plain loop and bare Lightning",
    )
    args = parser.parse_args()
    LIT_GEN_EXTRA.extend(args.lit_gen_args)
    sys.argv = sys.argv[:1]  # the CLI is driven by run([...]) below
    torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}, lightning {L.__version__}"
    )
    for workload in args.workloads:
        overrides = WORKLOADS[workload]
        if args.op_counts:
            counts = op_counts(overrides)
            print(f"== {workload} operators per batch: {counts}", flush=True)
            if counts["plain"] != counts["bare"]:
                print(f"== {workload}: the two sides do NOT run the same operators", flush=True)
            continue
        wall_ratios, cpu_ratios, rates = [], [], []
        bare_cpu_ratios, added_cpu_ratios = [], []
        with tempfile.TemporaryDirectory() as workdir:
            for repeat in range(args.repeats):
                # alternate the order so that a drift of the machine's load favours neither side
                sides = [("plain", plain_loop), ("lit-gen", lit_gen_loop), ("bare", bare_lightning_loop)]
                if repeat % 2:
                    sides.reverse()
                results = {
                    name: loop(overrides, args.epochs, repeat, workdir) for name, loop in sides
                }
                (p_steps, p_wall, p_cpu), (l_steps, l_wall, l_cpu), (b_steps, _, b_cpu) = (
                    results["plain"],
                    results["lit-gen"],
                    results["bare"],
                )
                assert l_steps == p_steps == b_steps, (l_steps, p_steps, b_steps)
                bare_cpu_ratios.append(p_cpu / b_cpu)
                added_cpu_ratios.append(b_cpu / l_cpu)
                wall_ratios.append(p_wall / l_wall)
                cpu_ratios.append(p_cpu / l_cpu)
                rates.append((p_steps / p_wall, l_steps / l_wall, p_steps / p_cpu, l_steps / l_cpu))
                print(
                    f"{workload} repeat {repeat}: plain {rates[-1][0]:.2f} batches/s, lit-gen {rates[-1][1]:.2f} batches/s "
                    f"(per CPU second {rates[-1][2]:.2f} vs {rates[-1][3]:.2f}), wall ratio {wall_ratios[-1]:.3f}, "
                    f"cpu ratio {cpu_ratios[-1]:.3f}; cpu ratios bare Lightning/plain {bare_cpu_ratios[-1]:.3f}, "
                    f"lit-gen/bare {added_cpu_ratios[-1]:.3f}",
                    flush=True,
                )
        print(
            f"== {workload} ({p_steps} batches per run): plain {statistics.median(r[0] for r in rates):.2f} batches/s, "
            f"lit-gen {statistics.median(r[1] for r in rates):.2f} batches/s; ratio lit-gen/plain: "
            f"wall {statistics.median(wall_ratios):.3f} (min {min(wall_ratios):.3f}), "
            f"cpu {statistics.median(cpu_ratios):.3f} (min {min(cpu_ratios):.3f}); cpu ratio bare Lightning/plain "
            f"{statistics.median(bare_cpu_ratios):.3f}, lit-gen/bare Lightning {statistics.median(added_cpu_ratios):.3f}",
            flush=True,
        )
        print(f"== {workload} lit-gen end-of-run one-offs (final checkpoint, closing the progress bar): "
              f"median {1000 * statistics.median(END_OF_RUN):.0f} ms per run", flush=True)
        END_OF_RUN.clear()
        # timeit's estimator: each side's least disturbed run (noise only ever slows a run down)
        best = [max(r[i] for r in rates) for i in range(4)]
        print(
            f"== {workload} best runs: plain {best[0]:.2f} vs lit-gen {best[1]:.2f} batches/s, per CPU second "
            f"{best[2]:.2f} vs {best[3]:.2f}; ratio lit-gen/plain of the best runs: wall {best[1] / best[0]:.3f}, "
            f"cpu {best[3] / best[2]:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
