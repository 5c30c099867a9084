"""Fixed-resolution batches."""
from __future__ import annotations

import argparse
import random
from typing import Any, List

from data.samplers.base import SAMPLER_REGISTRY, Batch, BaseBatchSampler
from utils.opts import add_options


@SAMPLER_REGISTRY.register("batch_sampler", "batch_sampler_ddp")
class BatchSampler(BaseBatchSampler):
    """Batches of ``dataset.*_batch_size0`` samples at ``sampler.bs.crop_size_{height,width}``; the
    last training batch of a rank is filled up from the start of its shard."""

    def __init__(self, opts: Any, n_samples: int, is_training: bool) -> None:
        super().__init__(opts, n_samples, is_training)
        self.crop_h = int(getattr(opts, "sampler.bs.crop_size_height"))
        self.crop_w = int(getattr(opts, "sampler.bs.crop_size_width"))

    def _make_plan(self, rng: random.Random) -> List[Batch]:
        indices = self.rank_indices(rng)
        return [self.batch(indices, start, self.batch_size, self.crop_h, self.crop_w)
                for start in range(0, len(indices), self.batch_size)]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Batch sampler (sampler.name: batch_sampler)")
        add_options(group, "--sampler.bs", [("crop-size-width", 256, "crop width"), ("crop-size-height", 256, "crop height")])
        return parser

    def __repr__(self) -> str:
        return f"BatchSampler(crop=({self.crop_h}, {self.crop_w}), batch_size={self.batch_size})"
