"""Image grids reach the run directory and the active loggers (TensorBoard, W&B offline)."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from lit_gen.cli import run

ROOT = Path(__file__).resolve().parents[1]


def test_grids_are_written_as_png_and_to_tensorboard(tmp_path, fast_trainer_args):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cli = run(["fit", "--config", str(ROOT / "configs/quickstart/denoising_autoencoder.yaml"), *fast_trainer_args,
               "--trainer.logger=TensorBoardLogger", f"--trainer.logger.init_args.save_dir={tmp_path / 'tb'}",
               "--run_dir", str(tmp_path / "run")])
    images = tmp_path / "run/images"
    names = sorted(p.name for p in images.iterdir())
    assert names == ["denoising_epoch0000.png", "reconstructions_epoch0000.png"]
    with Image.open(images / "denoising_epoch0000.png") as grid:
        # 3 rows (corrupted, denoised, clean) of 16 images, enlarged from 16 to 32 px
        assert grid.size == (16 * 34 + 2, 3 * 34 + 2)
    events = EventAccumulator(str(cli.trainer.loggers[1].log_dir), size_guidance={"images": 0})
    events.Reload()
    assert {"images/denoising", "images/reconstructions"} <= set(events.Tags()["images"])


def test_sample_grids_use_fixed_noise(tmp_path, fast_trainer_args):
    cli = run(["fit", "--config", str(ROOT / "configs/quickstart/vae.yaml"), *fast_trainer_args, "--run_dir", str(tmp_path / "run")])
    callback = next(c for c in cli.trainer.callbacks if type(c).__name__ == "ImageGrids")
    first = Image.open(callback.last_files["samples"]).copy()
    callback.write(cli.trainer, cli.model)  # again, same weights: same picture
    second = Image.open(callback.last_files["samples"]).copy()
    assert torch.equal(torch.tensor(list(first.getdata())), torch.tensor(list(second.getdata())))


def test_grids_reach_wandb_offline(tmp_path, fast_trainer_args, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run(["fit", "--config", str(ROOT / "configs/quickstart/vae.yaml"), *fast_trainer_args,
         "--trainer.logger=WandbLogger", f"--trainer.logger.init_args.save_dir={tmp_path}",
         "--trainer.logger.init_args.project=lit-gen-tests", "--run_dir", str(tmp_path / "run")])
    media = list((tmp_path / "wandb").glob("offline-run-*/files/media/images/images/*.png"))
    assert {p.name.split("_")[0] for p in media} == {"samples", "reconstructions"}
