"""W&B logging without a server (``WANDB_MODE=offline``; ``disabled`` is run by test_ddp.py): run name, config, files
under the run directory, checkpoints as artifacts, a stable run id across resumes, and no
collision between runs started in one directory."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest
import wandb
from jsonargparse import Namespace
from lightning.pytorch.loggers import WandbLogger

from lit_gen.cli import configure_wandb, run, stable_wandb_id

ROOT = Path(__file__).resolve().parents[1]
VAE = str(ROOT / "configs/quickstart/vae.yaml")
WANDB = str(ROOT / "configs/logger/wandb.yaml")


def _wandb_logger(cli) -> WandbLogger:
    return next(lg for lg in cli.trainer.loggers if isinstance(lg, WandbLogger))


def test_offline_runs_are_named_configured_separate_and_resumable(monkeypatch, fast_trainer_args):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_RUN_ID", raising=False)
    # wandb reads WANDB_MODE once per process (its settings singleton): say it explicitly too,
    # whatever an earlier test in this process used
    args = ["fit", "--config", VAE, "--config", WANDB, *fast_trainer_args, "--trainer.logger.init_args.mode=offline"]
    if wandb.run is not None:  # left open by an earlier test in this process (one run per process)
        wandb.run.finish()

    first = run([*args, "--trainer.logger.init_args.log_model=true", "--model.init_args.beta=2"])
    experiment = _wandb_logger(first).experiment
    run_dir = Path(first.run_dir)
    assert run_dir == Path("runs/quickstart_vae/version_0")
    assert experiment.name == "quickstart_vae/version_0"
    assert experiment.id == (run_dir / "wandb_id.txt").read_text().strip()
    assert Path(experiment.dir).resolve().is_relative_to((run_dir / "wandb").resolve())
    config = experiment.config
    assert config["config"]["model"]["init_args"]["beta"] == 2.0  # the full resolved config
    assert config["config"]["data"]["class_path"] == "lit_gen.data.DigitsDataModule"
    assert config["latent_dim"] == 8  # and the module's hyperparameters
    assert "val/elbo" in experiment.summary.keys()
    experiment.finish()
    # log_model=true: the checkpoint went into the offline run's log as a model artifact
    def offline_log() -> bytes:
        files = list((run_dir / "wandb").glob(f"offline-run-*-{experiment.id}/run-{experiment.id}.wandb"))
        return files[0].read_bytes() if files else b""

    for _ in range(120):  # W&B's service process writes the log asynchronously
        if f"model-{experiment.id}".encode() in offline_log():
            break
        time.sleep(0.5)
    log = offline_log()
    assert f"model-{experiment.id}".encode() in log and b"epoch0000-step2.ckpt" in log

    # a second run started in the same directory gets its own version, id and W&B files
    second = run(args)
    other = _wandb_logger(second).experiment
    assert Path(second.run_dir) == Path("runs/quickstart_vae/version_1")
    assert other.id != experiment.id and other.name == "quickstart_vae/version_1"
    assert Path(other.dir).resolve().is_relative_to(Path(second.run_dir, "wandb").resolve())
    other.finish()
    assert not Path("wandb").exists()  # nothing in the shared working directory

    # resuming into the first run directory continues the same W&B run
    resumed = run([*args, "--trainer.max_epochs=2", "--run_dir", str(run_dir),
                   "--ckpt_path", str(run_dir / "checkpoints/last.ckpt")])
    again = _wandb_logger(resumed).experiment
    assert again.id == experiment.id and resumed.trainer.global_step == 4
    again.finish()


def test_sweep_agent_run_id_is_left_to_the_agent(monkeypatch, tmp_path):
    """A W&B sweep agent sets WANDB_RUN_ID for each run it starts: lit-gen must not override it."""
    entry = Namespace(class_path="lightning.pytorch.loggers.WandbLogger",
                      init_args=Namespace(save_dir=".", name=None, id=None, version=None, dir=None, resume=None))
    monkeypatch.setenv("WANDB_RUN_ID", "agentrun1")
    configure_wandb(entry, "dcgan", str(tmp_path / "version_3"))
    assert entry.init_args.id is None and entry.init_args.resume == "allow"
    assert entry.init_args.save_dir == os.path.abspath(tmp_path / "version_3") and entry.init_args.name == "dcgan/version_3"
    monkeypatch.delenv("WANDB_RUN_ID")
    (tmp_path / "version_3").mkdir()
    configure_wandb(entry, "dcgan", str(tmp_path / "version_3"))
    assert entry.init_args.id == (tmp_path / "version_3/wandb_id.txt").read_text().strip()


def _ask_id(run_dir: str, queue) -> None:
    queue.put(stable_wandb_id(run_dir))


def test_stable_id_is_created_once_when_processes_race(tmp_path):
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=_ask_id, args=(str(tmp_path), queue)) for _ in range(4)]
    for p in processes:
        p.start()
    ids = {queue.get(timeout=60) for _ in processes}
    for p in processes:
        p.join()
    assert len(ids) == 1 and ids == {stable_wandb_id(str(tmp_path))}
    (only,) = ids
    assert len(only) == 8 and only.isalnum()


@pytest.mark.parametrize("log_model", ["false", "true", "all"])
def test_wandb_config_parses_with_log_model_choices(log_model, capsys):
    with pytest.raises(SystemExit) as info:
        run(["fit", "--config", VAE, "--config", WANDB, f"--trainer.logger.init_args.log_model={log_model}", "--print_config"])
    assert info.value.code == 0
    assert "lightning.pytorch.loggers.WandbLogger" in capsys.readouterr().out
