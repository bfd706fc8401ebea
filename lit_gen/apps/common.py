"""Shared plumbing of the applications: train a config with ``lit-gen fit`` or rebuild a trained
run from its config and checkpoint, and write results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch

from lit_gen.cli import LitGenCLI, run
from lit_gen.errors import ConfigurationError

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def fit(config: str, overrides: Sequence[str], run_dir: Path, max_epochs: int | None = None) -> tuple[L.LightningModule, L.LightningDataModule]:
    """``lit-gen fit --config config [overrides]`` into ``run_dir``; the trained model (in eval
    mode) and its set-up data module."""
    args = ["fit", "--config", str(config), *QUIET, *overrides, "--run_dir", str(run_dir)]
    if max_epochs is not None:
        args.append(f"--trainer.max_epochs={max_epochs}")
    cli = run(args)
    cli.datamodule.setup("fit")
    return cli.model.eval(), cli.datamodule


def load(config: str, ckpt_path: str, overrides: Sequence[str], run_dir: Path) -> tuple[L.LightningModule, L.LightningDataModule]:
    """The model of ``config`` with the weights of ``ckpt_path``, and the set-up data module."""
    if not Path(ckpt_path).is_file():
        raise ConfigurationError(f"checkpoint {ckpt_path} not found")
    try:
        cli = LitGenCLI(L.LightningModule, L.LightningDataModule, run=False,
                        args=["--config", str(config), *overrides, "--run_dir", str(run_dir)])
    except SystemExit as error:
        raise ConfigurationError(f"cannot build the model of {config} (see the message above)") from error
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)["state_dict"]
    try:
        cli.model.load_state_dict(state)
    except RuntimeError as error:
        raise ConfigurationError(f"{ckpt_path} does not hold the weights of the model in {config}: {error}") from error
    cli.datamodule.setup("fit")
    return cli.model.eval(), cli.datamodule


def trained(config: str, ckpt_path: str | None, overrides: Sequence[str], run_dir: Path, max_epochs: int | None = None):
    """:func:`load` when a checkpoint is given, else :func:`fit`."""
    if ckpt_path:
        return load(config, ckpt_path, overrides, run_dir)
    return fit(config, overrides, run_dir, max_epochs)


def write_results(out: Path, results: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=2, default=float) + "\n")
    return path


def split_tensors(datamodule, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All images and labels of ``train``, ``val`` or ``test`` (in the model's range)."""
    dataset = getattr(datamodule, f"{split}_set")
    if hasattr(dataset, "tensors"):
        return dataset.tensors()
    images, labels = zip(*(dataset[i] for i in range(len(dataset))), strict=True)
    return torch.stack(images), torch.as_tensor(labels)


def code_of(model, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The latent code of ``x``: ``encode(x)``, the posterior mean for a VAE."""
    if not hasattr(model, "encode"):
        raise ConfigurationError(f"{type(model).__name__} has no encoder")
    if hasattr(model, "reparameterize"):  # VAE family: (mu, logvar)
        return model.encode(x, labels)[0]
    return model.encode(x)


def decode(model, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Images decoded from codes ``z`` (a VAE's mean image ``E[x | z]``)."""
    if hasattr(model, "decoder_output"):
        return model.mean_image(model.decoder_output(z, labels))
    if getattr(model, "conditioning", "none") == "decoder":
        return model.decode(z, labels)
    return model.decode(z)
