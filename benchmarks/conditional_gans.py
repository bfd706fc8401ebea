"""Conditional GANs on the embedded digits: one training run measured against the real-data floor.

The protocol (the same for generated and real images, so the rows are comparable):

* ``N = 538`` images whose labels are those of the held-out digits (validation + test splits of
  ``DigitsDataModule(image_size=16)``, ``split_seed`` 0): the generator draws one sample per
  held-out image, with that image's label and fixed noise (``torch.Generator`` seeds 0, 1, ...
  per chunk of 250); the "real test digits" row is the held-out images themselves.
* accuracy: fraction the shipped digits classifier assigns to the requested label;
* FD and IS (10 splits): ``lit-gen-digits`` features against the training split (1,259 images);
* per-class FD: for each digit ``k``, the images with label ``k`` (about 54) against the training
  images of digit ``k`` (about 126); the mean over the 10 digits. It measures the variety
  *within* a class, which the pooled FD mixes with the class proportions;
* ``N = 1000`` (labels ``i % 10``): accuracy and FD of the earlier protocol, for continuity.

With ``ema_decay`` the raw generator is measured too (the same run, a second row). The training
CPU time is the process's user + system time spent in ``fit`` (1 thread).

    PYTHONPATH=. nice -n 10 python benchmarks/conditional_gans.py --real
    PYTHONPATH=. nice -n 10 python benchmarks/conditional_gans.py --config configs/quickstart/acgan.yaml \
        --name acgan_hinge --set=--model.init_args.objective=lit_gen.losses.Hinge

Every measurement is appended to ``<out>/runs.jsonl`` and printed as a Markdown row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def held_out(data) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation + test images and labels (538 for the digits)."""
    parts = [data.val_set.tensors(), data.test_set.tensors()]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


@torch.no_grad()
def generate(model, labels: torch.Tensor, chunk: int = 250) -> torch.Tensor:
    return torch.cat([model.sample(len(part), part.to(model.device), torch.Generator().manual_seed(i)).cpu()
                      for i, part in enumerate(torch.split(labels, chunk))])


@torch.no_grad()
def measure(images: torch.Tensor, labels: torch.Tensor, data, value_range, evaluator, classifier) -> dict:
    """Accuracy, FD, IS and per-class FD of ``images`` (requested/true ``labels``)."""
    from lit_gen.metrics import datamodule_reference

    reference = datamodule_reference(data, "train")
    result = evaluator.evaluate(images, reference, value_range).metrics
    per_class = [evaluator.evaluate(images[labels == k], datamodule_reference(data, "train", label=k), value_range,
                                    metrics=("fid",)).metrics["fid"] for k in range(int(labels.max()) + 1)]
    accuracy = (classifier.predict(images, value_range) == labels).float().mean().item()
    return {"n": len(images), "accuracy": accuracy, "fd": result["fid"], "is": result["is"],
            "per_class_fd": per_class, "per_class_fd_mean": sum(per_class) / len(per_class)}


def tools(out: Path):
    from lit_gen.metrics import DIGITS_EXTRACTOR, FidelityEvaluator, load_digits_classifier

    evaluator = FidelityEvaluator(DIGITS_EXTRACTOR, metrics=("fid", "is"), device="cpu", cache_dir=out / "fidelity_cache")
    return evaluator, load_digits_classifier()


def measure_model(model, data, out: Path, tag: str) -> dict:
    """The protocol above for a trained conditional GAN; writes ``<out>/<tag>_classes.png``."""
    from lit_gen.metrics import datamodule_reference

    evaluator, classifier = tools(out)
    model.eval()
    _, labels = held_out(data)
    row = measure(generate(model, labels), labels, data, model.value_range, evaluator, classifier)
    labels_1000 = torch.arange(1000) % model.num_classes
    samples_1000 = generate(model, labels_1000)
    row["accuracy_1000"] = (classifier.predict(samples_1000, model.value_range) == labels_1000).float().mean().item()
    row["fd_1000"] = evaluator.evaluate(samples_1000, datamodule_reference(data, "train"), model.value_range,
                                        metrics=("fid",)).metrics["fid"]
    z = model.noise(12, torch.Generator().manual_seed(0))
    grid = torch.cat([model.generate(z, torch.full((12,), k)) for k in range(model.num_classes)])
    from torchvision.utils import save_image

    save_image(model.to_unit_range(grid), out / f"{tag}_classes.png", nrow=12)
    return row


def real_floor(out: Path) -> dict:
    from lit_gen.data import DigitsDataModule

    data = DigitsDataModule(image_size=16)
    data.setup("fit")
    evaluator, classifier = tools(out)
    images, labels = held_out(data)
    return measure(images, labels, data, data.value_range, evaluator, classifier)


def markdown(row: dict) -> str:
    def value(key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else "-"

    return (f"| {row['name']} | {row['accuracy']:.3f} | {row['fd']:.2f} | {row['per_class_fd_mean']:.1f} | {row['is']:.2f} | "
            f"{value('accuracy_1000', '.3f')} | {value('fd_1000', '.2f')} | {value('train_cpu_s', '.0f')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="lit-gen config of a ConditionalGAN / ACGAN")
    parser.add_argument("--set", action="append", default=[], metavar="ARG", help="extra lit-gen argument, repeatable")
    parser.add_argument("--name", help="row name (default: the config's stem)")
    parser.add_argument("--real", action="store_true", help="measure the held-out real digits (the floor)")
    parser.add_argument("--out", default="runs/benchmarks/conditional_gans")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    if args.real:
        rows.append({"name": "real test digits (validation + test)", "command": "--real", **real_floor(out)})
    if args.config:
        from lit_gen.apps.common import fit

        name = args.name or Path(args.config).stem
        start_cpu, start = cpu_seconds(), time.perf_counter()
        model, data = fit(args.config, args.set, out / name)
        train = {"train_cpu_s": cpu_seconds() - start_cpu, "train_wall_s": time.perf_counter() - start}
        command = " ".join(["--config", args.config, *[f"--set={s}" for s in args.set]])
        rows.append({"name": name, "command": command, **train, **measure_model(model, data, out, name)})
        if getattr(model, "generator_ema", None) is not None:
            ema, model.generator_ema = model.generator_ema, None
            rows.append({"name": f"{name} (raw generator, no EMA)", "command": command, **train,
                         **measure_model(model, data, out, f"{name}_raw")})
            model.generator_ema = ema
    with open(out / "runs.jsonl", "a") as handle:
        for row in rows:
            handle.write(json.dumps({**row, "machine": platform.machine(), "torch": torch.__version__}) + "\n")
    print("| run | accuracy (N = 538) | FD (N = 538) | per-class FD (mean) | IS | accuracy (N = 1000) | FD (N = 1000) | training CPU (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(markdown(row))


if __name__ == "__main__":
    main()
