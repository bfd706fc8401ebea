"""FID, IS, KID and precision/recall by torch-fidelity, under a stated protocol.

All the math is torch-fidelity's (``torch_fidelity.calculate_metrics``); this layer only decides
and records *what* is compared:

* Images are quantized to uint8 as PNG files store them (``round(255 x)`` after mapping the
  data's ``value_range`` to [0, 1]), the input every torch-fidelity extractor expects. Grey images
  are repeated to three channels for InceptionV3.
* The **protocol** (number of generated images, reference split and its size, feature extractor
  and its weights, image size and the extractor's resizing, IS splits, KID subsets, PRC
  neighbourhood, seed) is returned with every result (:class:`FidelityResult`).
* **Reference features are cached** by torch-fidelity's file cache under a name derived from
  everything that determines them (data module class and settings, split, class, domain, size,
  extractor and a hash of its weights): computed once, then loaded. The reference images are
  only materialized on a cache miss (:class:`ReferenceSet`).
* **InceptionV3 weights** (``inception-v3-compat``) come from a local file (argument or
  ``$LIT_GEN_INCEPTION_WEIGHTS``), torch's hub cache, or torch-fidelity's download; a missing or
  wrong file is a :class:`~lit_gen.errors.UserError` naming the URL and where to put it.

Metrics (torch-fidelity's definitions): FID (Heusel et al., 2017, arXiv:1706.08500),
Inception Score (Salimans et al., 2016, arXiv:1606.03498), KID (Binkowski et al., 2018,
arXiv:1801.01401), precision/recall (Kynkaanniemi et al., 2019, arXiv:1904.06991).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch_fidelity
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torch_fidelity import (
    KEY_METRIC_F_SCORE,
    KEY_METRIC_FID,
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    KEY_METRIC_PRECISION,
    KEY_METRIC_RECALL,
)
from torch_fidelity.feature_extractor_inceptionv3 import (
    URL_INCEPTION_V3,
    FeatureExtractorInceptionV3,
)
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from lit_gen.errors import ConfigurationError, CorruptDataError, UserError
from lit_gen.metrics.digits_classifier import (
    DIGITS_CLASSIFIER_WEIGHTS,
    DIGITS_EXTRACTOR,
    INPUT_SIZE,
    weights_fingerprint,
)

INCEPTION = "inception-v3-compat"
INCEPTION_WEIGHTS_ENV = "LIT_GEN_INCEPTION_WEIGHTS"
CACHE_ENV = "LIT_GEN_CACHE_DIR"
#: lit-gen's metric names -> torch-fidelity's switches.
METRICS = {"fid": "fid", "is": "isc", "kid": "kid", "prc": "prc"}
#: Metrics that compare against a reference set.
REFERENCE_METRICS = ("fid", "kid", "prc")
#: torch-fidelity's result keys -> lit-gen's log names.
RESULT_NAMES = {
    KEY_METRIC_FID: "fid",
    KEY_METRIC_ISC_MEAN: "is",
    KEY_METRIC_ISC_STD: "is_std",
    KEY_METRIC_KID_MEAN: "kid",
    KEY_METRIC_KID_STD: "kid_std",
    KEY_METRIC_PRECISION: "precision",
    KEY_METRIC_RECALL: "recall",
    KEY_METRIC_F_SCORE: "f_score",
}
#: How each known extractor sees the images (for the protocol), and the channels it needs.
EXTRACTOR_INPUT = {
    DIGITS_EXTRACTOR: (f"grey, resized to {INPUT_SIZE}x{INPUT_SIZE} (bilinear, antialiased when shrinking)", None),
    INCEPTION: ("RGB (grey repeated), resized to 299x299 (TF1-compatible bilinear)", 3),
}


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------
def to_uint8(images: Tensor, value_range: Sequence[float] | None = None) -> Tensor:
    """Images to uint8 as PNG files store them: ``round(255 (x - low) / (high - low))``.

    ``uint8`` input is returned unchanged; float input needs its ``value_range``.
    """
    if images.dtype == torch.uint8:
        return images
    if value_range is None:
        raise ConfigurationError("float images need their value_range, e.g. (-1, 1) or (0, 1)")
    low, high = (float(v) for v in value_range)
    unit = (images.detach().float() - low) / (high - low)
    return unit.mul_(255.0).add_(0.5).clamp_(0.0, 255.0).to(torch.uint8)


def check_images(images: Tensor, what: str) -> None:
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ConfigurationError(
            f"{what} must be images (N, 1 or 3, H, W) to compute FID/IS; got shape {tuple(images.shape)}"
        )


class UInt8Images(Dataset):
    """uint8 images ``(N, C, H, W)`` as torch-fidelity reads them (one ``(C, H, W)`` per item),
    optionally repeated to ``channels`` (grey to RGB for InceptionV3)."""

    def __init__(self, images: Tensor, channels: int | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"expected uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        self.images = images.cpu()
        self.channels = channels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tensor:
        image = self.images[index]
        if self.channels is not None and image.shape[0] != self.channels:
            image = image.expand(self.channels, -1, -1)
        return image


# --------------------------------------------------------------------------------------------
# Reference sets
# --------------------------------------------------------------------------------------------
@dataclass
class ReferenceSet:
    """Real images to compare against, loaded only when their features are not cached.

    Args:
        key: everything that determines the images (JSON-serializable); part of the cache name.
        size: number of images.
        load: returns the images as uint8 ``(N, C, H, W)`` (called on a cache miss only).
        description: how the protocol names it, e.g. ``"DigitsDataModule train split"``.
    """

    key: dict
    size: int
    load: Callable[[], Tensor]
    description: str
    loads: int = field(default=0, init=False)

    @classmethod
    def from_images(cls, images: Tensor, description: str, value_range: Sequence[float] | None = None,
                    key: dict | None = None) -> ReferenceSet:
        """A reference set from images in memory, keyed by a hash of their bytes."""
        data = to_uint8(images, value_range).cpu().contiguous()
        check_images(data, description)
        if key is None:
            key = {"sha256": hashlib.sha256(data.numpy().tobytes()).hexdigest(), "shape": list(data.shape)}
        return cls(key=key, size=len(data), load=lambda: data, description=description)

    def materialize(self) -> Tensor:
        self.loads += 1
        images = self.load()
        if len(images) != self.size:
            raise CorruptDataError(
                f"{self.description}: expected {self.size} images, loaded {len(images)}"
            )
        return images


class _LazyReference(Dataset):
    """What torch-fidelity gets as ``input2``: loads the reference on first access only."""

    def __init__(self, reference: ReferenceSet, channels: int | None):
        self.reference = reference
        self.channels = channels
        self._images: UInt8Images | None = None

    def _data(self) -> UInt8Images:
        if self._images is None:
            self._images = UInt8Images(self.reference.materialize(), self.channels)
        return self._images

    def __len__(self) -> int:
        return self.reference.size

    def __getitem__(self, index: int) -> Tensor:
        return self._data()[index]


_LOADER_SETTINGS = {
    "batch_size", "num_workers", "drop_last", "pin_memory", "persistent_workers", "download",
    "prepare_data_per_node", "allow_zero_length_dataloader_with_multiple_devices", "trainer",
}


def datamodule_settings(datamodule: Any) -> dict:
    """The data module's public settings of simple types, except loader knobs (they do not
    change the images); part of the reference cache key."""
    settings = {}
    for name, value in sorted(vars(datamodule).items()):
        if name.startswith("_") or name in _LOADER_SETTINGS:
            continue
        if isinstance(value, Path):
            value = str(value)
        if isinstance(value, tuple):
            value = list(value)
        if value is None or isinstance(value, bool | int | float | str) or (
            isinstance(value, list) and all(isinstance(v, bool | int | float | str) for v in value)
        ):
            settings[name] = value
    return settings


def split_dataset(datamodule: Any, split: str, domain: str | None = None) -> Dataset:
    """The dataset of a split (``train``, ``val``, ``test``), and of a domain for translation
    data: ``datamodule.reference_set(split, domain)`` when the data module defines it, else
    ``datamodule.<split>_set`` (set up on demand)."""
    if split not in ("train", "val", "test"):
        raise ConfigurationError(f"reference split must be 'train', 'val' or 'test', got {split!r}")
    if hasattr(datamodule, "reference_set"):
        return datamodule.reference_set(split, domain)
    if domain is not None:
        raise ConfigurationError(
            f"{type(datamodule).__name__} has no domains: translation metrics need a data module "
            "with reference_set(split, domain)"
        )
    dataset = getattr(datamodule, f"{split}_set", None)
    if dataset is None:
        datamodule.setup("test" if split == "test" else "fit")
        dataset = getattr(datamodule, f"{split}_set", None)
    if dataset is None:
        raise ConfigurationError(f"{type(datamodule).__name__} has no {split} split to compare against")
    return dataset


def dataset_images(dataset: Dataset, batch_size: int = 500) -> tuple[Tensor, Tensor | None]:
    """All images of a dataset (items are images or ``(image, label, ...)`` tuples) and their
    labels when the items carry them."""
    if getattr(dataset, "__getitems__", None) is not None:  # batched datasets (TensorImageDataset)
        batch = dataset.__getitems__(list(range(len(dataset))))
        if isinstance(batch, tuple | list) and len(batch) == 2 and torch.is_tensor(batch[0]) and batch[0].ndim == 4:
            return batch[0], batch[1]
    images, labels = [], []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=_collate_first_two)
    for batch_images, batch_labels in loader:
        images.append(batch_images)
        if batch_labels is not None:
            labels.append(batch_labels)
    return torch.cat(images), (torch.cat(labels) if len(labels) == len(images) else None)


def _collate_first_two(items):
    first = items[0]
    if isinstance(first, list | tuple):
        images = torch.stack([item[0] for item in items])
        labels = torch.as_tensor([int(item[1]) for item in items]) if len(first) > 1 and _is_label(first[1]) else None
        return images, labels
    return torch.stack(items), None


def _is_label(value: Any) -> bool:
    return isinstance(value, int) or (torch.is_tensor(value) and value.ndim == 0)


def datamodule_reference(
    datamodule: Any, split: str = "train", domain: str | None = None, label: int | None = None
) -> ReferenceSet:
    """The reference set of a data module's split (optionally one domain, or one class)."""
    dataset = split_dataset(datamodule, split, domain)
    value_range = tuple(getattr(datamodule, "value_range", (0.0, 1.0)))
    name = type(datamodule).__name__
    description = f"{name} {split} split" + (f", domain {domain}" if domain else "") + (
        f", class {label}" if label is not None else "")

    def labels_of() -> Tensor:
        labels = getattr(dataset, "labels", None)  # TensorImageDataset, folder datasets: no decoding
        if labels is None:
            labels = dataset_images(dataset)[1]
        if labels is None:
            raise ConfigurationError(f"{description}: per-class metrics need labelled data")
        return torch.as_tensor(labels)

    if label is None:
        size = len(dataset)
    else:
        size = int((labels_of() == label).sum())
        if size < 2:
            raise ConfigurationError(f"{description}: needs at least 2 images, found {size}")

    def load() -> Tensor:
        images, labels = dataset_images(dataset)
        if label is not None:
            images = images[labels == label]
        return to_uint8(images, value_range)

    key = {
        "datamodule": f"{type(datamodule).__module__}.{type(datamodule).__qualname__}",
        "settings": datamodule_settings(datamodule),
        "data_shape": list(getattr(datamodule, "data_shape", ())),
        "split": split, "domain": domain, "label": label, "size": size,
    }
    return ReferenceSet(key=key, size=size, load=load, description=description)


# --------------------------------------------------------------------------------------------
# Feature extractor weights
# --------------------------------------------------------------------------------------------
def inception_hub_path() -> Path:
    """Where torch-fidelity's download of the InceptionV3 weights lands (torch's hub cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(URL_INCEPTION_V3).name


def _inception_help() -> str:
    return (
        f"download {URL_INCEPTION_V3} (on a machine with internet) and either give its path "
        f"(GenerativeMetrics(feature_extractor_weights=...) in the config, or "
        f"${INCEPTION_WEIGHTS_ENV}) or copy it to {inception_hub_path()}"
    )


def resolve_inception_weights(path: str | os.PathLike | None = None, download: bool = True,
                              verbose: bool = False) -> str:
    """The local file of the InceptionV3 weights: ``path``, else ``$LIT_GEN_INCEPTION_WEIGHTS``,
    else torch's hub cache, else torch-fidelity's download (when ``download``). The file is
    checked to be the InceptionV3 state dict torch-fidelity expects."""
    source = "the configured path"
    if path is None and os.environ.get(INCEPTION_WEIGHTS_ENV):
        path, source = os.environ[INCEPTION_WEIGHTS_ENV], f"${INCEPTION_WEIGHTS_ENV}"
    if path is None:
        cached = inception_hub_path()
        if not cached.is_file():
            if not download:
                raise UserError(f"InceptionV3 weights are not available offline: {_inception_help()}")
            try:
                torch.hub.load_state_dict_from_url(URL_INCEPTION_V3, map_location="cpu", progress=verbose)
            except (urllib.error.URLError, OSError, RuntimeError) as error:
                raise UserError(
                    f"could not download the InceptionV3 weights ({type(error).__name__}: {error}): {_inception_help()}"
                ) from error
        path, source = cached, "torch's hub cache"
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"InceptionV3 weights not found at {path} (from {source}): {_inception_help()}")
    _check_inception_weights(str(path.resolve()), path.stat().st_mtime_ns, source)
    return str(path)


@lru_cache(maxsize=8)
def _check_inception_weights(path: str, mtime_ns: int, source: str) -> None:
    try:
        FeatureExtractorInceptionV3(INCEPTION, ["2048"], feature_extractor_weights_path=path)
    except Exception as error:  # unpickling errors, missing keys, wrong shapes: all "wrong file"
        message = str(error).splitlines()[0] if str(error) else ""
        raise CorruptDataError(
            f"{path} (from {source}) is not the InceptionV3 state dict of torch-fidelity "
            f"({type(error).__name__}: {message[:200]}): {_inception_help()}"
        ) from error


def extractor_weights(extractor: str, weights: str | os.PathLike | None) -> tuple[str | None, str]:
    """``(path given to torch-fidelity, identity for cache keys and the protocol)``."""
    if extractor == INCEPTION:
        path = resolve_inception_weights(weights)
        return path, f"{Path(path).name} sha256:{weights_fingerprint(path)}"
    if extractor == DIGITS_EXTRACTOR:
        path = Path(weights) if weights is not None else DIGITS_CLASSIFIER_WEIGHTS
        if not path.is_file():
            raise UserError(
                f"digits classifier weights not found at {path}: give a file written by "
                "`python -m lit_gen.metrics.train_digits_classifier`"
            )
        return (str(path) if weights is not None else None), f"{path.name} sha256:{weights_fingerprint(path)}"
    if extractor not in FEATURE_EXTRACTORS_REGISTRY:
        raise ConfigurationError(
            f"unknown feature extractor {extractor!r}; registered with torch-fidelity: "
            f"{', '.join(sorted(FEATURE_EXTRACTORS_REGISTRY))}"
        )
    if weights is None:
        return None, f"{extractor} default weights"
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(f"weights of feature extractor {extractor!r} not found at {path}")
    return str(path), f"{path.name} sha256:{weights_fingerprint(path)}"


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------
@dataclass
class FidelityResult:
    """Metric values (``fid``, ``is``, ``is_std``, ``kid``, ``kid_std``, ``precision``,
    ``recall``, ``f_score``: those requested) and the protocol they were computed under."""

    metrics: dict[str, float]
    protocol: dict[str, Any]

    def summary(self) -> str:
        values = ", ".join(f"{k} {v:.4g}" for k, v in self.metrics.items())
        return f"{values} [{protocol_line(self.protocol)}]"

    def to_dict(self) -> dict:
        return {"metrics": dict(self.metrics), "protocol": dict(self.protocol)}


def protocol_line(protocol: dict) -> str:
    """The protocol in one sentence (console and README)."""
    parts = [f"{protocol['num_generated']} {protocol.get('generated', 'generated')} images"]
    if protocol.get("reference"):
        parts.append(f"vs {protocol['reference']} ({protocol['num_reference']} images)")
    parts.append(f"extractor {protocol['feature_extractor']} ({protocol['feature_extractor_weights']})")
    parts.append(f"images {'x'.join(str(s) for s in protocol['image_shape'])} uint8, {protocol['extractor_input']}")
    if "is_splits" in protocol:
        parts.append(f"IS {protocol['is_splits']} splits")
    if "kid_subset_size" in protocol:
        parts.append(f"KID {protocol['kid_subsets']} subsets of {protocol['kid_subset_size']}")
    if "prc_neighborhood" in protocol:
        parts.append(f"PRC k={protocol['prc_neighborhood']}")
    parts.append(f"torch-fidelity {protocol['torch_fidelity']}")
    return ", ".join(parts)


def default_cache_dir() -> Path:
    """``$LIT_GEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/lit_gen/fidelity`` (``~/.cache/...``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lit_gen" / "fidelity"


class FidelityEvaluator:
    """Computes FID, IS, KID and precision/recall with ``torch_fidelity.calculate_metrics``.

    Args:
        feature_extractor: a torch-fidelity extractor name: ``"lit-gen-digits"`` (the shipped
            digits classifier), ``"inception-v3-compat"`` (the standard InceptionV3), or any
            registered one.
        metrics: any of ``fid``, ``is``, ``kid``, ``prc``.
        feature_extractor_weights: local weights file (InceptionV3: default
            ``$LIT_GEN_INCEPTION_WEIGHTS``, torch's hub cache, or the download).
        is_splits: splits of the Inception Score (torch-fidelity's and the papers' default 10).
        kid_subsets: subsets of KID.
        kid_subset_size: subset size of KID (capped at the smaller set's size; the value used is
            in the protocol).
        prc_neighborhood: ``k`` of the k-NN manifolds of precision/recall.
        rng_seed: seed of torch-fidelity's shuffling (IS splits) and KID subsets.
        batch_size: images per feature-extractor batch.
        cache: cache reference features/statistics on disk.
        cache_dir: where (default :func:`default_cache_dir`).
        device: where features are extracted (default CUDA when available).
        verbose: let torch-fidelity print its progress.
    """

    def __init__(
        self,
        feature_extractor: str = DIGITS_EXTRACTOR,
        metrics: Iterable[str] = ("fid", "is", "kid", "prc"),
        feature_extractor_weights: str | os.PathLike | None = None,
        is_splits: int = 10,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        prc_neighborhood: int = 3,
        rng_seed: int = 2020,
        batch_size: int = 200,
        cache: bool = True,
        cache_dir: str | os.PathLike | None = None,
        device: str | torch.device | None = None,
        verbose: bool = False,
    ):
        self.metrics = tuple(dict.fromkeys(metrics))
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown or not self.metrics:
            raise ConfigurationError(f"metrics must be a non-empty subset of {list(METRICS)}, got {list(metrics)}")
        if is_splits < 1 or kid_subsets < 1 or kid_subset_size < 2 or prc_neighborhood < 1 or batch_size < 1:
            raise ConfigurationError(
                "is_splits, kid_subsets, prc_neighborhood and batch_size must be >= 1 and kid_subset_size >= 2"
            )
        if feature_extractor not in FEATURE_EXTRACTORS_REGISTRY:
            raise ConfigurationError(
                f"unknown feature extractor {feature_extractor!r}; registered with torch-fidelity: "
                f"{', '.join(sorted(FEATURE_EXTRACTORS_REGISTRY))}"
            )
        self.feature_extractor = feature_extractor
        self.feature_extractor_weights = feature_extractor_weights
        self.is_splits = is_splits
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.prc_neighborhood = prc_neighborhood
        self.rng_seed = rng_seed
        self.batch_size = batch_size
        self.cache = cache
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.device = torch.device(device) if device is not None else torch.device(
            "cuda" if torch.cuda.is_available() else "cpu")
        self.verbose = verbose

    @property
    def needs_reference(self) -> bool:
        return any(m in REFERENCE_METRICS for m in self.metrics)

    def reference_cache_name(self, reference: ReferenceSet, weights_id: str) -> str:
        """torch-fidelity's cache name of a reference set (no path separators)."""
        key = json.dumps({"reference": reference.key, "extractor": self.feature_extractor,
                          "weights": weights_id}, sort_keys=True, default=str)
        slug = re.sub(r"[^A-Za-z0-9_.]+", "_", reference.description).strip("_")[:60]
        return f"lit-gen-{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    def evaluate(
        self,
        generated: Tensor,
        reference: ReferenceSet | None = None,
        value_range: Sequence[float] | None = None,
        metrics: Iterable[str] | None = None,
        generated_description: str = "generated",
    ) -> FidelityResult:
        """Metrics of ``generated`` images against ``reference``.

        Args:
            generated: ``(N, C, H, W)`` images, uint8 or float in ``value_range``.
            reference: the real images (needed by fid, kid, prc).
            value_range: range of float ``generated`` images.
            metrics: a subset of this evaluator's metrics (default all of them).
            generated_description: how the protocol names the evaluated images.
        """
        metrics = tuple(metrics) if metrics is not None else self.metrics
        if not metrics or any(m not in METRICS for m in metrics):
            raise ConfigurationError(f"metrics must be a non-empty subset of {list(METRICS)}, got {list(metrics)}")
        images = to_uint8(generated, value_range)
        check_images(images, "generated images")
        n = len(images)
        needs_reference = any(m in REFERENCE_METRICS for m in metrics)
        if needs_reference and reference is None:
            raise ConfigurationError(f"{', '.join(m for m in metrics if m in REFERENCE_METRICS)} need a reference set")
        if "is" in metrics and n < self.is_splits:
            raise ConfigurationError(f"the Inception Score with {self.is_splits} splits needs >= {self.is_splits} images, got {n}")
        if n < 2 or (needs_reference and reference.size < 2):
            raise ConfigurationError("FID/KID/PRC need at least 2 generated and 2 reference images")
        if "prc" in metrics and (n <= self.prc_neighborhood or reference.size <= self.prc_neighborhood):
            raise ConfigurationError(f"precision/recall with k={self.prc_neighborhood} needs more than k images per set")

        weights_path, weights_id = extractor_weights(self.feature_extractor, self.feature_extractor_weights)
        input_description, channels = EXTRACTOR_INPUT.get(self.feature_extractor, ("the extractor's own resizing", None))
        cache_dir = self.cache_dir or default_cache_dir()
        kid_subset_size = min(self.kid_subset_size, n, reference.size) if needs_reference else self.kid_subset_size
        kwargs: dict[str, Any] = {
            "input1": UInt8Images(images, channels),
            "feature_extractor": self.feature_extractor,
            "feature_extractor_weights_path": weights_path,
            "cuda": self.device.type == "cuda",
            "batch_size": self.batch_size,
            "isc_splits": self.is_splits,
            "kid_subsets": self.kid_subsets,
            "kid_subset_size": kid_subset_size,
            "prc_neighborhood": self.prc_neighborhood,
            "rng_seed": self.rng_seed,
            "samples_shuffle": True,
            "cache": self.cache,
            "cache_root": str(cache_dir),
            # num_workers=0: the images are already in memory, worker processes only add
            # start-up time (and fork a CUDA process). Same results; PRC in parts, less memory.
            "save_cpu_ram": True,
            "verbose": self.verbose,
            **{METRICS[m]: True for m in metrics},
        }
        if needs_reference:
            kwargs["input2"] = _LazyReference(reference, channels)
            kwargs["input2_cache_name"] = self.reference_cache_name(reference, weights_id)
        if self.cache:
            cache_dir.mkdir(parents=True, exist_ok=True)
        if self.device.type == "cuda":
            with torch.cuda.device(self.device):
                raw = torch_fidelity.calculate_metrics(**kwargs)
        else:
            raw = torch_fidelity.calculate_metrics(**kwargs)
        values = {RESULT_NAMES[k]: float(v) for k, v in raw.items() if k in RESULT_NAMES}

        protocol: dict[str, Any] = {
            "num_generated": n,
            "generated": generated_description,
            "feature_extractor": self.feature_extractor,
            "feature_extractor_weights": weights_id,
            "image_shape": list(images.shape[1:]),
            "extractor_input": input_description,
            "quantization": "uint8, round(255 x) of [0, 1] images",
            "rng_seed": self.rng_seed,
            "torch_fidelity": torch_fidelity.__version__,
        }
        if needs_reference:
            protocol.update(reference=reference.description, num_reference=reference.size)
            reference_shape = list(reference.key.get("data_shape") or reference.key.get("shape", [None])[1:])
            if reference_shape and reference_shape != list(images.shape[1:]):
                protocol["reference_shape"] = reference_shape  # compared at another size: say so
        if "is" in metrics:
            protocol["is_splits"] = self.is_splits
        if "kid" in metrics:
            protocol.update(kid_subsets=self.kid_subsets, kid_subset_size=kid_subset_size)
        if "prc" in metrics:
            protocol["prc_neighborhood"] = self.prc_neighborhood
        return FidelityResult(values, protocol)
