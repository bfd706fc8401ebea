"""The default progress bar reads the logged metrics only on the batches it redraws, and ends
each epoch showing what Lightning's own ``RichProgressBar`` shows."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import RichProgressBar

from lit_gen.callbacks import ThrottledRichProgressBar
from lit_gen.data import DigitsDataModule
from lit_gen.models import AutoEncoder


def _fit(bar_class, batches: int) -> tuple[int, dict]:
    class Counting(bar_class):
        reads = 0

        def get_metrics(self, trainer, pl_module):
            Counting.reads += 1
            return super().get_metrics(trainer, pl_module)

    bar = Counting(refresh_rate=5)
    L.seed_everything(0, verbose=False)
    data = DigitsDataModule(image_size=8, batch_size=32)
    model = AutoEncoder(data.data_shape, tuple(data.value_range), latent_dim=4, hidden=[16])
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=2, limit_train_batches=batches, limit_val_batches=0,
        logger=False, enable_checkpointing=False, enable_model_summary=False,
        log_every_n_steps=1, callbacks=[bar],
    )
    trainer.fit(model, datamodule=data)
    shown = {k: v for k, v in bar._metric_component._metrics.items()}
    return Counting.reads, shown


def test_metrics_are_read_only_on_redrawn_batches_and_end_identical():
    batches = 7  # redrawn at batch 5 and 7 (the epoch's last), plus at the epoch end
    stock_reads, stock_shown = _fit(RichProgressBar, batches)
    reads, shown = _fit(ThrottledRichProgressBar, batches)
    assert stock_reads >= 2 * (batches + 1)
    assert reads == 2 * (2 + 1)
    assert shown.keys() == stock_shown.keys() and "train/loss" in shown
    for key, value in stock_shown.items():
        assert torch.isclose(torch.tensor(float(shown[key])), torch.tensor(float(value))), key
