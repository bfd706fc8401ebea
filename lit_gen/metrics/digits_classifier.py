"""The digits classifier: a domain feature extractor that makes FID/IS meaningful offline.

InceptionV3 was trained on ImageNet photographs; on 16x16 grey digits its features say little,
and its weights cannot be downloaded on offline machines. For the embedded digits lit-gen ships a
small CNN (:class:`~lit_gen.nets.classifier.DigitsCNN`) trained on the training split of
:class:`~lit_gen.data.DigitsDataModule` only, by ``python -m lit_gen.metrics.train_digits_classifier``
(deterministic, well under a minute on one CPU core). Its weights live in
``lit_gen/assets/digits_classifier.pt``.

* Registered with torch-fidelity as the feature extractor ``"lit-gen-digits"``
  (:class:`DigitsFeatureExtractor`): the 64 penultimate activations (``"features"``) for FID,
  KID and precision/recall, the 10 logits (``"logits"``) for the Inception Score. Inputs are
  uint8 images ``(N, 1 or 3, H, W)`` of any size, like torch-fidelity's own extractors; they are
  resized to 16x16 (bilinear, antialiased when shrinking: the resizing of the data module).
* Reusable as a plain classifier (accuracy of conditional samples, label preservation of
  translations): :func:`load_digits_classifier` then ``classifier.predict(images, value_range)``
  with images of any size, float in ``value_range`` or uint8.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.helpers import vassert
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from lit_gen.errors import ConfigurationError, CorruptDataError, UserError
from lit_gen.nets.classifier import DigitsCNN

#: The name under which the digits extractor is registered with torch-fidelity.
DIGITS_EXTRACTOR = "lit-gen-digits"
#: The shipped weights (trained by ``python -m lit_gen.metrics.train_digits_classifier``).
DIGITS_CLASSIFIER_WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "digits_classifier.pt"
#: Side of the classifier's input; other sizes are resized to it.
INPUT_SIZE = 16


def prepare_digits(images: Tensor, value_range: tuple[float, float] = (0.0, 1.0), size: int = INPUT_SIZE) -> Tensor:
    """Images of any size and range to the classifier's input: ``(N, 1, size, size)`` in [0, 1].

    ``uint8`` images are read as 0..255 (``value_range`` is then ignored); float images are
    mapped from ``value_range`` and clamped. Three channels are averaged to grey.
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ConfigurationError(
            f"the digits classifier takes images (N, 1 or 3, H, W), got shape {tuple(images.shape)}"
        )
    if images.dtype == torch.uint8:
        x = images.float() / 255.0
    else:
        low, high = (float(v) for v in value_range)
        x = ((images.float() - low) / (high - low)).clamp(0.0, 1.0)
    if x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-2:] != (size, size):
        shrinking = min(x.shape[-2:]) > size
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)
    return x


class DigitsClassifier(nn.Module):
    """The trained :class:`DigitsCNN` with input preparation: classify, embed, score.

    Every method takes images ``(N, 1 or 3, H, W)`` of any size, float in ``value_range`` or
    uint8 (0..255).

    Args:
        net: the network.
        meta: training record stored with the weights (split, seed, accuracies).
    """

    def __init__(self, net: DigitsCNN, meta: dict | None = None):
        super().__init__()
        self.net = net
        self.meta = dict(meta or {})

    def forward(self, images: Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> Tensor:
        """Logits ``(N, 10)``."""
        return self.net(prepare_digits(images, value_range).to(self._device()))

    def features(self, images: Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> Tensor:
        """Penultimate activations ``(N, 64)``."""
        return self.net.features(prepare_digits(images, value_range).to(self._device()))

    @torch.no_grad()
    def predict(self, images: Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> Tensor:
        """Predicted digit ``(N,)`` (int64)."""
        return self(images, value_range).argmax(dim=1)

    def _device(self) -> torch.device:
        return next(self.net.parameters()).device


def weights_fingerprint(path: str | Path) -> str:
    """First 12 hex digits of the file's SHA-256 (part of cache keys: new weights, new cache)."""
    return _fingerprint(str(Path(path).resolve()), Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _fingerprint(path: str, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def load_digits_classifier(
    weights: str | Path | None = None, device: str | torch.device = "cpu"
) -> DigitsClassifier:
    """The digits classifier in eval mode without gradients.

    Args:
        weights: a file written by ``train_digits_classifier`` (default: the shipped weights).
        device: where to put it.
    """
    path = Path(weights) if weights is not None else DIGITS_CLASSIFIER_WEIGHTS
    if not path.is_file():
        hint = (
            "the shipped weights are missing from the installation: reinstall lit-gen or run "
            "`python -m lit_gen.metrics.train_digits_classifier`"
            if weights is None else "give the path of a file written by `python -m lit_gen.metrics.train_digits_classifier`"
        )
        raise UserError(f"digits classifier weights not found at {path}: {hint}")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
        net = DigitsCNN(**record["config"])
        net.load_state_dict(record["state_dict"])
    except Exception as error:  # unpickling, missing keys and shape mismatches all mean "not our file"
        raise CorruptDataError(
            f"{path} is not a digits classifier weights file written by "
            f"`python -m lit_gen.metrics.train_digits_classifier` ({type(error).__name__}: {error})"
        ) from error
    classifier = DigitsClassifier(net, record.get("meta"))
    return classifier.to(device).eval().requires_grad_(False)


class DigitsFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity feature extractor ``"lit-gen-digits"`` over the digits classifier.

    Provides ``"features"`` (64 penultimate activations; FID, KID, precision/recall) and
    ``"logits"`` (10 classes; Inception Score). Takes uint8 ``(N, 1 or 3, H, W)`` images as
    torch-fidelity's extractors do. ``feature_extractor_weights_path`` (torch-fidelity's keyword)
    selects other weights than the shipped ones.
    """

    def __init__(self, name: str, features_list, feature_extractor_weights_path: str | None = None, **kwargs):
        super().__init__(name, features_list)
        self.classifier = load_digits_classifier(feature_extractor_weights_path)

    @staticmethod
    def get_provided_features_list():
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 1, INPUT_SIZE, INPUT_SIZE, dtype=torch.uint8)

    def forward(self, x: Tensor):
        vassert(torch.is_tensor(x) and x.dtype == torch.uint8, "Expecting image as torch.Tensor with dtype=torch.uint8")
        net = self.classifier.net
        features = net.features(prepare_digits(x))
        out = {"features": features, "logits": net.head(features)}
        return tuple(out[name] for name in self.features_list)


def _register() -> None:
    if DIGITS_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(DIGITS_EXTRACTOR, DigitsFeatureExtractor)


_register()
