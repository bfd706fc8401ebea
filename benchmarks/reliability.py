"""Reliability figures for benchmarks/RESULTS.md: DDP agreement, resume equality, SLURM.

    PYTHONPATH=.:tests python benchmarks/reliability.py [--only ddp,resume,slurm]

* ``ddp``: ``lit-gen fit`` with 2 CPU processes (gloo) per model; the largest difference between
  the two ranks' final weights, and each validation metric logged under DDP against the same
  metric from a single-process ``lit-gen validate`` of the final checkpoint.
* ``resume``: an uninterrupted run against a run stopped at the end of epoch 0 (``last.ckpt``),
  resumed, interrupted mid-epoch 1 (``interrupted.ckpt``) and resumed again; the largest weight
  difference, with lit-gen's resume state, and with the random states not restored (what
  Lightning alone does) to show what that state is for.
* ``slurm``: the real one-node SLURM cluster test, with its outcome and duration.

Prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
torch.set_num_threads(1)
os.environ.setdefault("WANDB_MODE", "disabled")

from lit_gen.callbacks.fault_tolerance import RandomState  # noqa: E402
from lit_gen.cli import run  # noqa: E402


class RandomStateNotRestored(RandomState):
    """Saves the random states but does not restore them (Lightning's own behaviour)."""

    def on_train_start(self, trainer, pl_module):
        self._to_restore = None


def max_difference(a: dict, b: dict) -> float:
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def ddp_table() -> list[str]:
    from test_ddp import ddp_fit

    rows = ["| model | strategy | steps | max abs weight difference, rank 0 vs 1 | metric | DDP (2 ranks) | single process | relative difference |",
            "|---|---|---|---|---|---|---|---|"]
    cases = [("configs/quickstart/vae.yaml", "ddp", ["val/kl", "val/loss"]),
             ("configs/quickstart/denoising_autoencoder.yaml", "ddp_find_unused_parameters_true", ["val/psnr", "val/loss"])]
    for config, strategy, metrics in cases:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = ddp_fit(str(ROOT / config), Path(tmp), f"--trainer.strategy={strategy}", "--trainer.max_epochs=2",
                             "--trainer.limit_train_batches=4", "--trainer.num_sanity_val_steps=0")
            seconds = time.perf_counter() - start
            if result.returncode:
                raise RuntimeError(result.stderr[-3000:])
            (run_dir,) = Path(tmp).glob("runs/*/version_0")
            rank0, rank1 = (torch.load(run_dir / f"probe_rank{r}.pt", weights_only=True) for r in (0, 1))
            single = run(["validate", "--config", str(ROOT / config), "--trainer.accelerator=cpu", "--trainer.devices=1",
                          "--trainer.enable_progress_bar=false", "--ckpt_path", str(run_dir / "checkpoints/last.ckpt"),
                          "--run_dir", str(Path(tmp) / "single")])
            difference = max_difference(rank0["state_dict"], rank1["state_dict"])
            for metric in metrics:
                ddp_value = rank0["metrics"][metric]
                single_value = single.trainer.callback_metrics[metric].item()
                note = " (sampled: equal in expectation)" if metric == "val/loss" else ""
                rows.append(f"| {Path(config).stem} | {strategy} | 8 ({seconds:.0f} s) | {difference:.1e} | {metric}{note} | "
                            f"{ddp_value:.6f} | {single_value:.6f} | {abs(ddp_value - single_value) / abs(single_value):.1e} |")
    return rows


def _args(config: str, run_dir: Path, epochs: int) -> list[str]:
    from test_resume import _args as test_args

    return test_args(config, run_dir, epochs)


def resume_table() -> list[str]:
    rows = ["| model | resume state | steps | max abs weight difference, resumed vs uninterrupted |", "|---|---|---|---|"]
    for config in ("configs/quickstart/denoising_autoencoder.yaml", "configs/quickstart/vae.yaml"):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            reference = run(_args(str(ROOT / config), tmp / "reference", epochs=3))
            expected = {k: v.detach().clone() for k, v in reference.model.state_dict().items()}
            for label, extra in (("lit-gen (random states, data position, counters)", []),
                                 ("random states not restored", ["--trainer.callbacks+=reliability.RandomStateNotRestored"])):
                run_dir = tmp / label.split()[0]
                run([*_args(str(ROOT / config), run_dir, epochs=1), *extra])
                try:
                    run([*_args(str(ROOT / config), run_dir, epochs=3), *extra, "--ckpt_path", str(run_dir / "checkpoints/last.ckpt"),
                         "--trainer.callbacks+=test_resume.CtrlC", "--trainer.callbacks.init_args.at_step=7"])
                except SystemExit:
                    pass
                resumed = run([*_args(str(ROOT / config), run_dir, epochs=3), *extra,
                               "--ckpt_path", str(run_dir / "checkpoints/interrupted.ckpt")])
                got = {k: v.detach() for k, v in resumed.model.state_dict().items()}
                rows.append(f"| {Path(config).stem} | {label} | 15 (stops at 5 and 7) | {max_difference(expected, got):.1e} |")
    return rows


def slurm_table() -> list[str]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "tests/test_slurm.py", "-k", "real"],
                            cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    summary = [line for line in result.stdout.splitlines() if line.strip()][-1]
    return ["| test | outcome | wall time |", "|---|---|---|",
            f"| tests/test_slurm.py::test_real_slurm_ddp_job_is_requeued_and_resumes | {summary} | {seconds:.0f} s |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="ddp,resume,slurm")
    chosen = parser.parse_args().only.split(",")
    tables = {"ddp": ddp_table, "resume": resume_table, "slurm": slurm_table}
    for name in chosen:
        print(f"\n### {name}\n")
        print("\n".join(tables[name]()))


if __name__ == "__main__":
    main()
