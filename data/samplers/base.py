"""Batch samplers yield lists of ``(crop_h, crop_w, index, seed)``: the dataset crops each sample to
the batch's size, so a batch can change resolution from one step to the next, and draws the
sample's random augmentations from ``seed`` (a function of ``common.seed``, the epoch and the
index), so they do not depend on the number of loading processes or on where a run resumed.

Distributed runs: every rank reads a disjoint shard (``indices[rank::world_size]``) of one
permutation that all ranks draw from the same seed, and makes the same resolution choices, so
all ranks run the same number of steps at the same resolution. Training shards are padded with
the first indices to equal length; validation shards are not, so every sample counts once.
"""
from __future__ import annotations

import argparse
import math
import random
from typing import Any, Iterator, List, Tuple

import torch.distributed as dist
from torch.utils.data import Sampler

from utils.errors import ConfigError
from utils.random_state import sample_seeds
from utils.registry import Registry

SAMPLER_REGISTRY = Registry("sampler", option="sampler.name")

Batch = List[Tuple[int, int, int, int]]


def dist_info() -> Tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class BaseBatchSampler(Sampler):
    def __init__(self, opts: Any, n_samples: int, is_training: bool) -> None:
        self.rank, self.world_size = dist_info()
        key = "dataset.train_batch_size0" if is_training else "dataset.val_batch_size0"
        self.batch_size = int(getattr(opts, key))
        if self.batch_size < 1:
            raise ConfigError(f"{key} must be at least 1, got {self.batch_size}")
        self.n_samples, self.is_training, self.shuffle = n_samples, is_training, is_training
        self.seed = int(getattr(opts, "common.seed"))
        self.epoch = 0
        self.start_step = 0
        self._plan_epoch, self._plan = None, []

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        """Serve the batches of ``epoch`` from its ``start_step``-th on (a resumed epoch skips those
        it already trained on)."""
        self.epoch, self.start_step = epoch, start_step

    def update_scales(self, epoch: int) -> None:
        """Hook for samplers whose scales change during training."""

    def rank_indices(self, rng: random.Random) -> List[int]:
        indices = list(range(self.n_samples))
        if self.shuffle:
            rng.shuffle(indices)
        if self.is_training and self.world_size > 1:
            total = int(math.ceil(self.n_samples / self.world_size)) * self.world_size
            indices += indices[:total - self.n_samples]
        return indices[self.rank::self.world_size]

    def batch(self, indices: List[int], start: int, size: int, h: int, w: int) -> Batch:
        """``size`` samples of ``indices`` from ``start`` at ``h x w``; a short last training batch
        is filled up from the start of the shard (validation keeps it short)."""
        ids = indices[start:start + size]
        if self.is_training and len(ids) < size:
            ids = ids + indices[:size - len(ids)]
        return [(h, w, i, seed) for i, seed in zip(ids, sample_seeds(self.seed, self.epoch, ids))]

    def plan(self) -> List[Batch]:
        """This epoch's batches (computed once per epoch)."""
        if self._plan_epoch != self.epoch:
            self._plan = self._make_plan(random.Random(self.seed * 100003 + self.epoch))
            self._plan_epoch = self.epoch
        return self._plan

    def _make_plan(self, rng: random.Random) -> List[Batch]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Batch]:
        return iter(self.plan()[self.start_step:])

    def __len__(self) -> int:
        return len(self.plan()) - min(self.start_step, len(self.plan()))

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return parser
