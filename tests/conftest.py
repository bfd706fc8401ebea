"""Shared test setup: one torch thread (measured an order of magnitude faster than the default
on a busy 2-core machine), runs written under the test's temporary directory, offline W&B."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("WANDB_MODE", "disabled")


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """Every test runs in its own directory, so ``runs/`` and ``data/`` never leak (nor the
    metrics' reference-feature cache)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIT_GEN_CACHE_DIR", str(tmp_path / "fidelity_cache"))
    yield


@pytest.fixture
def fast_trainer_args() -> list[str]:
    """CLI overrides that make any config finish in seconds on CPU."""
    return [
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]
