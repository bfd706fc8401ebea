"""The run's checkpoint callback: one checkpoint per epoch, but not more often than every
``min_interval`` seconds, and always one at the end of training.

On the embedded digits an epoch is 19 batches and a fraction of a second, and writing the
checkpoint (the networks, the optimizers' moments, random states, the data position) was
measured as lit-gen's largest cost over bare Lightning (benchmarks/RESULTS.md, VAE throughput).
With ``min_interval`` > 0, an epoch end saves only when that many seconds have passed since the
previous checkpoint (or since training started); the end of ``fit`` always saves, and
interruptions and SLURM pre-emption save through their own callbacks, so a run killed without
warning (SIGKILL, node failure) loses at most ``min_interval`` seconds plus one epoch of training.
Under DDP rank 0's clock decides for all ranks (saving is collective).
"""

from __future__ import annotations

import time

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lit_gen.errors import ConfigurationError


class RunCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` with a minimum interval between epoch-end saves and a save at the end
    of training when the newest step is not saved yet (see the module docstring).

    Args:
        min_interval: seconds; 0 saves at every epoch end (Lightning's behaviour).
        *args, **kwargs: ``ModelCheckpoint``'s.
    """

    def __init__(self, *args, min_interval: float = 0.0, **kwargs):
        if min_interval < 0:
            raise ConfigurationError(f"checkpoint min_interval must be >= 0 seconds, got {min_interval}")
        super().__init__(*args, **kwargs)
        self.min_interval = float(min_interval)
        self._last_save_time: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self._last_save_time = time.monotonic()

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        self._last_save_time = time.monotonic()

    def _too_soon(self, trainer) -> bool:
        if self.min_interval <= 0 or self._last_save_time is None:
            return False
        too_soon = time.monotonic() - self._last_save_time < self.min_interval
        return bool(trainer.strategy.broadcast(too_soon, src=0)) if trainer.world_size > 1 else too_soon

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._too_soon(trainer):
            return
        super().on_train_epoch_end(trainer, pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        if not self._should_skip_saving_checkpoint(trainer):
            candidates = self._monitor_candidates(trainer)
            # Lightning has already counted the last epoch as completed here; name the file after
            # the index of the epoch that ran, as an epoch-end save would.
            candidates["epoch"] = torch.tensor(max(trainer.current_epoch - 1, 0))
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)
        super().on_train_end(trainer, pl_module)
