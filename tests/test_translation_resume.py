"""CycleGAN exact resume: a run interrupted in the middle of an epoch and resumed from its
checkpoint ends with the same four networks, optimizer moments, learning-rate schedule, step
counters, image pools and EMA generators (with the noisy cycle drawing noise) as an uninterrupted run of the same length (CPU, deterministic mode).

What has to travel in the checkpoint for that: the weights and Adam moments (Lightning), the two
``LinearDecay`` schedulers (Lightning, stepped per epoch by the module), the global random states
(``RandomState``), the position in the epoch (``ResumableSampler``), the unaligned B partners
(drawn by ``UnalignedSampler`` from ``(seed, epoch)``, not from the global RNG, since the loader
fetches ahead of the step a checkpoint is taken at), and both image pools: their stored fakes,
fill count and coin-flip generator (``CycleGAN.on_save_checkpoint``)."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from lit_gen.cli import run
from lit_gen.data.base import UnalignedSampler


class StopAt(L.Callback):
    """Raises KeyboardInterrupt (as Ctrl-C would) once ``at_step`` optimizer steps are done."""

    def __init__(self, at_step: int = 12):
        self.at_step = at_step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.at_step:
            raise KeyboardInterrupt


def cyclegan_args(run_dir, epochs: int) -> list[str]:
    return [
        "fit",
        "--model=lit_gen.models.CycleGAN",
        "--model.ngf=4",
        "--model.ndf=4",
        "--model.n_blocks=1",
        "--model.n_layers=1",
        "--model.pool_size=3",
        "--model.n_epochs=1",
        "--model.n_epochs_decay=2",
        "--model.cycle_noise_std=0.1",  # draws from the global generator at every step
        "--model.ema_decay=0.9",  # EMA generators and their update count travel too
        "--data=lit_gen.data.DigitThinningDataModule",
        "--data.image_size=16",
        "--data.batch_size=2",
        "--data.jitter=2",  # shifts drawn from the global generator at step time
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        "--trainer.deterministic=true",
        f"--trainer.max_epochs={epochs}",
        "--trainer.limit_train_batches=4",
        "--trainer.limit_val_batches=1",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--run_dir",
        str(run_dir),
    ]


def test_cyclegan_stopped_mid_epoch_and_resumed_equals_an_uninterrupted_run(tmp_path):
    reference = run(cyclegan_args(tmp_path / "reference", epochs=3))
    assert reference.trainer.global_step == 24  # 3 epochs x 4 batches x (G step + D step)

    run_dir = tmp_path / "resumed"
    run(cyclegan_args(run_dir, epochs=1))  # ends after epoch 0: last.ckpt
    with pytest.raises(SystemExit):  # killed after 2 of epoch 1's 4 batches: interrupted.ckpt
        run(
            [
                *cyclegan_args(run_dir, epochs=3),
                "--ckpt_path",
                str(run_dir / "checkpoints/last.ckpt"),
                "--trainer.callbacks+=test_translation_resume.StopAt",
                "--trainer.callbacks.init_args.at_step=12",
            ]
        )
    stopped = torch.load(run_dir / "checkpoints/interrupted.ckpt", weights_only=True)
    assert stopped["global_step"] == 12 and stopped["image_pools"]["a"]["count"] == 3
    resumed = run(
        [
            *cyclegan_args(run_dir, epochs=3),
            "--ckpt_path",
            str(run_dir / "checkpoints/interrupted.ckpt"),
        ]
    )
    assert resumed.trainer.global_step == 24 and resumed.trainer.current_epoch == 3

    expected, got = reference.model.state_dict(), resumed.model.state_dict()
    assert expected.keys() == got.keys() and any(k.startswith("disc_a.") for k in got)
    assert int(got["gen_ba_ema.n_averaged"]) == 12  # one update per generator step
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    for ref_opt, res_opt in zip(
        reference.trainer.optimizers, resumed.trainer.optimizers, strict=True
    ):
        ref_state, res_state = ref_opt.state_dict(), res_opt.state_dict()
        assert ref_state["param_groups"][0]["lr"] == res_state["param_groups"][0]["lr"] == 0.0
        for index in ref_state["state"]:
            for key in ("exp_avg", "exp_avg_sq", "step"):
                assert torch.equal(
                    ref_state["state"][index][key], res_state["state"][index][key]
                ), (index, key)
    for ref_sched, res_sched in zip(
        reference.model.lr_schedulers(), resumed.model.lr_schedulers(), strict=True
    ):
        assert ref_sched.last_epoch == res_sched.last_epoch == 3
    for pool in ("pool_a", "pool_b"):
        ref_pool, res_pool = getattr(reference.model, pool), getattr(resumed.model, pool)
        assert ref_pool.count == res_pool.count == 3
        assert torch.equal(ref_pool.images, res_pool.images)
        assert torch.equal(ref_pool.generator.get_state(), res_pool.generator.get_state())


def test_unaligned_partners_depend_on_seed_and_epoch_and_survive_a_mid_epoch_resume():
    dataset = list(range(10))
    sampler = UnalignedSampler(dataset, num_partners=7, seed=3)
    sampler.set_epoch(1)
    full = list(sampler)
    assert sorted(a for a, _ in full) == list(range(10)) and all(0 <= b < 7 for _, b in full)
    torch.manual_seed(123)  # the global RNG plays no part
    assert list(sampler) == full
    sampler.resume_at(1, 4)
    assert list(sampler) == full[4:]
    sampler.set_epoch(2)
    assert [b for _, b in sampler] != [b for _, b in full]
    # DDP shards: the two ranks' pairs together are one epoch's positions, each once
    shards = [UnalignedSampler(dataset, 7, seed=3) for _ in range(2)]
    for rank, shard in enumerate(shards):
        shard.num_replicas, shard.rank = 2, rank
        shard.num_samples, shard.total_size = 5, 10
        shard.set_epoch(1)
    assert sorted(pair for shard in shards for pair in shard) == sorted(full)
