"""Shared pieces of lit-gen's data modules.

Every data module exposes what models are built from (``data_shape``, ``num_classes``,
``value_range``); the CLI links these into the model's constructor, so a YAML never repeats the
image size or channel count.

Small datasets (digits, MNIST, Fashion-MNIST, CIFAR-10) are held in memory and served by
:class:`TensorImageDataset`, which indexes a whole batch at once: the default per-sample
collate of a ``DataLoader`` costs ~1.5 ms per step on in-memory digits, more than the model.
The training loader draws its order with :class:`ResumableSampler`: a permutation per epoch
from ``(seed, epoch)`` (torch's ``DistributedSampler``, so it is also sharded across DDP ranks and
Lightning leaves it in place), which skips the batches already trained on when a run resumes
from a mid-epoch checkpoint. The data module saves that position in checkpoints
(``state_dict``), so a resumed run sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from lit_gen.errors import ConfigurationError

VALUE_RANGES = ((-1.0, 1.0), (0.0, 1.0))


def check_value_range(value_range: Sequence[float]) -> tuple[float, float]:
    """Return ``value_range`` as a tuple, or fail with the accepted choices."""
    pair = tuple(float(v) for v in value_range)
    if pair not in VALUE_RANGES:
        raise ConfigurationError(
            f"value_range must be [-1, 1] (tanh outputs, GANs) or [0, 1] (sigmoid outputs, "
            f"Bernoulli likelihood); got {list(value_range)}"
        )
    return pair  # type: ignore[return-value]


class TensorImageDataset(Dataset):
    """Images ``(N, C, H, W)`` and integer labels held in memory: class indices ``(N,)`` or
    binary attribute vectors ``(N, K)`` (attribute-conditioned models such as Fader networks).

    Images may be stored compactly (``uint8``); ``scale`` and ``shift`` map the stored values to
    the model's range per batch: ``x = stored * scale + shift``.

    Args:
        images: stored images, ``(N, C, H, W)``.
        labels: integer class labels ``(N,)`` or attributes ``(N, K)``.
        scale: multiplier applied after conversion to float32.
        shift: offset applied after scaling.
    """

    def __init__(self, images: Tensor, labels: Tensor, scale: float = 1.0, shift: float = 0.0):
        if images.ndim != 4 or labels.ndim not in (1, 2) or len(images) != len(labels):
            raise ValueError(
                f"expected images (N, C, H, W) and labels (N,) or (N, K), got {tuple(images.shape)} "
                f"and {tuple(labels.shape)}"
            )
        self.images = images
        self.labels = labels.long()
        self.scale = scale
        self.shift = shift

    def __len__(self) -> int:
        return len(self.images)

    def _convert(self, stored: Tensor, owned: bool = False) -> Tensor:
        """``stored * scale + shift`` as float32. ``owned``: ``stored`` is a fresh copy (an
        advanced-indexing gather) that may be scaled in place."""
        converted = stored.float()
        if converted is stored and not owned:  # float32 storage: never scale it in place
            converted = converted.clone()
        return converted.mul_(self.scale).add_(self.shift)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self._convert(self.images[index]), self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        # One advanced-indexing gather per batch instead of len(indices) item calls + stack.
        index = torch.as_tensor(indices, dtype=torch.long)
        return self._convert(self.images[index], owned=True), self.labels[index]

    def tensors(self) -> tuple[Tensor, Tensor]:
        """All images (converted to the model's range) and labels."""
        return self._convert(self.images), self.labels


def collate_batch(batch):
    """Collate for :class:`TensorImageDataset`: ``__getitems__`` already returns a batch."""
    if isinstance(batch, tuple):
        return batch
    return torch.utils.data.default_collate(batch)


def stratified_split(
    labels: Tensor, fractions: Sequence[float], seed: int
) -> list[Tensor]:
    """Deterministic stratified split of ``range(len(labels))``.

    Each class is permuted with ``seed`` and cut by ``fractions`` (which sum to 1); the first part
    takes the rounding remainder. Returns sorted index tensors, one per fraction.
    """
    generator = torch.Generator().manual_seed(seed)
    parts: list[list[Tensor]] = [[] for _ in fractions]
    for cls in torch.unique(labels):
        idx = torch.nonzero(labels == cls).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        sizes = [round(f * len(idx)) for f in fractions[1:]]
        sizes.insert(0, len(idx) - sum(sizes))
        for part, chunk in zip(parts, torch.split(idx, sizes), strict=True):
            part.append(chunk)
    return [torch.sort(torch.cat(p)).values for p in parts]


def resize_images(images: Tensor, size: int, chunk: int = 4096) -> Tensor:
    """Resize ``(N, C, H, W)`` images to ``size`` x ``size`` (bilinear, antialiased when
    shrinking), keeping the dtype (``uint8`` is rounded back)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = []
    for batch in torch.split(images, chunk):
        resized = torch.nn.functional.interpolate(
            batch.float(), size=(size, size), mode="bilinear", align_corners=False,
            antialias=size < images.shape[-1],
        )
        if images.dtype == torch.uint8:
            resized = resized.round_().clamp_(0, 255).to(torch.uint8)
        out.append(resized)
    return torch.cat(out)


def training_seed() -> int:
    """The run's seed (``seed_everything``, which the CLI always calls), else 0."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


class ResumableSampler(DistributedSampler):
    """Training order: a permutation per epoch drawn from ``(seed, epoch)``, sharded across DDP
    ranks, that can resume in the middle of an epoch.

    It is torch's ``DistributedSampler`` (Lightning calls ``set_epoch`` each epoch and, seeing a
    ``DistributedSampler``, does not replace it under DDP), built for one replica outside
    DDP. ``resume_at(epoch, samples)`` makes the next pass over ``epoch`` skip the first
    ``samples`` indices of this rank: the ones an interrupted run had already trained on.
    Unlike the default ``RandomSampler`` it draws nothing from the global RNG, so the order
    does not depend on what else consumed random numbers before the epoch started.
    """

    def __init__(self, dataset: Dataset, shuffle: bool = True, seed: int = 0):
        if dist.is_available() and dist.is_initialized():
            replicas, rank = dist.get_world_size(), dist.get_rank()
        else:
            replicas, rank = 1, 0
        super().__init__(dataset, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed)
        self._resume: tuple[int, int] | None = None

    def resume_at(self, epoch: int, samples: int) -> None:
        """Skip the first ``samples`` indices of this rank in the next pass, if it is ``epoch``."""
        self._resume = (epoch, samples)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        if self._resume is not None:
            epoch, skip = self._resume
            self._resume = None
            if epoch == self.epoch:
                indices = indices[skip:]
        return iter(indices)


class UnalignedSampler(ResumableSampler):
    """:class:`ResumableSampler` for unpaired data: yields ``(index, partner)`` pairs, the partner
    drawn uniformly from ``range(num_partners)`` for every position of the epoch (CycleGAN's
    unaligned sampling, ``serial_batches = False``) from ``(seed, epoch)`` rather than the global
    RNG, so a run resumed in the middle of an epoch draws the same partners as an uninterrupted
    one (data loaders fetch ahead of the step a checkpoint is taken at)."""

    def __init__(self, dataset: Dataset, num_partners: int, shuffle: bool = True, seed: int = 0):
        super().__init__(dataset, shuffle=shuffle, seed=seed)
        self.num_partners = num_partners

    def __iter__(self) -> Iterator[tuple[int, int]]:
        skip = 0
        if self._resume is not None and self._resume[0] == self.epoch:
            skip = self._resume[1]
        indices = list(super().__iter__())  # this rank's indices, resumed ones skipped
        generator = torch.Generator().manual_seed(self.seed + self.epoch + 0x5EED0000)
        partners = torch.randint(0, self.num_partners, (self.total_size,), generator=generator)
        partners = partners[self.rank : self.total_size : self.num_replicas].tolist()[skip:]
        return iter(zip(indices, partners, strict=True))


class EvaluationSampler(DistributedSampler):
    """This rank's share of an evaluation set, in order and without padding.

    torch's ``DistributedSampler`` (which Lightning injects by default) repeats samples so that
    every rank gets as many; validation and test metrics would then count those images twice.
    Here rank ``r`` of ``W`` gets indices ``r, r + W, ...``: every image exactly once, and
    Lightning's ``sync_dist`` means (sums of values and of batch sizes over ranks) stay exact.
    """

    def __init__(self, dataset: Dataset):
        replicas, rank = (dist.get_world_size(), dist.get_rank()) if dist.is_available() and dist.is_initialized() else (1, 0)
        super().__init__(dataset, num_replicas=replicas, rank=rank, shuffle=False)
        self.num_samples = len(range(rank, len(dataset), replicas))
        self.total_size = len(dataset)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.dataset), self.num_replicas))


class ImageDataModule(L.LightningDataModule):
    """Base for lit-gen's image data modules.

    Subclasses fill ``self.train_set``, ``self.val_set``, ``self.test_set`` in ``setup`` and set
    ``self._data_shape`` / ``self._num_classes`` in ``__init__`` (they are needed before setup,
    to build the model).

    Args:
        batch_size: images per batch (per device under DDP).
        num_workers: DataLoader worker processes (0 is fastest for in-memory data).
        value_range: ``[-1, 1]`` or ``[0, 1]``: the range images are scaled to.
        drop_last: drop the last incomplete training batch (GAN steps expect full batches).
    """

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        value_range: tuple[float, float] = (-1.0, 1.0),
        drop_last: bool = True,
    ):
        super().__init__()
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.value_range = check_value_range(value_range)
        self.drop_last = drop_last
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self._data_shape: tuple[int, ...] = ()
        self._num_classes: int = 0
        self._resume_state: dict[str, Any] | None = None

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one sample, ``(C, H, W)`` for images."""
        return self._data_shape

    @property
    def num_classes(self) -> int:
        """Number of label classes (0 when the data has no labels)."""
        return self._num_classes

    def _uint8_scale_shift(self) -> tuple[float, float]:
        low, high = self.value_range
        return (high - low) / 255.0, low

    def _train_sampler(self, dataset: Dataset) -> ResumableSampler:
        """The training order (a subclass may draw more per sample, e.g. an unaligned partner)."""
        return ResumableSampler(dataset, shuffle=True, seed=training_seed())

    def _loader(self, dataset: Dataset | None, train: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before requesting a dataloader")
        sampler = None
        if train:
            sampler = self._train_sampler(dataset)
            state = self._resume_state
            if state is not None and state["batches"] < state["epoch_batches"]:
                sampler.resume_at(state["epoch"], state["batches"] * state["batch_size"])
            self._resume_state = None
        elif dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            sampler = EvaluationSampler(dataset)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=train and self.drop_last and len(dataset) >= self.batch_size,
            num_workers=self.num_workers,
            # datasets that serve a whole batch (``__getitems__``) return it already collated
            collate_fn=collate_batch if hasattr(type(dataset), "__getitems__") else None,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            # Its own generator: creating an iterator then draws no number from the global RNG
            # (which the models' noise uses), so resuming cannot shift the models' random draws.
            generator=torch.Generator().manual_seed(training_seed()),
        )

    def state_dict(self) -> dict[str, Any]:
        """Where training stands in the current epoch (saved in every checkpoint)."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return {}
        batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        epoch_batches = trainer.num_training_batches
        return {
            "epoch": int(trainer.current_epoch),
            "batches": int(batches),
            "epoch_batches": int(epoch_batches) if epoch_batches != float("inf") else -1,
            "batch_size": int(self.batch_size),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume mid-epoch: the next training loader skips the batches already trained on."""
        if state_dict.get("epoch_batches", -1) >= 0:
            self._resume_state = dict(state_dict)
            # Lightning warns that a mid-epoch resume repeats data unless the *loader* is
            # stateful; this data module resumes the order itself (see ResumableSampler).
            warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)
