"""Train the digits classifier shipped as lit-gen's digits feature extractor.

    python -m lit_gen.metrics.train_digits_classifier            # writes lit_gen/assets/digits_classifier.pt
    python -m lit_gen.metrics.train_digits_classifier --output my.pt --epochs 60

Trained on the **training split only** of ``DigitsDataModule(image_size=16, split_seed=0)``
(1,257 images; validation and test splits are held out and only reported). The images pass through
the same uint8 quantization as every image the metrics see. Mild random affine augmentation
(rotation, scale, shift) makes the features less brittle on imperfect generated digits.
Deterministic: one thread, fixed seeds, deterministic algorithms; the same command on the same
software gives the same weights.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from lit_gen.data.digits import DigitsDataModule
from lit_gen.metrics.digits_classifier import DIGITS_CLASSIFIER_WEIGHTS, INPUT_SIZE, prepare_digits
from lit_gen.nets.classifier import DigitsCNN


def to_uint8(images: Tensor) -> Tensor:
    """[0, 1] floats to uint8 as PNG files store them (``round(255 x)``)."""
    return images.mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8)


def digits_splits(split_seed: int = 0) -> dict[str, tuple[Tensor, Tensor]]:
    """uint8 images ``(N, 1, 16, 16)`` and labels of the train/val/test splits."""
    data = DigitsDataModule(image_size=INPUT_SIZE, value_range=(0.0, 1.0), split_seed=split_seed)
    data.setup("fit")
    splits = {}
    for name, dataset in (("train", data.train_set), ("val", data.val_set), ("test", data.test_set)):
        images, labels = dataset.__getitems__(list(range(len(dataset))))  # a copy, in [0, 1]
        splits[name] = (to_uint8(images), labels)
    return splits


def random_affine(x: Tensor, generator: torch.Generator, degrees: float = 10.0, scale: float = 0.1, shift: float = 0.1) -> Tensor:
    """Per-image random rotation (+-degrees), zoom (1 +- scale) and shift (+- shift of the half
    side), zero padding (the digits' background)."""
    n = len(x)
    u = torch.rand(n, 4, generator=generator) * 2 - 1
    angle = u[:, 0] * math.radians(degrees)
    zoom = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([
        torch.stack([cos, -sin, u[:, 2] * shift], dim=1),
        torch.stack([sin, cos, u[:, 3] * shift], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@torch.no_grad()
def accuracy(net: DigitsCNN, images: Tensor, labels: Tensor) -> float:
    net.eval()
    return (net(prepare_digits(images)).argmax(1) == labels).float().mean().item()


def train(epochs: int = 30, batch_size: int = 64, lr: float = 2e-3, seed: int = 0, split_seed: int = 0, verbose: bool = True) -> dict:
    """Train and return the record saved to the weights file (``state_dict``, ``config``, ``meta``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        start = time.perf_counter()
        splits = digits_splits(split_seed)
        train_images, train_labels = splits["train"]
        torch.manual_seed(seed)
        config = {"num_classes": 10, "feature_dim": 64, "channels": (32, 64), "image_size": INPUT_SIZE, "dropout": 0.3}
        net = DigitsCNN(**config)
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        steps_per_epoch = math.ceil(len(train_images) / batch_size)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
        generator = torch.Generator().manual_seed(seed)
        x_all = prepare_digits(train_images)
        for epoch in range(epochs):
            net.train()
            order = torch.randperm(len(x_all), generator=generator)
            total = 0.0
            for index in order.split(batch_size):
                x = random_affine(x_all[index], generator)
                loss = F.cross_entropy(net(x), train_labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total += loss.item() * len(index)
            if verbose and (epoch + 1) % 10 == 0:
                print(f"epoch {epoch + 1:3d}  train loss {total / len(x_all):.4f}  "
                      f"val accuracy {accuracy(net, *splits['val']):.4f}")
        meta = {
            "trained_on": f"DigitsDataModule(image_size={INPUT_SIZE}, split_seed={split_seed}) train split "
                          f"({len(train_images)} images)",
            "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
            "train_accuracy": accuracy(net, *splits["train"]),
            "val_accuracy": accuracy(net, *splits["val"]),
            "test_accuracy": accuracy(net, *splits["test"]),
            "torch_version": str(torch.__version__),
        }
        net.eval()
        if verbose:
            print(f"trained in {time.perf_counter() - start:.1f} s")
        return {"state_dict": net.state_dict(), "config": config, "meta": meta}
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DIGITS_CLASSIFIER_WEIGHTS)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    record = train(args.epochs, args.batch_size, args.lr, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(record, args.output)
    meta = record["meta"]
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KiB): "
          f"accuracy train {meta['train_accuracy']:.4f}, val {meta['val_accuracy']:.4f}, "
          f"test {meta['test_accuracy']:.4f}")
    return record


if __name__ == "__main__":
    main()
