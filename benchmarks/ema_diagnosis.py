"""Why the EMA generator of the batch-norm cGANs scores worse than the raw one: one training run,
several generator averages tracked side by side, each scored with and without recomputed
batch-norm statistics (protocol of ``benchmarks/conditional_gans.py``).

The averages (``AveragedModel`` over the generator's weights and buffers, updated after every
generator step, like the module's own ``ema_decay``; ``t`` = updates so far):

* ``ema0.999``: decay 0.999 from the first step (the module's EMA before the fix; the first
  update copies the generator, so the step-1 weights keep ``0.999 ** (T - 1)`` of the average);
* ``ema0.999_tf``: ``decay_t = min(0.999, (1 + t) / (10 + t))`` (TensorFlow's
  ``ExponentialMovingAverage(num_updates=t)``);
* ``ema0.999_rampup0.05``: half-life ``min(693, 0.05 t)`` steps, ``decay_t = 0.5 ** (1 /
  half-life)`` (StyleGAN2-ADA's ``ema_rampup``, Karras et al., 2020, arXiv:2006.06676; 693 steps
  is decay 0.999's half-life);
* ``ema0.99``: decay 0.99 from the first step.

"BN recomputed": the average's batch-norm running statistics replaced by the statistics of its
own activations on 2,048 fresh ``(z, y)`` (balanced labels, batches of 256, train mode,
``momentum=None``), i.e. "standing statistics" (Brock et al., 2019, arXiv:1809.11096, app. C).

    PYTHONPATH=. nice -n 5 python benchmarks/ema_diagnosis.py --seed 0
    PYTHONPATH=. python benchmarks/ema_diagnosis.py --config <config> --set=<the run's overrides> \
        --nearest <run>/checkpoints/last.ckpt   # memorization check only
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import lightning as L
import torch
from torch.optim.swa_utils import AveragedModel

from benchmarks.conditional_gans import cpu_seconds, markdown, measure_model


def ramped(decay_at):
    """``multi_avg_fn`` of an EMA whose decay depends on the update count ``t``."""

    @torch.no_grad()
    def update(ema, current, n_averaged):
        decay = decay_at(int(n_averaged))
        if torch.is_floating_point(ema[0]):
            torch._foreach_lerp_(ema, current, 1 - decay)
        else:
            for e, c in zip(ema, current, strict=True):
                e.copy_(e * decay + c * (1 - decay))

    return update


HALF_LIFE = math.log(0.5) / math.log(0.999)
SCHEDULES = {
    "ema0.999": lambda t: 0.999,
    "ema0.999_tf": lambda t: min(0.999, (1 + t) / (10 + t)),
    "ema0.999_rampup0.05": lambda t: 0.5 ** (1 / max(min(HALF_LIFE, 0.05 * t), 1e-8)),
    "ema0.99": lambda t: 0.99,
}


class EMAVariants(L.Callback):
    """Tracks the averages of :data:`SCHEDULES` after every generator step."""

    def __init__(self):
        self.averages: dict[str, AveragedModel] = {}
        self.seen = 0

    def on_fit_start(self, trainer, module):
        self.averages = {name: AveragedModel(module.generator, multi_avg_fn=ramped(fn), use_buffers=True)
                         for name, fn in SCHEDULES.items()}

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if module.generator_steps != self.seen:
            self.seen = module.generator_steps
            for average in self.averages.values():
                average.update_parameters(module.generator)


@torch.no_grad()
def recompute_bn(generator: torch.nn.Module, num_classes: int, latent_dim: int, n: int = 2048, batch: int = 256) -> None:
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was = generator.training
    generator.train()
    rng = torch.Generator().manual_seed(1234)
    for _ in range(n // batch):
        z = torch.randn(batch, latent_dim, generator=rng)
        generator(z, torch.arange(batch) % num_classes)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    generator.train(was)


@torch.no_grad()
def nearest_train_distances(config: str, ckpt: str, overrides: list[str], out: Path) -> list[dict]:
    """Memorization check: the mean L2 distance (pixels in [-1, 1], 16x16) from each image to
    its nearest training image, for the held-out real digits and for the generators of a
    checkpoint (N = 538, held-out labels, the noise of ``conditional_gans.py``)."""
    from benchmarks.conditional_gans import generate, held_out
    from lit_gen.apps.common import load

    model, data = load(config, ckpt, overrides, out / "nearest")
    train = data.train_set.tensors()[0].flatten(1)
    images, labels = held_out(data)

    def distance(x):
        return torch.cdist(x.flatten(1), train).min(dim=1).values.mean().item()

    rows = [{"name": "real held-out digits", "nearest_train_l2": distance(images)}]
    rows.append({"name": "EMA generator", "nearest_train_l2": distance(generate(model, labels))})
    model.generator_ema = None
    rows.append({"name": "raw generator", "nearest_train_l2": distance(generate(model, labels))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/quickstart/cgan_projection.yaml")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", default="runs/benchmarks/ema_diagnosis")
    parser.add_argument("--nearest", metavar="CKPT", help="only the memorization check of a checkpoint of --config")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.nearest:
        for row in nearest_train_distances(args.config, args.nearest, args.set, Path(args.out)):
            print(f"| {row['name']} | {row['nearest_train_l2']:.3f} |")
        return
    out = Path(args.out) / f"seed{args.seed}"
    out.mkdir(parents=True, exist_ok=True)
    from lit_gen.apps.common import fit

    start = cpu_seconds()
    model, data = fit(args.config, [f"--seed_everything={args.seed}", "--model.init_args.ema_decay=0.999",
                                    "--trainer.callbacks+=benchmarks.ema_diagnosis.EMAVariants", *args.set], out / "run")
    train_cpu = cpu_seconds() - start
    variants = next(c for c in model.trainer.callbacks if type(c).__name__ == "EMAVariants")
    own = model.generator_ema
    check = torch.nn.utils.parameters_to_vector(variants.averages["ema0.999"].module.parameters())
    same = torch.equal(check, torch.nn.utils.parameters_to_vector(own.module.parameters()))
    print(f"ema0.999 tracker equals the module's EMA: {same}")
    torch.save({k: v.state_dict() for k, v in variants.averages.items()} | {"raw": model.generator.state_dict()},
               out / "generators.pt")
    rows = []
    candidates = {"raw": model.generator} | {k: v.module for k, v in variants.averages.items()}
    for name, generator in candidates.items():
        for bn in ("as trained", "BN recomputed"):
            g = copy.deepcopy(generator)
            if bn == "BN recomputed":
                recompute_bn(g, model.num_classes, model.latent_dim)
            holder = AveragedModel(g)
            holder.module = g
            model.generator_ema = holder
            tag = f"{name}_{'recomputed' if bn != 'as trained' else 'trained'}"
            t0 = time.perf_counter()
            row = {"name": f"{name}, BN {bn}", "seed": args.seed, "train_cpu_s": train_cpu,
                   **measure_model(model, data, out, tag)}
            row["score_s"] = time.perf_counter() - t0
            rows.append(row)
            print(markdown(row), flush=True)
    model.generator_ema = own
    with open(out / "runs.jsonl", "a") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
