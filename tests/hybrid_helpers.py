"""Helpers shared by the tests of the conditional and hybrid models."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int = 8) -> DataLoader:
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=False)


def fit_steps(model: L.LightningModule, data: DataLoader, batches: int) -> L.Trainer:
    """Train for ``batches`` batches on CPU with nothing else (no logger, checkpoint, validation)."""
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=1, limit_train_batches=batches, limit_val_batches=0,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, train_dataloaders=data)
    return trainer


def snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def moved(module: nn.Module, before: list[torch.Tensor]) -> bool:
    return any(not torch.equal(p.detach(), b) for p, b in zip(module.parameters(), before, strict=True))


def sgd(lr: float):
    return lambda params: torch.optim.SGD(params, lr=lr)
