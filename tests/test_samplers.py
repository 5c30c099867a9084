import pytest

import data.samplers.base as sampler_base
from conftest import training_opts
from data.samplers import BatchSampler, VariableBatchSampler, image_batch_pairs

VBS = ["--sampler.name", "variable_batch_sampler", "--dataset.train-batch-size0", "128"]


def test_scales_and_batch_sizes_by_hand():
    # sides 160, 200, 240, 280, 320 and 256 rounded to multiples of 32: 160, 192, 256, 288, 320;
    # batch = max(128, round(256 * 256 * 128 / side ** 2)): 327, 227, 128, 128, 128
    pairs = image_batch_pairs(256, 256, 128, 1, 5, 32, 160, 320, 160, 320)
    assert pairs == [(160, 160, 327), (192, 192, 227), (256, 256, 128), (288, 288, 128), (320, 320, 128)]
    # with 8 processes each batch size is a multiple of 8
    assert [b for _, _, b in image_batch_pairs(256, 256, 128, 8, 5, 32, 160, 320, 160, 320)] == [328, 224, 128,
                                                                                               128, 128]


def test_variable_batches_use_the_scales_and_cover_the_data():
    sampler = VariableBatchSampler(training_opts(VBS), 1000, is_training=True)
    seen = []
    for batch in sampler:
        sizes = {(h, w) for h, w, _, _ in batch}
        assert len(sizes) == 1
        (h, w), = sizes
        assert (h, w, len(batch)) in sampler.pairs
        seen += [i for _, _, i, _ in batch]
    assert set(seen) == set(range(1000))
    assert len(sampler) == len(sampler.plan())


def test_epochs_reshuffle_deterministically():
    opts = training_opts(VBS)
    a, b = VariableBatchSampler(opts, 500, True), VariableBatchSampler(opts, 500, True)
    a.set_epoch(3), b.set_epoch(3)
    assert list(a) == list(b)
    b.set_epoch(4)
    assert list(a) != list(b)


def test_validation_batches_are_fixed_and_in_order():
    opts = training_opts(VBS + ["--dataset.val-batch-size0", "64"])
    batches = list(VariableBatchSampler(opts, 150, is_training=False))
    assert [len(b) for b in batches] == [64, 64, 22]
    assert [i for b in batches for _, _, i, _ in b] == list(range(150))
    assert {(h, w) for b in batches for h, w, _, _ in b} == {(256, 256)}


@pytest.mark.parametrize("cls, args", [(VariableBatchSampler, VBS), (BatchSampler, ["--dataset.train-batch-size0",
                                                                                    "16"])])
def test_distributed_shards_are_disjoint_and_in_step(monkeypatch, cls, args):
    opts = training_opts(args)
    plans = []
    for rank in range(3):
        monkeypatch.setattr(sampler_base, "dist_info", lambda rank=rank: (rank, 3))
        sampler = cls(opts, 999, is_training=True)
        sampler.set_epoch(5)
        plans.append(list(sampler))
    assert len({len(p) for p in plans}) == 1
    for steps in zip(*plans):  # same resolution at the same step on every rank
        assert len({(b[0][0], b[0][1], len(b)) for b in steps}) == 1
    shards = [set(i for batch in plan for _, _, i, _ in batch) for plan in plans]
    assert not (shards[0] & shards[1]) and not (shards[1] & shards[2]) and not (shards[0] & shards[2])
    assert set().union(*shards) == set(range(999))


def test_validation_shards_count_every_sample_once(monkeypatch):
    opts = training_opts(["--dataset.val-batch-size0", "10"])
    seen = []
    for rank in range(2):
        monkeypatch.setattr(sampler_base, "dist_info", lambda rank=rank: (rank, 2))
        seen += [i for batch in BatchSampler(opts, 25, is_training=False) for _, _, i, _ in batch]
    assert sorted(seen) == list(range(25))


def test_bad_scale_range_is_reported():
    from utils.errors import ConfigError

    opts = training_opts(VBS + ["--sampler.vbs.min-crop-size-width", "400"])
    with pytest.raises(ConfigError, match="minimum crop size"):
        VariableBatchSampler(opts, 10, True)


def test_a_resumed_epoch_serves_the_remaining_batches_with_the_same_sample_seeds():
    opts = training_opts(["--dataset.train-batch-size0", "10"])
    whole, resumed = BatchSampler(opts, 95, is_training=True), BatchSampler(opts, 95, is_training=True)
    whole.set_epoch(2)
    resumed.set_epoch(2, start_step=4)
    assert len(resumed) == len(whole) - 4 == 6
    assert list(resumed) == list(whole)[4:]
    seeds = {(i, seed) for batch in whole for _, _, i, seed in batch}
    assert len({seed for _, seed in seeds}) == len({i for i, _ in seeds}) == 95  # one seed per sample
    whole.set_epoch(3)
    assert not {seed for _, seed in seeds} & {seed for batch in whole for _, _, _, seed in batch}


def test_sample_seeds_are_numpys_seed_sequence_words():
    import numpy as np

    from utils.random_state import sample_seed, sample_seeds

    rng = np.random.default_rng(3)
    for seed, epoch in [(0, 0), (1234, 299), (2 ** 32 - 1, 7), (2 ** 32, 1)]:  # the last: outside 32 bits
        indices = [0, 1, 2 ** 31, 2 ** 32 - 1, *rng.integers(0, 1_300_000, 50).tolist()]
        expected = [int(np.random.SeedSequence([seed, epoch, i]).generate_state(1, dtype=np.uint64)[0] >> 1)
                    for i in indices]
        assert sample_seeds(seed, epoch, indices) == expected
        assert sample_seed(seed, epoch, indices[-1]) == expected[-1]
    assert sample_seeds(0, 0, []) == []


def test_seeded_draws_seeds_only_the_named_generators_and_gives_the_states_back(monkeypatch):
    import random

    import numpy as np
    import torch

    from utils.random_state import seeded_draws

    def draws():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    def states():
        return random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state().tolist()

    with seeded_draws(5):
        seeded = draws()
    before = states()
    with seeded_draws(5, ("python",)):
        python, numpy_, torch_ = draws()
    assert python == seeded[0] and numpy_ != seeded[1] and torch_ != seeded[2]
    assert states()[0] == before[0] and states()[1:] != before[1:]  # numpy and torch drew from the process's own
    after = states()
    with seeded_draws(5, ("numpy", "torch")):
        assert (float(np.random.rand()), float(torch.rand(1))) == seeded[1:]
    assert states() == after
    # the CPU generator alone: torch.manual_seed would also seed every accelerator's generators
    monkeypatch.setattr(torch, "manual_seed", lambda seed: (_ for _ in ()).throw(AssertionError("manual_seed")))
    with seeded_draws(5, ("torch",)):
        assert float(torch.rand(1)) == seeded[2]
