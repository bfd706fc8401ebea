"""Lightning callbacks: image grids (and generative metrics)."""

from lit_gen.callbacks.images import ImageGrids
from lit_gen.callbacks.predictions import PredictionWriter

__all__ = ["ImageGrids", "PredictionWriter"]
