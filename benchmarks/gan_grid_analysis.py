"""Where do a 2-D GAN's low-quality samples lie? Analysis of a run saved by
``benchmarks/gan_mode_search.py --save FILE.pt``.

Splits the scored samples by their distance ``d`` to the nearest mode center, in units of the
mixture's ``sigma``: high quality (``d <= 3``, the protocol's criterion; a true component puts
``1 - exp(-9/2) = 98.9%`` of its mass there), *near misses* (``3 < d <= 6``: a mode drawn too
wide or off-center) and *between modes* (``d > 6``: samples on the generator's transitions
from one mode to the next). Also fits the width of every mode (the root mean square of the
distances within 3 sigma, rescaled to a 2-D Gaussian's) and the offset of its mean from the
center, measures the latent partition's boundary (its Gaussian-weighted length and the mean
width of the low-quality strips along it, on 200,000 fresh samples), and draws (1) the samples, colored by class, and (2) the latent plane ``z in R^2``
colored by the mode each ``z`` is sent to (white: between modes), with the density of ``z``.

    python benchmarks/gan_grid_analysis.py /tmp/run.pt --plot /tmp/run.png
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lit_gen.nets import MLPGenerator  # noqa: E402

#: E[d^2 | d <= 3 sigma] / sigma^2 for a 2-D Gaussian (a Rayleigh(1) truncated at 3).
TRUNCATED_MEAN_SQUARE = 2 - 9 * math.exp(-4.5) / (1 - math.exp(-4.5))


def classify(samples: torch.Tensor, means: torch.Tensor, sigma: float) -> dict[str, torch.Tensor]:
    """Nearest mode, distance in sigmas and class (0 high quality, 1 near miss, 2 between)."""
    dist = torch.cdist(samples.double(), means.double())
    d, nearest = dist.min(dim=1)
    d = d / sigma
    klass = torch.where(d <= 3, 0, torch.where(d <= 6, 1, 2))
    return {"distance": d, "nearest": nearest, "klass": klass}


def summary(samples: torch.Tensor, means: torch.Tensor, sigma: float) -> dict[str, float]:
    """Fractions per class and the fitted mode widths / offsets (in sigmas)."""
    c = classify(samples, means, sigma)
    n = len(samples)
    out = {
        "high_quality": float((c["klass"] == 0).sum()) / n,
        "near_miss_3_6_sigma": float((c["klass"] == 1).sum()) / n,
        "between_modes_over_6_sigma": float((c["klass"] == 2).sum()) / n,
    }
    widths, offsets = [], []
    for k in range(len(means)):
        inside = (c["nearest"] == k) & (c["klass"] == 0)
        if inside.sum() < 5:
            continue
        delta = (samples[inside].double() - means[k].double()) / sigma
        widths.append(math.sqrt(float((delta**2).sum(1).mean()) / TRUNCATED_MEAN_SQUARE))
        offsets.append(float(delta.mean(0).norm()))
    widths_t = torch.tensor(widths)
    out["mode_width_median_sigmas"] = float(widths_t.median())
    out["mode_width_max_sigmas"] = float(widths_t.max())
    out["mode_offset_median_sigmas"] = float(torch.tensor(offsets).median())
    return out


@torch.no_grad()
def boundary(
    generator: torch.nn.Module, means: torch.Tensor, sigma: float, n: int = 200_000, eps: float = 0.05
) -> dict[str, float]:
    """The latent partition's boundary: its Gaussian-weighted length ``L`` (Cauchy-Crofton: a
    segment of length ``eps`` in a uniformly random direction from ``z ~ N(0, I)`` crosses it
    with probability ``2 eps L / pi``), and the mean width ``w`` of the low-quality strips along
    it, from ``P(low quality) = L w``."""
    z = torch.randn(n, 2, generator=torch.Generator().manual_seed(3))
    angle = 2 * math.pi * torch.rand(n, generator=torch.Generator().manual_seed(4))
    step = eps * torch.stack([angle.cos(), angle.sin()], dim=1)
    near = classify(generator(z), means, sigma)
    crossed = near["nearest"] != classify(generator(z + step), means, sigma)["nearest"]
    length = math.pi * float(crossed.double().mean()) / (2 * eps)
    low = float((near["klass"] > 0).double().mean())
    return {"low_quality_200k": low, "boundary_length": length, "strip_width": low / length}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="file written by gan_mode_search.py --save")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument(
        "--hidden", type=int, nargs="+", default=[128, 128, 128], help="generator widths"
    )
    args = parser.parse_args()
    saved = torch.load(args.run, weights_only=False)
    samples, means, sigma = saved["samples"], saved["means"], saved["sigma"]
    print(saved["record"]["name"], "seed", saved["record"]["seed"])
    for key, value in summary(samples, means, sigma).items():
        print(f"  {key}: {value:.4f}")
    generator = None
    if saved["latent_dim"] == 2:
        generator = MLPGenerator(2, (2,), hidden=args.hidden, out_act="none")
        generator.load_state_dict(saved["sampling_generator"])
        for key, value in boundary(generator, means, sigma).items():
            print(f"  {key}: {value:.4f}")
    if args.plot is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = classify(samples, means, sigma)
    fig, axes = plt.subplots(1, 2, figsize=(12, 6))
    colors = {0: "tab:blue", 1: "tab:orange", 2: "tab:red"}
    labels = {0: "<= 3 sigma", 1: "3-6 sigma", 2: "> 6 sigma"}
    for k in (0, 1, 2):
        pts = samples[c["klass"] == k]
        axes[0].scatter(
            pts[:, 0], pts[:, 1], s=3 if k == 0 else 8, c=colors[k], label=f"{labels[k]}: {len(pts)}"
        )
    axes[0].scatter(means[:, 0], means[:, 1], marker="x", c="k", s=20)
    axes[0].set_aspect("equal")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].set_title(f"{saved['record']['name']}: samples by distance to the nearest mode")
    if generator is not None:
        ticks = torch.linspace(-3, 3, 601)
        z = torch.cartesian_prod(ticks, ticks)
        with torch.no_grad():
            x = generator(z)
        cz = classify(x, means, sigma)
        image = torch.where(cz["klass"] == 0, cz["nearest"].double(), torch.nan).reshape(601, 601)
        palette = matplotlib.colors.ListedColormap(
            list(plt.cm.tab20.colors) + list(plt.cm.Dark2.colors)[: len(means) - 20]
        )
        axes[1].imshow(
            image.T,
            origin="lower",
            extent=(-3, 3, -3, 3),
            cmap=palette,
            vmin=-0.5,
            vmax=len(means) - 0.5,
            interpolation="nearest",
        )
        density = torch.exp(-0.5 * (z**2).sum(1)).reshape(601, 601)
        levels = [math.exp(-0.5 * r**2) for r in (2, 1)]  # |z| = 2 and 1
        axes[1].contour(ticks, ticks, density.T, levels=levels, colors="k", linewidths=0.5)
        axes[1].set_title("latent plane: nearest mode of G(z) (white: not within 3 sigma)")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=90)
    print("plot:", args.plot)


if __name__ == "__main__":
    main()
