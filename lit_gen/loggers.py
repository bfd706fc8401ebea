"""The CSV log of a run directory, kept across resumes.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it starts, so resuming into the
same run directory (``--run_dir DIR --ckpt_path ...``, a SLURM requeue) would erase the training
curve logged before the interruption. :class:`RunCSVLogger` keeps the earlier rows instead: when
the resumed run writes its first metrics at step ``s``, rows of the previous segment from step
``s`` on (logged after the checkpoint it resumed from, and about to be logged again) are dropped
and the rest is kept. A fresh run in a reused directory starts at step 0 and so replaces them all.
"""

from __future__ import annotations

import csv

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class _ContinuingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        self._previous: tuple[list[str], list[dict[str, str]]] | None = None
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                reader = csv.DictReader(file)
                self._previous = (list(reader.fieldnames or []), list(reader))

    def save(self) -> None:
        if self._previous is not None and self.metrics:
            header, rows = self._previous
            self._previous = None
            first_step = min(int(m["step"]) for m in self.metrics)
            kept = [r for r in rows if r.get("step") and int(float(r["step"])) < first_step]
            self.metrics_keys = sorted(set(header))
            with self._fs.open(self.metrics_file_path, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(kept)
        super().save()


class RunCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``metrics.csv`` survives a resume into the same directory."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is not None:
            return self._experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = _ContinuingWriter(log_dir=self.log_dir)
        return self._experiment
