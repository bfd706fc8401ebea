"""The images a metric is computed on, produced in fixed chunks that ranks share under DDP.

The N images are cut into chunks of ``chunk_size``; chunk ``c`` is made by rank
``c % world_size`` from its own seed (``sample``) or its own slice of the source split
(``translate_for_metrics``). Gathering puts the chunks back in order, so the gathered set is the
same whatever the number of processes, and a metric computed on it under DDP equals the
single-process value.

What a model implements to be evaluated (the "metrics protocol"):

* unconditional generation: ``sample(n, labels=None, generator=None) -> Tensor`` returning
  ``(n, C, H, W)`` images in the data's ``value_range``, drawing all its randomness from
  ``generator`` (a CPU ``torch.Generator``);
* conditional generation: the same with ``labels`` (``(n,)`` int64 on the module's device) and an
  attribute ``num_classes >= 1``;
* translation: an attribute ``translation_directions``, a sequence of ``(source, target)``
  domain names such as ``[("A", "B"), ("B", "A")]``, and
  ``translate_for_metrics(images, direction) -> Tensor`` mapping a batch of ``source`` images
  (in ``value_range``, on the module's device) to the ``target`` domain. The data module gives
  the images of each domain with ``reference_set(split, domain) -> Dataset``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from lit_gen.errors import ConfigurationError
from lit_gen.metrics.fidelity import _collate_first_two, to_uint8

AllGather = Callable[[Tensor], Tensor]


def chunk_bounds(total: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` covering ``range(total)`` in chunks of ``chunk_size``."""
    return [(start, min(start + chunk_size, total)) for start in range(0, total, chunk_size)]


def chunk_seed(seed: int, chunk: int, stream: int = 0) -> int:
    """Seed of one chunk; ``stream`` separates independent sets (e.g. one per class)."""
    return (seed * 1_000_003 + stream) * 1_000_033 + chunk


def gather_chunks(
    produce: Callable[[int], tuple[Tensor, Tensor]],
    bounds: Sequence[tuple[int, int]],
    rank: int = 0,
    world_size: int = 1,
    all_gather: AllGather | None = None,
    device: torch.device | str = "cpu",
) -> tuple[Tensor, Tensor]:
    """Make this rank's chunks with ``produce(c) -> (uint8 images, int64 labels)`` and return
    all chunks, in order, on the CPU: ``(N, C, H, W)`` uint8 and ``(N,)`` labels."""
    if world_size == 1:
        parts = [produce(c) for c in range(len(bounds))]
        return torch.cat([p[0].cpu() for p in parts]), torch.cat([p[1].cpu() for p in parts])
    if all_gather is None:
        raise ValueError("gathering from several processes needs all_gather")
    slots = math.ceil(len(bounds) / world_size)
    chunk_size = max(end - start for start, end in bounds)
    images = labels = None
    counts = torch.zeros(slots, dtype=torch.long, device=device)
    for slot in range(slots):
        c = slot * world_size + rank
        if c >= len(bounds):
            continue  # padding slot: this rank has one chunk fewer
        chunk_images, chunk_labels = produce(c)
        if images is None:
            images = torch.zeros(slots, chunk_size, *chunk_images.shape[1:], dtype=torch.uint8, device=device)
            labels = torch.zeros(slots, chunk_size, dtype=torch.long, device=device)
        n = len(chunk_images)
        images[slot, :n] = chunk_images.to(device)
        labels[slot, :n] = chunk_labels.to(device)
        counts[slot] = n
    if images is None:
        raise ValueError(f"rank {rank} has no chunk: use fewer processes than chunks ({len(bounds)})")
    # (world, slots, chunk, C, H, W); ranks hold chunks rank, rank + world, ...
    all_images, all_labels, all_counts = (all_gather(t).cpu() for t in (images, labels, counts))
    out_images, out_labels = [], []
    for c in range(len(bounds)):
        r, slot = c % world_size, c // world_size
        n = int(all_counts[r, slot])
        out_images.append(all_images[r, slot, :n])
        out_labels.append(all_labels[r, slot, :n])
    return torch.cat(out_images), torch.cat(out_labels)


def is_conditional(model) -> bool:
    return int(getattr(model, "num_classes", 0) or 0) > 0


def sample_chunks(
    model,
    num_samples: int,
    value_range: Sequence[float],
    seed: int,
    chunk_size: int,
    label: int | None = None,
    rank: int = 0,
    world_size: int = 1,
    all_gather: AllGather | None = None,
) -> tuple[Tensor, Tensor]:
    """``num_samples`` images from ``model.sample`` as uint8, with their labels.

    Conditional models get balanced labels ``i % num_classes`` (or all ``label``); unconditional
    ones get ``-1`` as label. Chunk ``c`` uses the generator seeded ``chunk_seed(seed, c)``.
    """
    if not hasattr(model, "sample"):
        raise ConfigurationError(
            f"{type(model).__name__} has no sample(n, labels=None, generator=None): generative "
            "metrics need it (or translate_for_metrics for translation models)"
        )
    conditional = is_conditional(model)
    if label is not None and not conditional:
        raise ConfigurationError(f"per-class metrics need a conditional model; {type(model).__name__} has no num_classes")
    bounds = chunk_bounds(num_samples, chunk_size)
    stream = 0 if label is None else label + 1
    device = getattr(model, "device", torch.device("cpu"))

    @torch.no_grad()
    def produce(c: int) -> tuple[Tensor, Tensor]:
        start, end = bounds[c]
        generator = torch.Generator().manual_seed(chunk_seed(seed, c, stream))
        if conditional:
            if label is None:
                labels = torch.arange(start, end) % int(model.num_classes)
            else:
                labels = torch.full((end - start,), label, dtype=torch.long)
            images = model.sample(end - start, labels=labels.to(device), generator=generator)
        else:
            labels = torch.full((end - start,), -1, dtype=torch.long)
            images = model.sample(end - start, generator=generator)
        if images.shape[0] != end - start:
            raise ConfigurationError(f"{type(model).__name__}.sample({end - start}) returned {images.shape[0]} images")
        return to_uint8(images, value_range), labels

    return gather_chunks(produce, bounds, rank, world_size, all_gather, device)


def dataset_chunk(dataset: Dataset, start: int, end: int) -> Tensor:
    """Images ``start..end-1`` of a dataset whose items are images or ``(image, ...)`` tuples."""
    indices = list(range(start, end))
    if getattr(dataset, "__getitems__", None) is not None:
        batch = dataset.__getitems__(indices)
        if isinstance(batch, tuple | list) and torch.is_tensor(batch[0]) and batch[0].ndim == 4:
            return batch[0]
        if torch.is_tensor(batch) and batch.ndim == 4:
            return batch
        return _collate_first_two(list(batch))[0]
    return _collate_first_two([dataset[i] for i in indices])[0]


def translate_chunks(
    model,
    source: Dataset,
    direction: tuple[str, str],
    value_range: Sequence[float],
    chunk_size: int,
    rank: int = 0,
    world_size: int = 1,
    all_gather: AllGather | None = None,
) -> tuple[Tensor, Tensor]:
    """Every image of ``source`` translated by ``model.translate_for_metrics(images, direction)``,
    as uint8 (labels are ``-1``)."""
    bounds = chunk_bounds(len(source), chunk_size)
    device = getattr(model, "device", torch.device("cpu"))

    @torch.no_grad()
    def produce(c: int) -> tuple[Tensor, Tensor]:
        start, end = bounds[c]
        images = model.translate_for_metrics(dataset_chunk(source, start, end).to(device), direction)
        if images.shape[0] != end - start:
            raise ConfigurationError(
                f"{type(model).__name__}.translate_for_metrics returned {images.shape[0]} images for {end - start}"
            )
        return to_uint8(images, value_range), torch.full((end - start,), -1, dtype=torch.long)

    return gather_chunks(produce, bounds, rank, world_size, all_gather, device)
