"""The clock of the throughput benchmarks (``vae_throughput.py``, ``gan_throughput.py``).

:class:`RunTimer` measures a Lightning run's steady state: from the start of the first training
batch to ``on_train_end``, so every step and every epoch boundary (logging, checkpoint decisions,
progress-bar redraws) is inside, while start-up (parsing, building, the first iterator) and the
end-of-run one-offs (the final checkpoint, closing the progress bar, whose refresh thread sleeps
up to ``1 / refresh_rate`` s before it can be joined) are outside, as they are for the plain
loop. The one-offs are reported separately (:attr:`RunTimer.end_of_run`).

It must come first among the trainer's callbacks (``--trainer.callbacks+=`` puts it before the
CLI's defaults) for ``on_train_end`` to stop the clock before the other callbacks' end-of-run work.
"""

from __future__ import annotations

import time

import lightning as L


class RunTimer(L.Callback):
    """Wall and CPU (process) time from the first training batch to ``on_train_end``."""

    def __init__(self):
        self.start: tuple[float, float] | None = None
        self.end: tuple[float, float] | None = None

    def on_train_batch_start(self, *args) -> None:
        if self.start is None:
            self.start = time.perf_counter(), time.process_time()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.callbacks[0] is not self:
            raise RuntimeError("RunTimer must be the trainer's first callback")
        self.end = time.perf_counter(), time.process_time()

    @property
    def wall(self) -> float:
        return self.end[0] - self.start[0]

    @property
    def cpu(self) -> float:
        return self.end[1] - self.start[1]

    def end_of_run(self) -> float:
        """Wall seconds from ``on_train_end`` to now (call right after ``fit`` returns)."""
        return time.perf_counter() - self.end[0]


def fit_bare(model: L.LightningModule, data: L.LightningDataModule, epochs: int) -> tuple[L.Trainer, RunTimer]:
    """Train under a stock ``lightning.Trainer`` with everything optional off (no logger,
    progress bar, checkpoints or lit-gen callbacks; validation off): Lightning's own cost."""
    timer = RunTimer()
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_progress_bar=False,
        enable_checkpointing=False, enable_model_summary=False, limit_val_batches=0,
        num_sanity_val_steps=0, callbacks=[timer],
    )
    trainer.fit(model, datamodule=data)
    return trainer, timer
