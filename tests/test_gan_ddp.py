"""DDP with 2 CPU processes (gloo): a GAN with a gradient penalty, n_critic = 2 and a generator
EMA trains and both ranks end with identical parameters (and EMA), having drawn different noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).resolve().parent / "scripts" / "ddp_gan.py"


def test_two_process_ddp_ends_with_identical_weights(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    }
    env.pop("LOCAL_RANK", None)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    # 4 batches per rank; a generator step after every second critic step
    assert [(r["critic_steps"], r["generator_steps"], r["global_step"]) for r in ranks] == [
        (4, 2, 6)
    ] * 2
    first, second = (r["state"] for r in ranks)
    assert first.keys() == second.keys() and any(k.startswith("generator_ema.") for k in first)
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0, msg=key)
    assert not torch.equal(ranks[0]["noise"], ranks[1]["noise"])
