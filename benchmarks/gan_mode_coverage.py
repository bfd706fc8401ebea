"""Mode coverage of the GAN variants on the 2-D ring and grid (PacGAN / VEEGAN protocol).

Every variant is a lit-gen config: the quickstart configs ``gan_ring.yaml`` / ``gan_grid.yaml``
(PacGAN's data, batch size and optimizer; 3 x 256 MLPs), with the objective, critic steps,
constraint, packing or EMA overridden as each paper prescribes, plus ``wgan_gp_grid.yaml``. Each run trains through ``lit_gen.cli.run`` for a fixed number of real
batches (``--epochs`` epochs of ``--samples`` training points; the same for every variant, so
variants with ``n_critic = 5`` make 5 times fewer generator steps) and is scored by
:class:`lit_gen.callbacks.ModeCoverage` after the last epoch: 2,500 samples from fixed noise,
high quality = within 3 sigma of the nearest mode, a mode is covered with at least 20
high-quality samples, KL of the mode histogram to uniform.

Wall time (from the start of ``fit`` to its end) and the process's CPU time are recorded per
run; other processes sharing the machine lengthen wall time but hardly CPU time.

    python benchmarks/gan_mode_coverage.py --seeds 0 1 2            # every variant, both mixtures
    python benchmarks/gan_mode_coverage.py --variants "GAN + EMA 0.999" --epochs 10 --seeds 0
    python benchmarks/gan_mode_coverage.py --report                 # table and figure from the JSON
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lit_gen.callbacks import ModeCoverage  # noqa: E402
from lit_gen.cli import run  # noqa: E402
from lit_gen.data.toy2d import grid_mixture, ring_mixture  # noqa: E402

QUICKSTART = ROOT / "configs" / "quickstart"
RESULTS = ROOT / "benchmarks" / "results"
KINDS = ("ring", "grid")

RMSPROP = [
    "--model.init_args.optimizer_g=torch.optim.RMSprop",
    "--model.init_args.optimizer_g.lr=5e-5",
    "--model.init_args.optimizer_d=torch.optim.RMSprop",
    "--model.init_args.optimizer_d.lr=5e-5",
]
#: name -> (config per mixture, overrides, uses the benchmark budget)
VARIANTS: dict[str, tuple[dict[str, Path], list[str], bool]] = {
    "GAN (non-saturating)": ({k: QUICKSTART / f"gan_{k}.yaml" for k in KINDS}, [], True),
    "GAN (minimax)": (
        {k: QUICKSTART / f"gan_{k}.yaml" for k in KINDS},
        ["--model.init_args.objective=lit_gen.losses.Minimax"],
        True,
    ),
    "LSGAN": (
        {k: QUICKSTART / f"gan_{k}.yaml" for k in KINDS},
        ["--model.init_args.objective=lit_gen.losses.LeastSquares"],
        True,
    ),
    "hinge": (
        {k: QUICKSTART / f"gan_{k}.yaml" for k in KINDS},
        ["--model.init_args.objective=lit_gen.losses.Hinge"],
        True,
    ),
    "WGAN (clip 0.01, n_critic 5)": (
        {k: QUICKSTART / f"gan_{k}.yaml" for k in KINDS},
        [
            "--model.init_args.objective=lit_gen.losses.Wasserstein",
            "--model.init_args.n_critic=5",
            "--model.init_args.clip_value=0.01",
            *RMSPROP,
        ],
        True,
    ),
    "WGAN-GP (lambda 10, n_critic 5)": (
        {k: QUICKSTART / "wgan_gp_grid.yaml" for k in KINDS},
        [],
        True,
    ),
    "SN-GAN (hinge, spectral norm)": (
        {k: QUICKSTART / f"gan_{k}.yaml" for k in KINDS},
        [
            "--model.init_args.objective=lit_gen.losses.Hinge",
            "--model.init_args.discriminator.init_args.spectral_norm=true",
        ],
        True,
    ),
    "PacGAN4 (non-saturating)": (
        {k: QUICKSTART / f"gan_{k}.yaml" for k in KINDS},
        ["--model.init_args.discriminator.init_args.pack=4"],
        True,
    ),
    "GAN + EMA 0.999": (
        {k: QUICKSTART / f"gan_{k}.yaml" for k in KINDS},
        ["--model.init_args.ema_decay=0.999"],
        True,
    ),
}


def run_one(variant: str, kind: str, seed: int, epochs: int, samples: int, workdir: str) -> dict:
    configs, overrides, budgeted = VARIANTS[variant]
    args = [
        "fit",
        "--config",
        str(configs[kind]),
        *overrides,
        f"--data.init_args.kind={kind}",
        f"--seed_everything={seed}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.enable_checkpointing=false",
        f"--run_dir={workdir}/{kind}_{seed}",
    ]
    if budgeted:
        args += [f"--trainer.max_epochs={epochs}", f"--data.init_args.num_samples={samples}"]
    wall, cpu = time.perf_counter(), time.process_time()
    cli = run(args)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    coverage = next(c for c in cli.trainer.callbacks if isinstance(c, ModeCoverage))
    scores = coverage.last
    return {
        "variant": variant,
        "kind": kind,
        "seed": seed,
        "modes": scores.modes,
        "num_modes": scores.num_modes,
        "high_quality": scores.high_quality,
        "kl": scores.kl,
        "counts": list(scores.counts),
        "batches": cli.model.critic_steps,
        "generator_steps": cli.model.generator_steps,
        "batch_size": cli.datamodule.batch_size,
        "wall_s": wall,
        "cpu_s": cpu,
        "samples": cli.model.sample(2500, generator=torch.Generator().manual_seed(0))
        .mul(1e4)
        .round()
        .div(1e4)
        .tolist()
        if seed == 0
        else None,
    }


def report(results: list[dict]) -> str:
    """Markdown table: mean (min-max) over seeds per variant and mixture."""
    lines = [
        "| variant | mixture | seeds | batches (G steps) | modes | high quality | KL to uniform | wall / CPU per run |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for variant in VARIANTS:
        for kind in KINDS:
            rows = [r for r in results if r["variant"] == variant and r["kind"] == kind]
            if not rows:
                continue
            modes = [r["modes"] for r in rows]
            hq = [100 * r["high_quality"] for r in rows]
            kl = [r["kl"] for r in rows]
            kl_text = "n/a" if any(k != k for k in kl) else f"{statistics.mean(kl):.3f}"
            lines.append(
                f"| {variant} | {kind} | {len(rows)} | {rows[0]['batches']:,} ({rows[0]['generator_steps']:,}) | "
                f"{statistics.mean(modes):.1f}/{rows[0]['num_modes']} ({min(modes)}-{max(modes)}) | "
                f"{statistics.mean(hq):.1f}% ({min(hq):.1f}-{max(hq):.1f}) | {kl_text} | "
                f"{statistics.mean(r['wall_s'] for r in rows) / 60:.1f} / {statistics.mean(r['cpu_s'] for r in rows) / 60:.1f} min |"
            )
    return "\n".join(lines)


def figure(results: list[dict], path: Path) -> None:
    """Final samples (seed 0) of every variant on both mixtures."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = [v for v in VARIANTS if any(r["variant"] == v and r["samples"] for r in results)]
    fig, axes = plt.subplots(len(rows), 2, figsize=(6, 3 * len(rows)), squeeze=False)
    for i, variant in enumerate(rows):
        for j, kind in enumerate(KINDS):
            ax = axes[i][j]
            mixture = ring_mixture() if kind == "ring" else grid_mixture()
            run_ = next(
                (
                    r
                    for r in results
                    if r["variant"] == variant and r["kind"] == kind and r["samples"]
                ),
                None,
            )
            if run_ is not None:
                pts = torch.tensor(run_["samples"])
                ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.4, linewidths=0)
                ax.set_title(
                    f"{variant}\n{kind}: {run_['modes']}/{run_['num_modes']} modes, {100 * run_['high_quality']:.0f}% HQ",
                    fontsize=7,
                )
            ax.scatter(
                mixture.means[:, 0],
                mixture.means[:, 1],
                s=8,
                marker="x",
                color="red",
                linewidths=0.5,
            )
            span = 1.6 if kind == "ring" else 5.5
            ax.set_xlim(-span, span)
            ax.set_ylim(-span, span)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help="names from VARIANTS")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the benchmark budget")
    parser.add_argument(
        "--samples",
        type=int,
        default=100_000,
        help="training points per epoch (batch size from the config)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "gan_mode_coverage.json")
    parser.add_argument(
        "--report",
        action="store_true",
        help="only print the table and draw the figure from --output",
    )
    args = parser.parse_args()
    sys.argv = sys.argv[:1]
    torch.set_num_threads(1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(args.output.read_text()) if args.output.exists() else []
    if not args.report:
        print(
            f"machine: {platform.machine()}, 1 torch thread, torch {torch.__version__}", flush=True
        )
        with tempfile.TemporaryDirectory() as workdir:
            for variant in args.variants:
                for kind in args.kinds:
                    for seed in args.seeds:
                        result = run_one(
                            variant,
                            kind,
                            seed,
                            args.epochs,
                            args.samples,
                            f"{workdir}/{len(results)}",
                        )
                        results = [
                            r
                            for r in results
                            if (r["variant"], r["kind"], r["seed"]) != (variant, kind, seed)
                        ]
                        results.append(result)
                        args.output.write_text(json.dumps(results))
                        print(
                            f"{variant} {kind} seed {seed}: {result['modes']}/{result['num_modes']} modes, "
                            f"{100 * result['high_quality']:.1f}% high quality, KL {result['kl']:.3f}, "
                            f"{result['batches']} batches, wall {result['wall_s']:.0f} s, CPU {result['cpu_s']:.0f} s",
                            flush=True,
                        )
    print(report(results))
    figure(results, args.output.with_suffix(".png"))


if __name__ == "__main__":
    main()
