"""The ``lit-gen`` command: a LightningCLI for lit-gen's models and data.

    lit-gen fit --config configs/quickstart/vae.yaml
    lit-gen fit --config configs/vae.yaml --config configs/trainer/gpu.yaml --model.init_args.beta=4
    lit-gen test --config configs/quickstart/vae.yaml --ckpt_path runs/vae/version_0/checkpoints/last.ckpt
    lit-gen predict --config configs/quickstart/cyclegan.yaml --ckpt_path <run>/checkpoints/last.ckpt \
        --data.init_args.predict_dir=<folder of images>

Every run writes to one run directory (``--run_dir``, default ``runs/<name>/version_<N>``):
``config.yaml`` (the full resolved config), ``metrics.csv``, ``checkpoints/`` (``last.ckpt``
and one per epoch as configured) and ``images/`` (sample and reconstruction grids);
``predict`` writes its images to ``predictions/``.
Under SLURM the default is ``runs/<name>/slurm_<job id>``, stable across requeues, so a
requeued job finds its checkpoint (and its W&B run: the W&B run id is kept in the run directory,
``wandb_id.txt``). The data module's ``data_shape`` and ``value_range``
are linked into the model, so configs never repeat them. (``num_classes`` is not linked: a link
would also reach models that have no such argument; conditional models take it explicitly and
check it against the data module in ``setup``.)
"""

from __future__ import annotations

import importlib
import json
import os
import re
import secrets
import string
import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import (
    BasePredictionWriter,
    Checkpoint,
    OnExceptionCheckpoint,
    ProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.callbacks.progress.rich_progress import _RICH_AVAILABLE
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities import rank_zero_warn

import lit_gen.data  # noqa: F401  (registers the data modules as known subclasses)
import lit_gen.models  # noqa: F401  (registers the models as known subclasses)
from lit_gen.callbacks.checkpoint import RunCheckpoint
from lit_gen.callbacks.fault_tolerance import (
    InterruptCheckpoint,
    NonFiniteLossGuard,
    RandomState,
    Requeued,
    SlurmRequeue,
)
from lit_gen.callbacks.images import ImageGrids
from lit_gen.callbacks.predictions import PredictionWriter
from lit_gen.callbacks.progress import ThrottledRichProgressBar
from lit_gen.checkpoint_io import AtomicCheckpointIO
from lit_gen.errors import ConfigurationError, UserError
from lit_gen.loggers import RunCSVLogger

RUN_DIR_ENV = "LIT_GEN_RUN_DIR"
WANDB_ID_FILE = "wandb_id.txt"
#: exit status after a SLURM pre-emption (sysexits' EX_TEMPFAIL: "try again later").
EXIT_REQUEUED = 75


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _allocate_version(base: Path) -> Path:
    """Create and return ``base/version_<N>`` with the next free N (safe when several runs
    start at once: the directory is created atomically)."""
    base.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in base.iterdir() if (m := re.fullmatch(r"version_(\d+)", p.name))]
    version = max(numbers, default=-1) + 1
    while True:
        candidate = base / f"version_{version}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            version += 1


def resolve_run_dir(name: str, run_dir: str | None, root: str = "runs") -> str:
    """The run directory: explicit ``run_dir``; else the one exported to DDP child processes;
    else ``<root>/<name>/slurm_<job>`` under SLURM (stable across requeues, shared by all
    tasks); else a new ``<root>/<name>/version_<N>``."""
    if run_dir:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        return str(run_dir)
    if os.environ.get(RUN_DIR_ENV):
        return os.environ[RUN_DIR_ENV]
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    if job and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        task = os.environ.get("SLURM_ARRAY_TASK_ID")
        path = Path(root) / name / (f"slurm_{job}_{task}" if task and os.environ.get("SLURM_ARRAY_JOB_ID") else f"slurm_{job}")
        path.mkdir(parents=True, exist_ok=True)
        return str(path)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigurationError(
            "this process was started by an external launcher (WORLD_SIZE="
            f"{os.environ['WORLD_SIZE']}) outside SLURM: pass --run_dir so that every process "
            "writes to the same run directory"
        )
    return str(_allocate_version(Path(root) / name))


def stable_wandb_id(run_dir: str) -> str:
    """The W&B run id of ``run_dir``: created once (atomically, several processes may ask at the
    same time) and read back afterwards, so a resumed or requeued run continues the same W&B run."""
    path = Path(run_dir) / WANDB_ID_FILE
    if not path.exists():
        # W&B's own format: 8 characters of [a-z0-9].
        run_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
        partial = path.with_name(f".{WANDB_ID_FILE}.{os.getpid()}")
        partial.write_text(run_id + "\n")
        try:
            os.link(partial, path)  # fails if another process created it first
        except FileExistsError:
            pass
        finally:
            partial.unlink(missing_ok=True)
    return path.read_text().strip()


def configure_wandb(logger_config, name: str, run_dir: str) -> None:
    """Fill what a ``WandbLogger`` in the config leaves unset from the run: files under the run
    directory (no ``./wandb`` shared by every run started in one folder), the display name
    ``<name>/<run dir>``, and a run id kept in the run directory (stable across resumes and SLURM
    requeues; a W&B sweep agent's ``WANDB_RUN_ID`` is left alone)."""
    entries = logger_config if isinstance(logger_config, list | tuple) else [logger_config]
    for entry in entries:
        class_path = str(getattr(entry, "class_path", "") or "") if hasattr(entry, "get") else ""
        if not class_path.endswith("WandbLogger") or entry.get("init_args") is None:
            continue
        args = entry.init_args
        if args.get("save_dir") in (None, ".") and not args.get("dir"):
            # absolute: W&B's service process resolves paths against its own working directory
            args.save_dir = os.path.abspath(run_dir)
        if not args.get("name"):
            args.name = f"{name}/{Path(run_dir).name}"
        if not (args.get("id") or args.get("version") or os.environ.get("WANDB_RUN_ID")):
            args.id = stable_wandb_id(run_dir)
        if args.get("resume") is None:
            args.resume = "allow"


class LitGenSaveConfig(SaveConfigCallback):
    """Saves ``config.yaml`` in the run directory (Lightning's behaviour) and logs the complete
    resolved config to W&B as ``config`` (rank 0 only)."""

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        wandb_loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        if not wandb_loggers:
            return
        config = self.parser.dump(self.config, skip_none=False, format="json")
        for logger in wandb_loggers:
            logger.experiment.config.update({"config": json.loads(config)}, allow_val_change=True)


class LitGenCLI(LightningCLI):
    """LightningCLI with lit-gen's run directory, default callbacks and data-to-model links."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        # Epochs on the embedded digits are ~20 batches: Lightning's default of 50 would log no
        # training curve at all.
        kwargs.setdefault("trainer_defaults", {"log_every_n_steps": 10})
        kwargs.setdefault("seed_everything_default", 0)
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault("subclass_mode_model", True)
        kwargs.setdefault("subclass_mode_data", True)
        kwargs.setdefault("save_config_callback", LitGenSaveConfig)
        self.run_dir: str | None = None
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--name", type=str | None, default=None,
            help="Experiment name; runs go to runs/<name>/version_<N> (default: the model's class name).",
        )
        parser.add_argument(
            "--run_dir", type=str | None, default=None,
            help="Run directory (config, checkpoints, images, metrics.csv). Reuse one to resume into it.",
        )
        parser.add_argument(
            "--checkpoint_interval", type=float, default=60.0,
            help="Seconds between epoch-end checkpoints at least (0: every epoch); the end of "
            "training, interruptions and SLURM pre-emption always save.",
        )
        parser.link_arguments("data.data_shape", "model.init_args.data_shape", apply_on="instantiate")
        parser.link_arguments("data.value_range", "model.init_args.value_range", apply_on="instantiate")

    def _parse_ckpt_path(self) -> None:
        """Lightning overlays the checkpoint's hyperparameters on the parsed config, so the
        model matches its weights. lit-gen keeps that, but (1) lets the command line change a
        module's ``evaluation_hparams`` (e.g. the VAE's ``iw_samples``), which do not affect the
        weights, and (2) warns about every other value the checkpoint overrode, instead of
        silently ignoring it."""
        subcommand = self.config.get("subcommand")
        before = self.config[subcommand].get("model") if subcommand else None
        before = before.clone() if before is not None else None
        super()._parse_ckpt_path()
        after = self.config[subcommand].get("model") if subcommand else None
        if before is None or after is None or before.get("init_args") is None:
            return
        model_class = _import_class(str(after.class_path))
        keep = set(getattr(model_class, "evaluation_hparams", ()))
        overridden = []
        for key, wanted in vars(before.init_args).items():
            if key not in after.init_args or after.init_args[key] == wanted:
                continue
            if key in keep:
                after.init_args[key] = wanted
            elif key not in ("data_shape", "value_range"):
                overridden.append(f"{key}={after.init_args[key]!r} (config: {wanted!r})")
        if overridden:
            rank_zero_warn(
                "values taken from the checkpoint's hyperparameters instead of the config: "
                + ", ".join(overridden)
            )

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        name = config.get("name")
        if not name:
            class_path = str(config.model.class_path) if config.get("model") else "model"
            name = _snake(class_path.rsplit(".", 1)[-1])
        self.run_dir = resolve_run_dir(name, config.get("run_dir"))
        # DDP child processes started by Lightning re-run this command: give them the same dir.
        os.environ[RUN_DIR_ENV] = self.run_dir
        if config.get("trainer") is not None and config.trainer.get("logger") not in (None, True, False):
            configure_wandb(config.trainer.logger, name, self.run_dir)

    def instantiate_trainer(self, **kwargs) -> L.Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        run_dir = self.run_dir
        kwargs.setdefault("default_root_dir", run_dir)
        if "logger" not in kwargs:
            logger = trainer_config.get("logger")
            if logger is not False:
                user_loggers = [] if logger in (None, True) else (list(logger) if isinstance(logger, list | tuple) else [logger])
                # CSV first: trainer.log_dir (config.yaml, images) is then the run directory.
                csv = RunCSVLogger(save_dir=run_dir, name="", version="")
                kwargs["logger"] = [csv, *[lg for lg in user_loggers if isinstance(lg, Logger)]]
        if "callbacks" not in kwargs:
            callbacks = trainer_config.get("callbacks") or []
            callbacks = list(callbacks) if isinstance(callbacks, list | tuple) else [callbacks]
            if trainer_config.get("enable_checkpointing", True) is not False and not any(
                isinstance(c, Checkpoint) for c in callbacks
            ):
                callbacks.append(
                    # One write per save: last.ckpt links to the newest epoch checkpoint (two full
                    # writes per epoch cost ~12% of a digits VAE run); at most one epoch-end save
                    # per checkpoint_interval seconds (callbacks/checkpoint.py).
                    RunCheckpoint(
                        dirpath=os.path.join(run_dir, "checkpoints"), save_last="link",
                        filename="epoch{epoch:04d}-step{step}", auto_insert_metric_name=False,
                        min_interval=self._get(self.config, "checkpoint_interval", default=60.0),
                    )
                )
                if not any(isinstance(c, OnExceptionCheckpoint) for c in callbacks):
                    callbacks.append(InterruptCheckpoint(os.path.join(run_dir, "checkpoints"), "interrupted"))
            # Exact resume (random states), divergence stop, SLURM pre-emption at a batch boundary.
            for default in (RandomState, NonFiniteLossGuard, SlurmRequeue):
                if not any(isinstance(c, default) for c in callbacks):
                    callbacks.append(default())
            if not any(isinstance(c, ImageGrids) for c in callbacks):
                callbacks.append(ImageGrids())
            if self.subcommand == "predict" and not any(isinstance(c, BasePredictionWriter) for c in callbacks):
                callbacks.append(PredictionWriter())  # predicted images -> <run_dir>/predictions
            if trainer_config.get("enable_progress_bar", True) is not False and not any(
                isinstance(c, ProgressBar) for c in callbacks
            ):
                # Updating every step converts the shown metrics to floats each step: a
                # host-device sync on GPU and Python work on CPU (see callbacks/progress.py).
                callbacks.append(ThrottledRichProgressBar(refresh_rate=5) if _RICH_AVAILABLE else TQDMProgressBar(refresh_rate=5))
            kwargs["callbacks"] = callbacks
        if "plugins" not in kwargs:
            plugins = trainer_config.get("plugins") or []
            plugins = list(plugins) if isinstance(plugins, list | tuple) else [plugins]
            if not any(isinstance(p, CheckpointIO) for p in plugins):
                # Checkpoints written atomically next to their target, loaded weights_only.
                plugins.append(AtomicCheckpointIO())
            kwargs["plugins"] = plugins
        return super().instantiate_trainer(**kwargs)


def _import_class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _find_user_error(error: BaseException | None) -> UserError | None:
    """The UserError behind ``error``: jsonargparse wraps exceptions raised while it
    instantiates classes (e.g. a model refusing an image size) in its own ValueError."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UserError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def main(args: list[str] | None = None) -> None:
    """Entry point of ``lit-gen``; ``args`` lets tests run it in-process (see :func:`run`)."""
    run(args)


def run(args: list[str] | None = None) -> LitGenCLI:
    """Run the CLI and return it (its ``trainer``, ``model``, ``datamodule``, ``run_dir``).

    A :class:`~lit_gen.errors.UserError` (missing data, incompatible sizes, a diverged loss, ...)
    is printed as one line and exits with status 2; argument errors are jsonargparse's (also
    status 2). A SLURM pre-emption that saved a checkpoint and requeued the job exits with
    status 75 (``EX_TEMPFAIL``).
    """
    previous = os.environ.get(RUN_DIR_ENV)
    try:
        return LitGenCLI(L.LightningModule, L.LightningDataModule, args=args)
    except Requeued as requeued:
        print(f"lit-gen: {requeued}", file=sys.stderr)
        raise SystemExit(EXIT_REQUEUED) from requeued
    except Exception as error:
        user_error = _find_user_error(error)
        if user_error is None:
            raise
        print(f"lit-gen: error: {user_error}", file=sys.stderr)
        raise SystemExit(2) from error
    finally:
        if previous is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = previous
