"""Run GenerativeMetrics under DDP (gloo, CPU) and write each rank's logged values.

    python tests/ddp_metrics_script.py <out_dir> <devices>
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
import torch
from metrics_models import TinyGenerator

from lit_gen.callbacks import GenerativeMetrics
from lit_gen.data import DigitsDataModule


def main(out_dir: str, devices: int) -> None:
    torch.set_num_threads(1)
    metrics = GenerativeMetrics(num_samples=300, batch_size=64, metrics=["fid", "is", "prc"], cache_dir=f"{out_dir}/cache")
    trainer = L.Trainer(
        accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto", logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[metrics], limit_val_batches=1,
    )
    trainer.validate(TinyGenerator(seed=3), datamodule=DigitsDataModule(image_size=16, batch_size=32))
    record = {
        "rank": trainer.global_rank,
        "world_size": trainer.world_size,
        "computed": metrics.last_results["val"]["metrics"],
        "logged": {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")},
    }
    Path(out_dir, f"rank{trainer.global_rank}_of{trainer.world_size}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
