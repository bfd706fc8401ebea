"""The run's checkpoint callback saves at most once per ``--checkpoint_interval`` seconds at epoch
ends, always at the end of training, and at every epoch end with an interval of 0."""

from __future__ import annotations

import pytest
import torch

from lit_gen.callbacks.checkpoint import RunCheckpoint
from lit_gen.cli import run
from lit_gen.errors import ConfigurationError

QUICKSTART = "configs/quickstart/denoising_autoencoder.yaml"


def _fit(tmp_path, interval: float, epochs: int = 3):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return run([
        "fit", "--config", str(root / QUICKSTART), "--run_dir", str(tmp_path / "run"),
        f"--checkpoint_interval={interval}", f"--trainer.max_epochs={epochs}",
        "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=1",
        "--trainer.num_sanity_val_steps=0", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ])


def _saves(cli) -> list[int]:
    callback = next(c for c in cli.trainer.callbacks if isinstance(c, RunCheckpoint))
    return callback.saved_steps


@pytest.fixture(autouse=True)
def _record_saves(monkeypatch):
    original = RunCheckpoint._save_checkpoint

    def recording(self, trainer, filepath):
        self.__dict__.setdefault("saved_steps", []).append(trainer.global_step)
        original(self, trainer, filepath)

    monkeypatch.setattr(RunCheckpoint, "_save_checkpoint", recording)


def test_long_interval_saves_once_at_the_end_named_after_the_last_epoch(tmp_path):
    cli = _fit(tmp_path, interval=3600)
    assert _saves(cli) == [9]
    files = sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir())
    assert files == ["epoch0002-step9.ckpt", "last.ckpt"]
    state = torch.load(tmp_path / "run/checkpoints/last.ckpt", weights_only=True)
    assert state["global_step"] == 9


def test_zero_interval_saves_at_every_epoch_end_and_not_twice_at_the_end(tmp_path):
    cli = _fit(tmp_path, interval=0)
    assert _saves(cli) == [3, 6, 9]
    files = sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir())
    assert files == ["epoch0002-step9.ckpt", "last.ckpt"]  # top-1 keeps the newest


def test_negative_interval_is_refused():
    with pytest.raises(ConfigurationError, match="min_interval must be >= 0"):
        RunCheckpoint(min_interval=-1)
