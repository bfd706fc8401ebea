"""Checkpoint files that are never half-written, loaded with ``weights_only``.

Lightning's ``TorchCheckpointIO`` writes through an fsspec transaction: the bytes go to a
temporary file made by ``tempfile.mkstemp()`` (the system temp directory) and are then moved
with ``shutil.move``. When the temp directory and the run directory are on different file
systems (node-local ``/tmp`` and a shared cluster file system, the usual case), the move is a
copy into the final name, so a job killed during it leaves a truncated checkpoint under that name
(e.g. ``hpc_ckpt_2.ckpt``, which a requeued job then tries, and fails, to resume from).

:class:`AtomicCheckpointIO` writes the temporary file next to the target, flushes it to disk and
renames it over the target (``os.replace``, atomic within a file system), so a checkpoint path
holds either the previous complete file or the new complete file. A kill leaves at most a
``.partial-*.tmp`` file, which no checkpoint lookup matches.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` with atomic local writes and ``weights_only=True`` loading by default
    (lit-gen checkpoints hold only tensors and plain Python values). Remote paths (``s3://``,
    ...) use Lightning's own implementation."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or not isinstance(get_filesystem(path), LocalFileSystem):
            return super().save_checkpoint(checkpoint, path, storage_options)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=".partial-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes the file private (0600)
            with os.fdopen(fd, "wb") as file:
                self._write(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)

    def _write(self, checkpoint: dict[str, Any], file) -> None:
        torch.save(checkpoint, file)

    def load_checkpoint(self, path, map_location: Any = lambda storage, loc: storage, weights_only: bool | None = None):
        return super().load_checkpoint(path, map_location=map_location, weights_only=True if weights_only is None else weights_only)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
