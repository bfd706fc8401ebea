"""Callbacks that make runs resumable exactly and stop them cleanly (added by the CLI by default).

* :class:`RandomState`: the global random generators (torch, CUDA, numpy, Python) of every rank
  are saved in each checkpoint and restored when training resumes, so the noise a model draws
  after a resume is the noise an uninterrupted run would have drawn. Under DDP each rank also
  gets its own stream (seed + rank), so ranks do not draw identical noise.
* :class:`NonFiniteLossGuard`: a NaN or infinite training loss stops the run with the step and
  the loss in the message, before any checkpoint is written with non-finite weights.
* :class:`InterruptCheckpoint`: Lightning's ``OnExceptionCheckpoint`` (Ctrl-C, SIGTERM, errors
  write ``checkpoints/interrupted.ckpt``), except after a divergence or a SLURM requeue.
* :class:`SlurmRequeue`: SLURM pre-emption (``sbatch --signal=SIGUSR1@90``). Lightning's own
  handler saves the HPC checkpoint inside the signal handler, at whatever point of the step the
  signal arrives (possibly between an optimizer step and the step counter's update, or on one
  DDP rank while another is inside a collective). This callback only records the signal, and
  at the next batch boundary, once all ranks agree, saves ``hpc_ckpt_<N>.ckpt`` in the run
  directory, runs ``scontrol requeue`` and stops. The requeued job (same job id, hence the same
  run directory) resumes from it through Lightning's HPC-checkpoint lookup.
"""

from __future__ import annotations

import logging
import os
import random
import re
import signal
import subprocess
from collections.abc import Mapping
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import OnExceptionCheckpoint
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor

from lit_gen.errors import TrainingDivergedError

log = logging.getLogger(__name__)


# -- random state ------------------------------------------------------------------------------
def collect_rng_states() -> dict[str, Any]:
    """This process's global random states, in types ``torch.load(weights_only=True)`` accepts
    (numpy's key array becomes a tensor)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "torch.cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }


def set_rng_states(states: Mapping[str, Any]) -> None:
    """Restore what :func:`collect_rng_states` returned."""
    torch.set_rng_state(states["torch"])
    if states.get("torch.cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch.cuda"])
    name, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, state, gauss = states["python"]
    random.setstate((version, tuple(state), gauss))


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class RandomState(L.Callback):
    """Save and restore the global random generators of every rank (see the module docstring).

    The states are captured when a checkpoint is written and put back at ``on_train_start`` of
    the resumed run, after Lightning has built the data loaders and run its sanity check, i.e.
    at the point the interrupted run had reached. Resuming with a different number of processes
    keeps training going but cannot be exact; a warning says so.
    """

    def __init__(self) -> None:
        self._to_restore: dict[str, Any] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Under DDP every rank was seeded alike (the weights must start equal, and DDP broadcasts
        # them anyway); from here on each rank draws its own noise.
        seed = os.environ.get("PL_GLOBAL_SEED")
        if stage == "fit" and trainer.world_size > 1 and seed is not None:
            _seed_all(int(seed) * 1009 + 1 + trainer.global_rank)

    def state_dict(self) -> dict[str, Any]:
        states = collect_rng_states()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # Every rank writes the checkpoint's content (rank 0 saves it): gather all ranks'.
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, states)
            return {"ranks": gathered}
        return {"ranks": [states]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._to_restore = dict(state_dict)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._to_restore is None:
            return
        ranks = self._to_restore["ranks"]
        self._to_restore = None
        if len(ranks) != trainer.world_size:
            rank_zero_warn(
                f"the checkpoint holds the random states of {len(ranks)} process(es) but this run "
                f"has {trainer.world_size}: training resumes, but not as the interrupted run "
                "would have continued"
            )
            return
        set_rng_states(ranks[trainer.global_rank])


# -- non-finite losses -------------------------------------------------------------------------
def _loss_tensors(outputs: Any) -> dict[str, Tensor]:
    """The loss tensors of a ``training_step`` output: the tensor itself, or a dict's tensors."""
    if isinstance(outputs, Tensor):
        return {"loss": outputs}
    if isinstance(outputs, Mapping):
        return {str(k): v for k, v in outputs.items() if isinstance(v, Tensor) and v.is_floating_point()}
    return {}


class NonFiniteLossGuard(L.Callback):
    """Stop training when a loss returned by ``training_step`` becomes NaN or infinite.

    Each batch's losses are only kept (detached: no device work, no host synchronization per
    batch); they are checked together, with one reduction and one read on the host, every
    ``check_every_n_batches`` batches, before every checkpoint is written, and at the end of
    training. The message names the first bad step and the loss value; no checkpoint is written
    after it, so the newest checkpoint on disk is the last good one.

    Modules with manual optimization should return their losses as a dict from
    ``training_step`` (e.g. ``{"d_loss": ..., "g_loss": ...}``) for this guard to see them.

    Args:
        check_every_n_batches: how often the kept losses are checked on the host.
    """

    def __init__(self, check_every_n_batches: int = 10):
        self.check_every_n_batches = check_every_n_batches
        # The detached losses since the last check, as (global step, {name: tensor}): keeping
        # references costs no device work per batch; they are reduced once per check.
        self._pending: list[tuple[int, dict[str, Tensor]]] = []
        self._step = 0
        self._batches = 0  # counted on every rank alike, so DDP ranks check in the same batches

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._step = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        losses = _loss_tensors(outputs)
        if losses:
            self._pending.append((self._step, {name: value.detach() for name, value in losses.items()}))
        self._batches += 1
        if self._batches % self.check_every_n_batches == 0:
            self.check(trainer)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        self.check(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self.check(trainer)

    def check(self, trainer: L.Trainer) -> None:
        """Raise :class:`TrainingDivergedError` if a non-finite loss was seen (on any rank)."""
        local = None
        pending, self._pending = self._pending, []
        if pending:
            # One reduction on the device, one transfer: is each pending batch's sum finite (a
            # sum is non-finite iff one of its elements is)?
            finite = torch.stack([
                torch.stack([v.float().sum() for v in values.values()]).isfinite().all()
                for _, values in pending
            ]).cpu()
            if not bool(finite.all()):
                step, values = pending[int((~finite).nonzero()[0])]
                name, value = next((n, v) for n, v in values.items() if not bool(v.float().sum().isfinite()))
                local = (step, name, float(value.float().sum()))
        diverged = local is not None
        if trainer.world_size > 1:
            diverged = trainer.strategy.reduce_boolean_decision(diverged, all=False)
        if not diverged:
            return
        if local is None:
            detail = "a non-finite loss on another process"
        else:
            step, name, value = local
            detail = f"non-finite loss at step {step}: {name} = {value}"
        checkpoint = getattr(trainer.checkpoint_callback, "last_model_path", "") or getattr(
            trainer.checkpoint_callback, "best_model_path", ""
        )
        kept = f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint had been written yet"
        raise TrainingDivergedError(
            f"training diverged: {detail} (epoch {trainer.current_epoch}); training stopped and "
            f"{kept}. Lower the learning rate or check the data."
        )


# -- interruptions -----------------------------------------------------------------------------
class Requeued(Exception):  # noqa: N818 (not an error: the job continues in its requeued run)
    """Training stopped after saving an HPC checkpoint and requesting a SLURM requeue."""

    def __init__(self, checkpoint: str, job: str, requeued: bool):
        self.checkpoint = checkpoint
        self.job = job
        self.requeued = requeued
        action = f"job {job} requeued" if requeued else f"requeueing job {job} FAILED (scontrol)"
        super().__init__(f"pre-emption signal: saved {checkpoint}; {action}")


class InterruptCheckpoint(OnExceptionCheckpoint):
    """``OnExceptionCheckpoint`` (writes ``interrupted.ckpt`` on Ctrl-C, SIGTERM or an error),
    except after a divergence (the weights are not finite) or a requeue (the HPC checkpoint was
    just written)."""

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, TrainingDivergedError | Requeued):
            return
        super().on_exception(trainer, pl_module, exception)


def slurm_job_id() -> str | None:
    """``<array job>_<task>`` for array jobs, else the job id (what ``scontrol requeue`` takes)."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_job is not None and os.environ.get("SLURM_ARRAY_TASK_ID") is not None:
        return f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


class SlurmRequeue(L.Callback):
    """Save, requeue and stop at a batch boundary when SLURM signals the end of the time limit.

    Active when Lightning detects SLURM with ``auto_requeue`` (its default). It takes over the
    requeue signal (``SIGUSR1`` unless the ``SLURMEnvironment`` plugin says otherwise) before
    Lightning registers its own handler, which then stands aside.

    Args:
        check_every_n_batches: how often ranks agree on whether the signal arrived (one small
            all-reduce under DDP). With ``--signal=SIGUSR1@90`` there are 90 s to react.
    """

    def __init__(self, check_every_n_batches: int = 1):
        self.check_every_n_batches = check_every_n_batches
        self.signal_received = False
        self._signal: int | None = None
        self._previous: Any = None
        self._batches = 0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        environment = getattr(trainer._accelerator_connector, "cluster_environment", None)
        if stage != "fit" or not isinstance(environment, SLURMEnvironment) or not environment.auto_requeue:
            return
        if os.name == "nt" or environment.requeue_signal is None:
            return
        self._signal = environment.requeue_signal
        self._previous = signal.signal(self._signal, self._on_signal)
        log.info("lit-gen: SLURM requeue on %s at the next batch boundary", signal.Signals(self._signal).name)

    def _on_signal(self, signum, frame) -> None:
        # Only a flag: saving here could catch the step half done.
        self.signal_received = True

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._signal is not None:
            signal.signal(self._signal, self._previous if self._previous is not None else signal.SIG_DFL)
            self._signal = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._signal is None:
            return
        self._batches += 1
        if self._batches % self.check_every_n_batches:
            return
        received = self.signal_received
        if trainer.world_size > 1:
            received = trainer.strategy.reduce_boolean_decision(received, all=False)
        if not received:
            return
        path = trainer._checkpoint_connector.hpc_save_path(trainer.default_root_dir)
        trainer.save_checkpoint(path)
        job = slurm_job_id() or "?"
        requeued = True
        if trainer.is_global_zero:
            if not re.fullmatch(r"[0-9_]+", job):
                raise RuntimeError(f"unexpected SLURM job id {job!r}")
            rank_zero_info(f"lit-gen: pre-emption signal, saved {path}; requeueing job {job}")
            result = subprocess.run(["scontrol", "requeue", job], check=False)
            requeued = result.returncode == 0
        raise Requeued(path, job, requeued)
