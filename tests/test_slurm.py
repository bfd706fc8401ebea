"""SLURM: (1) Lightning's SLURM detection with a fake SLURM environment and a stub ``scontrol``:
SIGUSR1 mid-training writes the HPC checkpoint at a batch boundary, a requeue is requested, and
the next start of the same job resumes from it, exactly; (2) a real one-node SLURM cluster
(started by the test as root): ``sbatch slurm/train.sbatch`` runs lit-gen DDP with 2 tasks, is
signalled mid-training, requeues itself and the requeued job resumes and completes.

(2) runs when SLURM is installed and the test can start its daemons. ``.ci/run`` installs SLURM
and sets ``LIT_GEN_REQUIRE_SLURM=1``: then a cluster that cannot start FAILS the test. Elsewhere
(a laptop without SLURM or root) the test is skipped with the reason, which pytest's ``-ra``
summary prints ("SKIPPED ... real SLURM cluster test NOT RUN: ...").
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from lit_gen.cli import EXIT_REQUEUED, run

ROOT = Path(__file__).resolve().parents[1]
DENOISING = str(ROOT / "configs/quickstart/denoising_autoencoder.yaml")
VAE = str(ROOT / "configs/quickstart/vae.yaml")


class SendSignal(L.Callback):
    """Sends SIGUSR1 to this process after ``at_step`` steps (what SLURM's --signal does)."""

    def __init__(self, at_step: int = 7):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.at_step:
            os.kill(os.getpid(), signal.SIGUSR1)


def _fit_args(epochs: int = 3) -> list[str]:
    return [
        "fit", "--config", DENOISING, "--trainer.accelerator=cpu", "--trainer.devices=1",
        "--trainer.deterministic=true", f"--trainer.max_epochs={epochs}", "--trainer.limit_train_batches=5",
        "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=0",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--data.init_args.batch_size=32",
    ]


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """The environment of task 0 of a 1-task SLURM job, and an ``scontrol`` that records calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "scontrol_calls.txt"
    stub = bin_dir / "scontrol"
    stub.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for key, value in {
        "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "lit-gen", "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1",
        "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_JOB_NUM_NODES": "1",
        "SLURM_NODELIST": "localhost",
    }.items():
        monkeypatch.setenv(key, value)
    return calls


def test_fake_slurm_signal_saves_requeues_and_the_next_start_resumes_exactly(tmp_path, fake_slurm, monkeypatch):
    with monkeypatch.context() as outside_slurm:
        for key in [k for k in os.environ if k.startswith("SLURM_")]:
            outside_slurm.delenv(key)
        reference = run([*_fit_args(), "--run_dir", str(tmp_path / "reference")])

    with pytest.raises(SystemExit) as info:
        run([*_fit_args(), "--trainer.callbacks+=test_slurm.SendSignal", "--trainer.callbacks.init_args.at_step=7"])
    assert info.value.code == EXIT_REQUEUED
    assert fake_slurm.read_text().split() == ["requeue", "4242"]
    (run_dir,) = Path("runs").glob("*/slurm_4242")
    assert (run_dir / "hpc_ckpt_1.ckpt").is_file()
    assert not (run_dir / "checkpoints/interrupted.ckpt").exists()
    assert torch.load(run_dir / "hpc_ckpt_1.ckpt", weights_only=True)["global_step"] == 7

    # The requeued job: same job id, no --ckpt_path; Lightning finds the HPC checkpoint.
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    resumed = run(_fit_args())
    assert Path(resumed.run_dir) == run_dir
    assert resumed.trainer.global_step == 15
    assert fake_slurm.read_text().split() == ["requeue", "4242"]  # no second requeue
    for name, value in reference.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name


def test_fake_slurm_array_task_uses_its_own_directory_and_job_id(tmp_path, fake_slurm, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4240")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    with pytest.raises(SystemExit) as info:
        run([*_fit_args(epochs=1), "--trainer.callbacks+=test_slurm.SendSignal", "--trainer.callbacks.init_args.at_step=2"])
    assert info.value.code == EXIT_REQUEUED
    assert fake_slurm.read_text().split() == ["requeue", "4240_3"]
    (run_dir,) = Path("runs").glob("*/slurm_4240_3")
    assert (run_dir / "hpc_ckpt_1.ckpt").is_file()


# -- a real SLURM cluster ----------------------------------------------------------------------
class SignalThroughSlurm(L.Callback):
    """In the first run of the job only: rank 0 asks SLURM to send SIGUSR1 to every task
    (``scancel --signal=USR1``, as ``--signal=SIGUSR1@90`` would near the time limit); every
    rank then waits until the signal has reached it, so the run is interrupted at this step."""

    def __init__(self, at_step: int = 6):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step != self.at_step or os.environ.get("SLURM_RESTART_COUNT", "0") != "0":
            return
        import subprocess

        if trainer.is_global_zero:
            subprocess.run(["scancel", "--signal=USR1", os.environ["SLURM_JOB_ID"]], check=True)
        requeue = next(c for c in trainer.callbacks if type(c).__name__ == "SlurmRequeue")
        deadline = time.time() + 60
        while not requeue.signal_received and time.time() < deadline:
            time.sleep(0.05)


class SaveRankWeights(L.Callback):
    def on_fit_end(self, trainer, pl_module):
        torch.save({k: v.detach().cpu() for k, v in pl_module.state_dict().items()},
                   os.path.join(trainer.default_root_dir, f"weights_rank{trainer.global_rank}.pt"))


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    from slurm_cluster import ClusterUnavailable, start_cluster

    try:
        cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
    except ClusterUnavailable as reason:
        if os.environ.get("LIT_GEN_REQUIRE_SLURM") == "1":
            pytest.fail(f"real SLURM cluster test could not start its cluster: {reason}")
        pytest.skip(f"real SLURM cluster test NOT RUN: {reason}")
    yield cluster
    cluster.stop()


def test_real_slurm_ddp_job_is_requeued_and_resumes(slurm_cluster, tmp_path):
    cluster = slurm_cluster
    env = {**cluster.env, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
           "LIT_GEN": f"{sys.executable} -m lit_gen", "LIT_GEN_CONFIGS": str(ROOT / "configs"),
           "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    cluster.env = env
    output = tmp_path / "job.out"
    submitted = cluster.run(
        "sbatch", "--parsable", "--ntasks-per-node=2", "--cpus-per-task=1", "--gpus-per-node=0",
        f"--output={output}", f"--chdir={tmp_path}", str(ROOT / "slurm/train.sbatch"), VAE,
        # CPU stand-ins for the GPU settings of configs/trainer/slurm.yaml
        "--trainer.accelerator=cpu", "--trainer.precision=32-true", "--trainer.strategy=ddp",
        "--name=slurm_test", "--trainer.max_epochs=2", "--trainer.limit_train_batches=5",
        "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=0",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.callbacks+=test_slurm.SignalThroughSlurm", "--trainer.callbacks+=test_slurm.SaveRankWeights",
    )
    job = submitted.strip().split(";")[0]
    run_dir = tmp_path / "runs/slurm_test" / f"slurm_{job}"  # the job runs in --chdir
    deadline = time.time() + 480
    state: dict[str, str] = {}
    while time.time() < deadline:
        state = cluster.job(job)
        if state.get("JobState") == "PENDING" and state.get("Restarts") == "1" and state.get("Reason") == "BeginTime":
            # SLURM holds a requeued job for ~2 minutes; let it start now.
            cluster.run("scontrol", "update", f"JobId={job}", "StartTime=now")
        if state.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
            break
        time.sleep(1)
    log = output.read_text() if output.exists() else ""
    assert state.get("JobState") == "COMPLETED", f"{state}\n{log[-4000:]}\n{cluster.logs()}"
    assert state.get("Restarts") == "1", log[-4000:]
    assert "restart 0 on 1 node(s) x 2 task(s)" in log and "restart 1 on 1 node(s) x 2 task(s)" in log
    assert f"lit-gen: pre-emption signal: saved runs/slurm_test/slurm_{job}/hpc_ckpt_1.ckpt; job {job} requeued" in log, log[-4000:]
    assert "hpc_ckpt_1.ckpt" in log.split("restart 1 on")[1]  # the requeued run restored it
    checkpoint = torch.load(run_dir / "hpc_ckpt_1.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 6
    final = torch.load(run_dir / "checkpoints/last.ckpt", weights_only=True)
    # written at the end of training (a short run saves no epoch-end checkpoint within the
    # --checkpoint_interval), where Lightning counts both epochs as completed
    assert final["global_step"] == 10 and final["epoch"] == 2
    rank0, rank1 = (torch.load(run_dir / f"weights_rank{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
