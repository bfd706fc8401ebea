"""Images from ``lit-gen predict`` written to disk.

``predict_step`` returns either ``{"images": (N, C, H, W), "names": [N names]}`` (the translation
models: one output per input file, named after it) or a ``(N, C, H, W)`` tensor of images (named
by batch and position). Images are in the module's ``value_range`` and saved as 8-bit PNG (grey or RGB).
Anything else (e.g. 2-D points) is left to the caller. Each DDP rank writes its own share.
"""

from __future__ import annotations

import os

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from PIL import Image
from torch import Tensor


def save_png(image: Tensor, path: str) -> None:
    """A ``(C, H, W)`` image in [0, 1] as an 8-bit PNG: grey for one channel, RGB for three."""
    pixels = image.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
    if pixels.shape[0] == 1:
        Image.fromarray(pixels[0].numpy(), "L").save(path)
    else:
        Image.fromarray(pixels[:3].permute(1, 2, 0).contiguous().numpy(), "RGB").save(path)


class PredictionWriter(BasePredictionWriter):
    """Writes predicted images to ``output_dir`` (default ``<run dir>/predictions``).

    Args:
        output_dir: folder for the PNG files; created if needed.
    """

    def __init__(self, output_dir: str | None = None):
        super().__init__(write_interval="batch")
        self.output_dir = output_dir
        self.written: list[str] = []
        self._folder = ""

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Resolved on every rank (trainer.log_dir broadcasts under DDP).
        self._folder = self.output_dir or os.path.join(
            trainer.log_dir or trainer.default_root_dir, "predictions"
        )
        os.makedirs(self._folder, exist_ok=True)

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx
    ):
        if isinstance(prediction, dict) and "images" in prediction:
            images, names = prediction["images"], [str(n) for n in prediction["names"]]
        elif isinstance(prediction, torch.Tensor) and prediction.ndim == 4:
            images = prediction
            names = [f"batch{batch_idx:05d}_{i:03d}" for i in range(len(prediction))]
        else:
            return
        to_unit = getattr(pl_module, "to_unit_range", lambda x: x.clamp(0, 1))
        folder = self._folder
        for image, name in zip(to_unit(images.float()).cpu(), names, strict=True):
            path = os.path.join(folder, f"{name}.png")
            save_png(image, path)
            self.written.append(path)
