"""Exact resume and faults: a run stopped and resumed ends with the same weights as an
uninterrupted run; a non-finite loss stops the run and keeps the last good checkpoint; a kill
while a checkpoint is being written leaves the previous one readable; checkpoints load with
``weights_only=True``."""

from __future__ import annotations

import csv
import os
import stat
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from lit_gen.checkpoint_io import _umask
from lit_gen.cli import main, run
from lit_gen.data import DigitsDataModule
from lit_gen.data.base import ResumableSampler

ROOT = Path(__file__).resolve().parents[1]
DENOISING = str(ROOT / "configs/quickstart/denoising_autoencoder.yaml")
VAE = str(ROOT / "configs/quickstart/vae.yaml")


class CtrlC(L.Callback):
    """Raises KeyboardInterrupt, as Ctrl-C would, once ``at_step`` optimizer steps are done."""

    def __init__(self, at_step: int = 3):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.at_step:
            raise KeyboardInterrupt


class PoisonWeights(L.Callback):
    """Sets every weight to NaN after ``at_step`` steps (a stand-in for a diverging run)."""

    def __init__(self, at_step: int = 7):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, pl_module, *args):
        if trainer.global_step == self.at_step:
            with torch.no_grad():
                for p in pl_module.parameters():
                    p.fill_(float("nan"))


def _args(config: str, run_dir: Path, epochs: int) -> list[str]:
    return [
        "fit", "--config", config, "--run_dir", str(run_dir),
        "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.deterministic=true",
        f"--trainer.max_epochs={epochs}", "--trainer.limit_train_batches=5",
        "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=1",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--data.init_args.batch_size=32",
    ]


def _weights(module: L.LightningModule) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("config", [DENOISING, pytest.param(VAE, marks=pytest.mark.slow)], ids=["denoising_autoencoder", "vae"])
def test_stopped_and_resumed_run_equals_an_uninterrupted_run(tmp_path, config):
    """Both models draw noise every step (corruption, reparameterization), so the random states,
    the data order within the epoch and the step counters must all be restored exactly."""
    reference = run(_args(config, tmp_path / "reference", epochs=3))
    assert reference.trainer.global_step == 15

    run_dir = tmp_path / "resumed"
    run(_args(config, run_dir, epochs=1))  # stops at the end of epoch 0: last.ckpt
    with pytest.raises(SystemExit):  # killed in the middle of epoch 1: interrupted.ckpt
        run([*_args(config, run_dir, epochs=3), "--ckpt_path", str(run_dir / "checkpoints/last.ckpt"),
             "--trainer.callbacks+=test_resume.CtrlC", "--trainer.callbacks.init_args.at_step=7"])
    resumed = run([*_args(config, run_dir, epochs=3), "--ckpt_path", str(run_dir / "checkpoints/interrupted.ckpt")])
    assert resumed.trainer.global_step == 15 and resumed.trainer.current_epoch == 3
    # metrics.csv keeps the rows of every segment (Lightning's CSVLogger would start it afresh)
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert {r["epoch"] for r in rows if r.get("val/loss")} == {"0", "1", "2"}

    expected, got = _weights(reference.model), _weights(resumed.model)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    # the optimizer's moments too
    assert torch.equal(
        reference.trainer.optimizers[0].state_dict()["state"][0]["exp_avg"],
        resumed.trainer.optimizers[0].state_dict()["state"][0]["exp_avg"],
    )


def test_sampler_skips_exactly_the_batches_already_seen():
    data = list(range(20))
    full = ResumableSampler(data, seed=3)
    full.set_epoch(2)
    order = list(full)
    assert sorted(order) == data  # a permutation
    resumed = ResumableSampler(data, seed=3)
    resumed.resume_at(epoch=2, samples=8)
    resumed.set_epoch(2)
    assert list(resumed) == order[8:]
    assert list(resumed) == order  # only the first pass skips
    other_epoch = ResumableSampler(data, seed=3)
    other_epoch.set_epoch(3)
    assert list(other_epoch) != order


def test_training_loader_order_ignores_the_global_rng():
    data = DigitsDataModule(batch_size=16)
    data.setup("fit")
    torch.manual_seed(0)
    first = next(iter(data.train_dataloader()))[0]
    torch.manual_seed(1)
    state = torch.get_rng_state()
    second = next(iter(data.train_dataloader()))[0]
    assert torch.equal(first, second)
    assert torch.equal(torch.get_rng_state(), state)  # creating the iterator drew nothing


def test_non_finite_loss_stops_with_step_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        main([*_args(DENOISING, run_dir, epochs=3), "--checkpoint_interval=0", "--trainer.callbacks+=test_resume.PoisonWeights",
              "--trainer.callbacks.init_args.at_step=7"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("lit-gen: error: training diverged: non-finite loss at step 7: loss = nan (epoch 1)")
    assert f"the last good checkpoint is {run_dir / 'checkpoints/last.ckpt'}" in err[-1]
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert checkpoints == ["epoch0000-step5.ckpt", "last.ckpt"]  # nothing written after step 7
    # checkpoints load with weights_only=True, random states and data position included
    state = torch.load(run_dir / "checkpoints/last.ckpt", weights_only=True)
    assert state["global_step"] == 5
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values())
    assert state["callbacks"]["RandomState"]["ranks"][0]["torch"].dtype == torch.uint8
    assert state["DigitsDataModule"] == {"epoch": 0, "batches": 5, "epoch_batches": 5, "batch_size": 32}
    assert stat.S_IMODE(os.stat(run_dir / "checkpoints/epoch0000-step5.ckpt").st_mode) == 0o666 & ~_umask()


KILL_DURING_WRITE = '''
import os
from lit_gen.checkpoint_io import AtomicCheckpointIO

class KilledDuringSecondWrite(AtomicCheckpointIO):
    """Writes half of the second checkpoint, then the process dies (SIGKILL: no cleanup)."""
    writes = 0

    def _write(self, checkpoint, file):
        type(self).writes += 1
        if type(self).writes < 2:
            return super()._write(checkpoint, file)
        import io, torch
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        file.flush()
        os.kill(os.getpid(), 9)
'''


def test_kill_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path):
    (tmp_path / "killing_io.py").write_text(KILL_DURING_WRITE)
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    args = [*_args(DENOISING, run_dir, epochs=3), "--checkpoint_interval=0"]  # a save per epoch
    result = subprocess.run(
        [sys.executable, "-m", "lit_gen", *args, "--trainer.plugins=killing_io.KilledDuringSecondWrite"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == -9, result.stderr[-2000:]
    files = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    # the interrupted write is a hidden temporary file; the previous checkpoint is untouched
    assert files[-2:] == ["epoch0000-step5.ckpt", "last.ckpt"] and files[0].startswith(".partial-"), files
    assert torch.load(run_dir / "checkpoints/last.ckpt", weights_only=True)["global_step"] == 5
    resumed = run([*args, "--ckpt_path", str(run_dir / "checkpoints/last.ckpt")])
    assert resumed.trainer.global_step == 15


def test_non_finite_guard_names_the_first_bad_step_and_loss_across_a_window():
    from types import SimpleNamespace

    from lit_gen.callbacks.fault_tolerance import NonFiniteLossGuard
    from lit_gen.errors import TrainingDivergedError

    trainer = SimpleNamespace(world_size=1, checkpoint_callback=None, current_epoch=4, global_step=0)
    guard = NonFiniteLossGuard(check_every_n_batches=4)
    values = [(1.0, 2.0), (1.5, None), (1.0, float("inf")), (float("nan"), 3.0)]
    for step, (d_loss, g_loss) in enumerate(values[:3]):  # fewer than 4 batches: not read yet
        trainer.global_step = 10 + step
        guard.on_train_batch_start(trainer, None, None, step)
        outputs = {"d_loss": torch.tensor(d_loss)} | ({} if g_loss is None else {"g_loss": torch.tensor([g_loss, 0.0])})
        guard.on_train_batch_end(trainer, None, outputs, None, step)
    trainer.global_step = 13
    guard.on_train_batch_start(trainer, None, None, 3)
    with pytest.raises(TrainingDivergedError, match=r"non-finite loss at step 12: g_loss = inf \(epoch 4\).*no checkpoint"):
        guard.on_train_batch_end(trainer, None, {"d_loss": torch.tensor(values[3][0])}, None, 3)
    guard.check(trainer)  # the window was consumed: nothing left to report
    finite = NonFiniteLossGuard(check_every_n_batches=1)
    finite.on_train_batch_end(trainer, None, torch.tensor(0.5), None, 0)  # a finite loss passes
