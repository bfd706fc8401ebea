"""DDP with 2 CPU processes (gloo), started the way a user starts it (``lit-gen fit ... --config
configs/trainer/ddp.yaml``): the data is sharded, ranks draw different noise, only rank 0 writes
files, epoch metrics cover all ranks (equal to a single-process evaluation of the same weights),
and the final weights are identical on both ranks. Plus bf16 mixed precision on CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from lit_gen.cli import run

ROOT = Path(__file__).resolve().parents[1]
DDP = str(ROOT / "configs/trainer/ddp.yaml")


class RankProbe(L.Callback):
    """Writes what each rank saw to ``<run_dir>/probe_rank<R>.pt`` (test instrumentation only)."""

    def __init__(self):
        self.indices: dict[int, list[int]] = {}
        self.noise = None

    def on_train_start(self, trainer, pl_module):
        self.noise = torch.randn(4)

    def on_train_epoch_start(self, trainer, pl_module):
        sampler = trainer.train_dataloader.sampler
        self.indices[trainer.current_epoch] = list(iter(sampler))

    def on_fit_end(self, trainer, pl_module):
        torch.save(
            {
                "world_size": trainer.world_size,
                "state_dict": {k: v.detach().cpu() for k, v in pl_module.state_dict().items()},
                "indices": self.indices,
                "noise": self.noise,
                "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()},
                "dataset_size": len(trainer.datamodule.train_set),
            },
            os.path.join(trainer.default_root_dir, f"probe_rank{trainer.global_rank}.pt"),
        )


def ddp_fit(config: str, cwd: Path, *extra: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``lit-gen fit`` with 2 CPU processes, as a user would start it (in a fresh interpreter)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
           "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    args = [
        sys.executable, "-m", "lit_gen", "fit", "--config", config, "--config", DDP,
        "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.precision=32-true",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.callbacks+=test_ddp.RankProbe", *extra,
    ]
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    ("config", "metric", "strategy"),
    [
        # metrics without sampling noise (the KL is closed-form; PSNR of clean reconstructions)
        ("configs/quickstart/vae.yaml", "val/kl", "ddp"),
        pytest.param("configs/quickstart/denoising_autoencoder.yaml", "val/psnr", "ddp_find_unused_parameters_true", marks=pytest.mark.slow),
    ],
    ids=["vae", "denoising_autoencoder"],
)
def test_ddp_two_processes_agree_and_only_rank0_writes(tmp_path, config, metric, strategy):
    # with the W&B logger in WANDB_MODE=disabled (set by ddp_fit), as a user without an account
    result = ddp_fit(str(ROOT / config), tmp_path, "--config", str(ROOT / "configs/logger/wandb.yaml"),
                     f"--trainer.strategy={strategy}", "--trainer.max_epochs=2",
                     "--trainer.limit_train_batches=4", "--trainer.num_sanity_val_steps=0")
    assert result.returncode == 0, result.stderr[-3000:]

    # one run directory (rank 1 re-ran the command and found rank 0's), written once
    (name_dir,) = (tmp_path / "runs").iterdir()
    assert [p.name for p in name_dir.iterdir()] == ["version_0"]
    run_dir = name_dir / "version_0"
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["epoch0001-step8.ckpt", "last.ckpt"]
    assert len(list((run_dir / "images").glob("samples_epoch*.png"))) == 2
    assert not (tmp_path / "lightning_logs").exists()
    assert (run_dir / "wandb_id.txt").is_file() and not list(run_dir.glob("wandb/*run-*"))  # disabled: no run

    rank0, rank1 = (torch.load(run_dir / f"probe_rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0["world_size"] == rank1["world_size"] == 2
    # the final weights agree exactly
    for key, value in rank0["state_dict"].items():
        assert torch.equal(value, rank1["state_dict"][key]), key
    # distributed sampling: halves of the training set (an odd size pads one index, as torch's
    # DistributedSampler does), reshuffled every epoch
    size = rank0["dataset_size"]
    for epoch in (0, 1):
        first, second = rank0["indices"][epoch], rank1["indices"][epoch]
        assert len(first) == len(second) == (size + 1) // 2
        assert len(set(first) & set(second)) == size % 2
        assert set(first) | set(second) == set(range(size))
    assert rank0["indices"][0] != rank0["indices"][1]
    # each rank draws its own noise
    assert not torch.equal(rank0["noise"], rank1["noise"])
    # epoch metrics are over all ranks: the same as evaluating the final weights in one process
    assert rank0["metrics"][metric] == pytest.approx(rank1["metrics"][metric], abs=1e-6)
    single = run(["validate", "--config", str(ROOT / config), "--trainer.accelerator=cpu", "--trainer.devices=1",
                  "--trainer.enable_progress_bar=false", "--ckpt_path", str(run_dir / "checkpoints/last.ckpt"),
                  "--run_dir", str(tmp_path / "single")])
    assert single.trainer.callback_metrics[metric].item() == pytest.approx(rank0["metrics"][metric], rel=1e-5)


@pytest.mark.parametrize("config", ["configs/quickstart/autoencoder.yaml", "configs/quickstart/vae.yaml"])
def test_bf16_mixed_precision_trains_with_fp32_weights(config, fast_trainer_args):
    cli = run(["fit", "--config", str(ROOT / config), *fast_trainer_args, "--trainer.precision=bf16-mixed",
               "--trainer.limit_train_batches=3"])
    assert cli.trainer.precision == "bf16-mixed" and cli.trainer.global_step == 3
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in cli.model.parameters())
    assert torch.isfinite(cli.trainer.callback_metrics["val/loss"])
