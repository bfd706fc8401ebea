"""Measures of image-to-image translation against a known answer.

* ``psnr`` - peak signal-to-noise ratio per image, ``10 log10(range^2 / MSE)`` in dB, on images
  in [0, 1] (``data_range = 1``), against the known target (pix2pix: the paired image; the
  embedded digit tasks: the known transform of the source). Reported as the mean over images.
* ``label_preservation`` - the fraction of translated images that a classifier trained on the
  *target* domain labels with the *source* image's label: does the translation keep the
  content? An input-ignoring generator that outputs realistic target images scores chance
  level here while scoring well on FID, which is why both are reported.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0, max_db: float = 100.0) -> Tensor:
    """PSNR in dB of each image of ``(N, ...)`` batches; identical images give ``max_db``."""
    mse = (pred.float() - target.float()).pow(2).flatten(1).mean(1)
    floor = data_range**2 * 10 ** (-max_db / 10)
    return 10 * torch.log10(data_range**2 / mse.clamp_min(floor))


@torch.no_grad()
def label_preservation(
    classifier: Callable[[Tensor], Tensor],
    translated: Tensor,
    source_labels: Tensor,
    batch_size: int = 256,
) -> float:
    """Accuracy of ``classifier`` (logits) on ``translated`` images against ``source_labels``."""
    correct = 0
    for start in range(0, len(translated), batch_size):
        logits = classifier(translated[start : start + batch_size])
        correct += int(
            (logits.argmax(1).cpu() == source_labels[start : start + batch_size].cpu()).sum()
        )
    return correct / max(len(translated), 1)
