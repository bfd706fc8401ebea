"""Search for a GAN configuration reaching every mode of the 2-D mixtures (issue 3's goal).

Runs one lit-gen config (with overrides) for a fixed number of epochs through
``lit_gen.cli.run``, scores the final generator (the EMA copy when ``ema_decay`` is set) with
:class:`lit_gen.callbacks.ModeCoverage` (2,500 samples from fixed noise, high quality = within
3 sigma of the nearest mode, a mode counts with >= 20 high-quality samples) and appends one
record (settings, batches, wall and CPU time, scores) to a JSON file.

    python benchmarks/gan_mode_search.py --name ns_r1 --config configs/quickstart/best_ring.yaml \
        --seed 0 -- --model.init_args.r1_gamma=0.1
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lit_gen.callbacks import ModeCoverage  # noqa: E402
from lit_gen.cli import run  # noqa: E402
from lit_gen.metrics.mode_coverage import mode_coverage  # noqa: E402

#: samples of the large-sample check (the protocol's 2,500 carry a binomial standard error of
#: about 0.5 percentage point at 94% high quality).
LARGE_SAMPLE = 200_000


def history(run_dir: Path) -> list[dict[str, float]]:
    """``val/modes`` and ``val/high_quality`` of every scored epoch, from the run's CSV log."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return []
    rows = []
    with path.open() as f:
        for row in csv.DictReader(f):
            if row.get("val/high_quality"):
                rows.append(
                    {
                        "epoch": int(row["epoch"]),
                        "modes": float(row["val/modes"]),
                        "high_quality": float(row["val/high_quality"]),
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--name", required=True, help="label of the run in the records")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "gan_mode_search.json"
    )
    parser.add_argument(
        "--save",
        type=Path,
        default=None,
        help="also save the scored samples and the generators' weights to this .pt file",
    )
    parser.add_argument("overrides", nargs="*", help="extra lit-gen arguments (after --)")
    args = parser.parse_args()
    sys.argv = sys.argv[:1]
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as workdir:
        cli_args = [
            "fit",
            "--config",
            str(args.config),
            *args.overrides,
            f"--seed_everything={args.seed}",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            "--trainer.enable_checkpointing=false",
            f"--run_dir={workdir}/run",
        ]
        wall, cpu = time.perf_counter(), time.process_time()
        cli = run(cli_args)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        scored_epochs = history(Path(cli.run_dir))
    coverage = next(c for c in cli.trainer.callbacks if isinstance(c, ModeCoverage))
    scores = coverage.last
    mixture = cli.datamodule.mixture
    large = mode_coverage(
        cli.model.cpu().sample(LARGE_SAMPLE, generator=torch.Generator().manual_seed(12345)),
        mixture.means,
        mixture.sigma,
    )
    record = {
        "name": args.name,
        "config": str(args.config),
        "overrides": args.overrides,
        "seed": args.seed,
        "modes": scores.modes,
        "num_modes": scores.num_modes,
        "high_quality": scores.high_quality,
        "kl": scores.kl,
        "counts": list(scores.counts),
        "high_quality_200k": large.high_quality,
        "modes_200k": large.modes,
        "history": scored_epochs,
        "batches": cli.model.critic_steps,
        "generator_steps": cli.model.generator_steps,
        "batch_size": cli.datamodule.batch_size,
        "wall_s": wall,
        "cpu_s": cpu,
    }
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "record": record,
                "samples": coverage.last_samples,
                "means": cli.datamodule.mixture.means,
                "sigma": cli.datamodule.mixture.sigma,
                "latent_dim": cli.model.latent_dim,
                "generator": cli.model.generator.state_dict(),
                "sampling_generator": cli.model.sampling_generator.state_dict(),
            },
            args.save,
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    records = json.loads(args.output.read_text()) if args.output.exists() else []
    records.append(record)
    args.output.write_text(json.dumps(records, indent=1))
    print(
        f"{args.name} seed {args.seed}: {scores.modes}/{scores.num_modes} modes, "
        f"{100 * scores.high_quality:.1f}% high quality, KL {scores.kl:.3f}, "
        f"({100 * large.high_quality:.2f}% on {LARGE_SAMPLE:,} samples), "
        f"{record['batches']} batches, wall {wall:.0f} s, CPU {cpu:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
