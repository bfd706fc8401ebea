"""The progress bar the CLI adds by default.

Lightning's ``RichProgressBar`` honours ``refresh_rate`` for the bar itself but reads the
logged metrics on every training batch (``_update_metrics`` converts each one with
``.item()``): a host-device synchronisation per step on GPU and Python work per step on CPU,
whatever the refresh rate. :class:`ThrottledRichProgressBar` does the whole per-batch update only on the
batches where the bar would be redrawn (every ``refresh_rate`` batches and the epoch's last),
so what is shown is identical and the other batches cost nothing.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import RichProgressBar


class ThrottledRichProgressBar(RichProgressBar):
    """``RichProgressBar`` whose per-batch work follows ``refresh_rate`` (see the module docstring)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = batch_idx + 1
        total = self.total_train_batches
        if done % self.refresh_rate == 0 or (isinstance(total, int) and done >= total):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
