"""Lightning callbacks: image grids, generative metrics and prediction writing."""

from lit_gen.callbacks.images import ImageGrids
from lit_gen.callbacks.metrics import GenerativeMetrics
from lit_gen.callbacks.predictions import PredictionWriter

__all__ = ["GenerativeMetrics", "ImageGrids", "PredictionWriter"]
