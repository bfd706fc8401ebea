"""Mode coverage of 2-D samples against a known mixture of Gaussians.

The protocol of VEEGAN (Srivastava et al., 2017, arXiv:1705.07761, section 5.1) and PacGAN
(Lin et al., 2018, arXiv:1712.04086, section 5.1), on 2,500 generated samples:

* a sample is **high quality** when it lies within ``3 sigma`` of the nearest mode center;
* a mode is **covered** when at least 20 high-quality samples fall on it (so spreading samples
  uniformly cannot "cover" modes);
* **KL to uniform**: ``KL(p || u) = sum_k p_k log(K p_k)`` where ``p`` is the histogram of the
  high-quality samples over the ``K`` modes (normalized) and ``u`` the uniform distribution of
  the true mixture (PacGAN's "reverse KL"). 0 is perfect; ``log K`` is all samples on one mode.
  It is ``nan`` when no sample is of high quality (the histogram is undefined).

Published anchors on this protocol (PacGAN, Table 1): GAN 6.3/8 ring modes, 17.3/25 grid modes;
PacGAN4 7.8/8 and 24.8/25 with 95.9% / 93.6% high-quality samples.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

#: samples scored per evaluation in the protocol.
NUM_SAMPLES = 2_500
#: high-quality radius, in standard deviations.
THRESHOLD_SIGMAS = 3.0
#: high-quality samples a mode needs to count as covered.
MIN_MODE_COUNT = 20


@dataclass(frozen=True)
class CoverageScores:
    """Scores of one set of samples.

    Attributes:
        modes: number of covered modes.
        num_modes: number of modes of the mixture.
        high_quality: fraction of samples within the threshold of their nearest mode.
        kl: KL divergence of the high-quality mode histogram to uniform (nats).
        counts: high-quality samples per mode, ``(K,)``.
    """

    modes: int
    num_modes: int
    high_quality: float
    kl: float
    counts: tuple[int, ...]

    def as_dict(self) -> dict[str, float]:
        """The scalar scores (without ``counts``)."""
        values = asdict(self)
        values.pop("counts")
        return {k: float(v) for k, v in values.items()}


def mode_coverage(
    samples: Tensor,
    means: Tensor,
    sigma: float,
    threshold: float = THRESHOLD_SIGMAS,
    min_count: int = MIN_MODE_COUNT,
) -> CoverageScores:
    """Score ``samples`` ``(N, 2)`` against the mixture with centers ``means`` ``(K, 2)`` and
    per-component standard deviation ``sigma``.

    Args:
        samples: generated points.
        means: mode centers.
        sigma: standard deviation of every component.
        threshold: high-quality radius in units of ``sigma``.
        min_count: high-quality samples needed for a mode to count as covered.
    """
    if samples.ndim != 2 or means.ndim != 2 or samples.shape[1] != means.shape[1]:
        raise ValueError(
            f"expected samples (N, D) and means (K, D), got {tuple(samples.shape)} and {tuple(means.shape)}"
        )
    samples = samples.detach().double().cpu()
    means = means.detach().double().cpu()
    distances = torch.cdist(samples, means)  # (N, K)
    nearest_distance, nearest = distances.min(dim=1)
    good = torch.isfinite(nearest_distance) & (nearest_distance <= threshold * sigma)
    counts = torch.bincount(nearest[good], minlength=len(means))
    total = int(counts.sum())
    if total:
        p = counts.double() / total
        nonzero = p > 0
        kl = float((p[nonzero] * torch.log(len(means) * p[nonzero])).sum())
    else:
        kl = math.nan
    return CoverageScores(
        modes=int((counts >= min_count).sum()),
        num_modes=len(means),
        high_quality=total / max(len(samples), 1),
        kl=kl,
        counts=tuple(int(c) for c in counts),
    )


def scatter_figure(
    samples: Tensor,
    means: Tensor,
    sigma: float,
    title: str = "",
    threshold: float = THRESHOLD_SIGMAS,
):
    """A matplotlib figure: the samples as dots, the mode centers as crosses and the
    high-quality discs (radius ``threshold * sigma``) as circles."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt

    samples = samples.detach().float().cpu().numpy()
    centers = means.detach().float().cpu().numpy()
    span = float(abs(centers).max()) * 1.5 + 6 * sigma
    figure, axes = plt.subplots(figsize=(4, 4), dpi=100)
    axes.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:blue", linewidths=0)
    axes.scatter(centers[:, 0], centers[:, 1], s=20, marker="x", color="tab:red")
    for x, y in centers:
        axes.add_patch(
            plt.Circle((x, y), threshold * sigma, fill=False, color="tab:red", linewidth=0.5)
        )
    axes.set_xlim(-span, span)
    axes.set_ylim(-span, span)
    axes.set_aspect("equal")
    if title:
        axes.set_title(title, fontsize=8)
    figure.tight_layout()
    return figure


def figure_to_tensor(figure) -> Tensor:
    """Render a matplotlib figure to a ``(3, H, W)`` float tensor in [0, 1] and close it."""
    import numpy as np
    from matplotlib import pyplot as plt

    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    plt.close(figure)
    return torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1).float() / 255.0
