"""Lightning callbacks: image grids (and generative metrics)."""

from lit_gen.callbacks.images import ImageGrids

__all__ = ["ImageGrids"]
