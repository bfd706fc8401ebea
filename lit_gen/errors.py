"""User-facing errors.

A :class:`UserError` is a mistake the user can fix (missing data, a wrong image size for a
network, a missing weights file). ``lit-gen`` prints its message on one line and exits with
status 2 instead of showing a traceback; library callers get the exception itself.
"""

from __future__ import annotations


class UserError(Exception):
    """An actionable error caused by the user's input, configuration or environment."""


class DatasetNotFoundError(UserError, FileNotFoundError):
    """The dataset is not on disk and could not (or may not) be downloaded."""


class CorruptDataError(UserError, ValueError):
    """A data file exists but cannot be read."""


class ConfigurationError(UserError, ValueError):
    """Hyperparameters that contradict each other or the data (e.g. image size vs network)."""


class TrainingDivergedError(UserError, FloatingPointError):
    """A training loss became NaN or infinite (usually a learning rate too high for the model)."""
