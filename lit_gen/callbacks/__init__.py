"""Lightning callbacks: image grids and generative metrics."""

from lit_gen.callbacks.images import ImageGrids
from lit_gen.callbacks.metrics import GenerativeMetrics

__all__ = ["GenerativeMetrics", "ImageGrids"]
