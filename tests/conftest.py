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


DISTRIBUTED_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "GLOBAL_RANK")


@pytest.fixture(autouse=True)
def _no_distributed_leftovers():
    """A test that starts DDP in this process (e.g. one checking that a strategy is refused at
    setup) leaves a process group listening on MASTER_PORT and the DDP variables in
    ``os.environ``; every later DDP test would inherit that port and fail with EADDRINUSE."""
    saved = {key: os.environ.get(key) for key in DISTRIBUTED_ENV}
    yield
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


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
