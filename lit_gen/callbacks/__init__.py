"""Lightning callbacks: image grids, mode coverage on 2-D mixtures (and generative metrics)."""

from lit_gen.callbacks.images import ImageGrids
from lit_gen.callbacks.mode_coverage import ModeCoverage

__all__ = ["ImageGrids", "ModeCoverage"]
