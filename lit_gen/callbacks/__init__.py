"""Lightning callbacks: image grids, and fault tolerance (exact resume, divergence stop, SLURM
pre-emption); the CLI adds them by default."""

from lit_gen.callbacks.fault_tolerance import (
    InterruptCheckpoint,
    NonFiniteLossGuard,
    RandomState,
    SlurmRequeue,
)
from lit_gen.callbacks.images import ImageGrids

__all__ = ["ImageGrids", "InterruptCheckpoint", "NonFiniteLossGuard", "RandomState", "SlurmRequeue"]
