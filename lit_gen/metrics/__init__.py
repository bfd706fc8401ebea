"""Evaluation of generative models: FID, IS, KID and precision/recall through torch-fidelity,
the digits feature extractor, and the images a metric is computed on (see
:mod:`lit_gen.metrics.fidelity` and :mod:`lit_gen.metrics.generation`)."""

from lit_gen.metrics.digits_classifier import (
    DIGITS_CLASSIFIER_WEIGHTS,
    DIGITS_EXTRACTOR,
    DigitsClassifier,
    DigitsFeatureExtractor,
    load_digits_classifier,
)
from lit_gen.metrics.fidelity import (
    INCEPTION,
    INCEPTION_WEIGHTS_ENV,
    FidelityEvaluator,
    FidelityResult,
    ReferenceSet,
    datamodule_reference,
    resolve_inception_weights,
    to_uint8,
)
from lit_gen.metrics.generation import sample_chunks, translate_chunks

__all__ = [
    "DIGITS_CLASSIFIER_WEIGHTS",
    "DIGITS_EXTRACTOR",
    "INCEPTION",
    "INCEPTION_WEIGHTS_ENV",
    "DigitsClassifier",
    "DigitsFeatureExtractor",
    "FidelityEvaluator",
    "FidelityResult",
    "ReferenceSet",
    "datamodule_reference",
    "load_digits_classifier",
    "resolve_inception_weights",
    "sample_chunks",
    "to_uint8",
    "translate_chunks",
]
