"""Pre-train, then fine-tune: a classifier made of an autoencoder's encoder and a small head.

The first use of autoencoders the course teaches: learn features without labels, then train a
classifier with few labels on top of them (Hinton & Salakhutdinov, 2006, Science 313:504;
Erhan et al., 2010, JMLR 11:625, "Why does unsupervised pre-training help deep learning?").

``EncoderClassifier`` takes the encoder of any trained lit-gen autoencoder checkpoint
(``AutoEncoder`` and its variants, ``VAE`` - whose posterior mean is used -,
``AdversarialAutoEncoder``), adds a head, and trains both with cross-entropy (or only the head,
``freeze_encoder``). With ``reinitialize: true`` the same network starts from random weights:
the from-scratch baseline with an identical architecture. Without a checkpoint the encoder is
built from the architecture arguments (``architecture``, ``latent_dim``, ``hidden``, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from lit_gen.errors import ConfigurationError
from lit_gen.models.base import GenerativeModule
from lit_gen.nets.autoencoder import Architecture, build_encoder_decoder
from lit_gen.nets.mlp import MLP


def load_lit_gen_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> GenerativeModule:
    """Rebuild the module saved in a checkpoint written by ``lit-gen fit`` (its class is recorded
    in the checkpoint's hyperparameters as ``_class_path``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"checkpoint {path} not found")
    try:
        record = torch.load(path, map_location="cpu", weights_only=False)
        class_path = record["hyper_parameters"]["_class_path"]
    except (KeyError, TypeError) as error:
        raise ConfigurationError(f"{path} is not a checkpoint written by lit-gen fit (no model class recorded)") from error
    except Exception as error:
        raise ConfigurationError(f"cannot read checkpoint {path} ({type(error).__name__}: {error})") from error
    module_name, _, class_name = class_path.rpartition(".")
    model_class = getattr(importlib.import_module(module_name), class_name)
    return model_class.load_from_checkpoint(path, map_location=map_location)


class CodeHead(nn.Module):
    """What turns an encoder's output into features: the autoencoder's code activation, or the
    posterior mean (first ``keep`` outputs) of a VAE encoder."""

    def __init__(self, code_activation: nn.Module | None = None, keep: int | None = None):
        super().__init__()
        self.code_activation = code_activation or nn.Identity()
        self.keep = keep

    def forward(self, h: Tensor) -> Tensor:
        if self.keep is not None:
            h = h[:, : self.keep]
        return self.code_activation(h)


class EncoderClassifier(GenerativeModule):
    """Classifier ``head(code(encoder(x)))`` trained with cross-entropy.

    Args:
        data_shape: shape of one sample (linked from the data module).
        value_range: range of the data (linked from the data module).
        num_classes: number of classes.
        encoder_checkpoint: a ``lit-gen fit`` checkpoint whose model has an ``encoder`` (any
            autoencoder, VAE or AAE); ``None``: build the encoder from the arguments below.
        reinitialize: re-draw the encoder's weights (the from-scratch baseline with the
            checkpoint's architecture).
        freeze_encoder: train only the head (linear probe when ``head_hidden`` is empty).
        architecture: encoder architecture without a checkpoint (``mlp``, ``conv``, ``linear``).
        latent_dim: code width without a checkpoint.
        hidden: MLP hidden widths without a checkpoint.
        channels: conv widths without a checkpoint.
        activation: hidden activation of the encoder (without a checkpoint) and of the head.
        head_hidden: hidden widths of the head (empty: a linear classifier on the code).
        dropout: dropout in the head.
        encoder_lr_scale: the encoder's learning rate as a fraction of the optimizer's (its own
            parameter group; e.g. 0.1 fine-tunes a pre-trained encoder gently while the new head
            learns at the full rate). 1: one learning rate for all.
        optimizer: optimizer factory (default Adam, lr 1e-3).
        lr_scheduler: optional scheduler factory, stepped every epoch.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 8, 8),
        value_range: tuple[float, float] = (-1.0, 1.0),
        num_classes: int = 10,
        encoder_checkpoint: str | None = None,
        reinitialize: bool = False,
        freeze_encoder: bool = False,
        architecture: Architecture = "mlp",
        latent_dim: int = 16,
        hidden: Sequence[int] = (256, 128),
        channels: Sequence[int] = (32, 64),
        activation: str = "relu",
        head_hidden: Sequence[int] = (),
        dropout: float = 0.0,
        encoder_lr_scale: float = 1.0,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ):
        super().__init__(data_shape, value_range)
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])
        if num_classes < 2:
            raise ConfigurationError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        if not encoder_lr_scale > 0:
            raise ConfigurationError(f"encoder_lr_scale must be > 0 (freeze_encoder: true stops the encoder), got {encoder_lr_scale}")
        self.encoder_lr_scale = encoder_lr_scale
        if encoder_checkpoint is not None:
            source = load_lit_gen_checkpoint(encoder_checkpoint)
            if not isinstance(getattr(source, "encoder", None), nn.Module):
                raise ConfigurationError(f"{type(source).__name__} in {encoder_checkpoint} has no encoder to fine-tune")
            if tuple(source.data_shape) != self.data_shape or tuple(source.value_range) != self.value_range:
                raise ConfigurationError(
                    f"the checkpoint's model was trained on data of shape {tuple(source.data_shape)} in "
                    f"{tuple(source.value_range)}, but this data is {self.data_shape} in {self.value_range}"
                )
            self.encoder = source.encoder
            keep = getattr(source, "latent_dim", None) if hasattr(source, "reparameterize") else None
            self.code = CodeHead(getattr(source, "code_activation", None), keep)
            self.source_class = type(source).__name__
            if reinitialize:
                for module in self.encoder.modules():
                    if hasattr(module, "reset_parameters"):
                        module.reset_parameters()
        else:
            if reinitialize:
                raise ConfigurationError("reinitialize applies to an encoder_checkpoint's encoder; without a checkpoint the encoder is random already")
            self.encoder, _ = build_encoder_decoder(architecture, self.data_shape, self.value_range, latent_dim, latent_dim, hidden, channels, act=activation)
            self.code = CodeHead()
            self.source_class = None
        self.encoder.requires_grad_(not freeze_encoder)
        with torch.no_grad():
            features = self.code(self.encoder(torch.zeros(2, *self.data_shape))).shape[1]
        self.head = MLP(features, head_hidden, num_classes, act=activation, dropout=dropout)
        self.freeze_encoder = freeze_encoder
        self.optimizer_factory = optimizer
        self.lr_scheduler_factory = lr_scheduler
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.test_accuracy = MulticlassAccuracy(num_classes, average="micro")

    def features(self, x: Tensor) -> Tensor:
        """The code the head classifies, ``(N, features)``."""
        return self.code(self.encoder(x))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``(N, num_classes)``."""
        return self.head(self.features(x))

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self(x).argmax(1)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and getattr(self, "freeze_encoder", False):
            self.encoder.eval()  # a frozen encoder keeps its batch-norm statistics too
        return self

    def training_step(self, batch, batch_idx: int) -> Tensor:
        x, labels = batch
        logits = self(x)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(1) == labels).float().mean()
        self.log_step_metrics({"train/loss": loss, "train/accuracy": accuracy}, prog_bar=["train/loss"])
        return loss

    def _evaluate(self, batch, stage: str, metric: MulticlassAccuracy) -> None:
        x, labels = batch
        logits = self(x)
        self.log(f"{stage}/loss", F.cross_entropy(logits, labels), on_epoch=True, sync_dist=True)
        metric(logits, labels)
        self.log(f"{stage}/accuracy", metric, on_epoch=True, prog_bar=stage == "val")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_accuracy)

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_accuracy)

    def predict_step(self, batch, batch_idx: int) -> Tensor:
        return self.predict(batch[0])

    def configure_optimizers(self):
        encoder = [p for p in self.encoder.parameters() if p.requires_grad]
        encoder_ids = {id(p) for p in encoder}
        others = [p for p in self.parameters() if p.requires_grad and id(p) not in encoder_ids]
        if self.encoder_lr_scale == 1 or not encoder:
            opt = self.optimizer_factory(others + encoder)
        else:
            opt = self.optimizer_factory([{"params": others}, {"params": encoder}])
            opt.param_groups[1]["lr"] *= self.encoder_lr_scale
        if self.lr_scheduler_factory is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.lr_scheduler_factory(opt), "interval": "epoch"}}

