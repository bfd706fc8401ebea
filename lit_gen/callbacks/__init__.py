"""Lightning callbacks: image grids, generative metrics, mode coverage on 2-D mixtures, fault
tolerance (exact resume, divergence stop, SLURM pre-emption; the CLI adds these by default) and
prediction writing."""

from lit_gen.callbacks.fault_tolerance import (
    InterruptCheckpoint,
    NonFiniteLossGuard,
    RandomState,
    SlurmRequeue,
)
from lit_gen.callbacks.images import ImageGrids
from lit_gen.callbacks.metrics import GenerativeMetrics
from lit_gen.callbacks.mode_coverage import ModeCoverage
from lit_gen.callbacks.predictions import PredictionWriter
from lit_gen.callbacks.progress import ThrottledRichProgressBar

__all__ = [
    "GenerativeMetrics",
    "ImageGrids",
    "InterruptCheckpoint",
    "ModeCoverage",
    "NonFiniteLossGuard",
    "PredictionWriter",
    "RandomState",
    "SlurmRequeue",
    "ThrottledRichProgressBar",
]
