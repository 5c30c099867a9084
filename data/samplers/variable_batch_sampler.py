"""Multi-scale training (MobileViT's variable batch sampler): each batch takes one of several
resolutions, with a batch size that keeps the pixels per batch about constant."""
from __future__ import annotations

import argparse
import random
from typing import Any, List, Tuple

import numpy as np

from data.samplers.base import SAMPLER_REGISTRY, Batch, BaseBatchSampler
from utils.errors import ConfigError
from utils.math_utils import make_divisible
from utils.opts import add_options


def image_batch_pairs(crop_h: int, crop_w: int, batch_size: int, n_replicas: int, max_scales: int,
                      check_scale: int, min_h: int, max_h: int, min_w: int, max_w: int) -> List[Tuple[int, int, int]]:
    """Sorted ``(h, w, batch_size)`` triples: ``max_scales`` sizes spaced evenly from the minimum to
    the maximum crop (plus the base crop), each rounded to a multiple of ``check_scale``, and a
    batch size ``max(batch_size, round(base_pixels * batch_size / (h * w)))`` rounded to a multiple
    of ``n_replicas``."""
    heights = list(np.linspace(min_h, max_h, max_scales))
    widths = list(np.linspace(min_w, max_w, max_scales))
    if crop_h not in heights:
        heights.append(crop_h)
    if crop_w not in widths:
        widths.append(crop_w)
    scales = {(make_divisible(h, check_scale), make_divisible(w, check_scale)) for h, w in zip(heights, widths)}
    pixels = crop_h * crop_w * batch_size
    triples = set()
    for h, w in scales:
        size = max(batch_size, int(round(pixels / (h * w), 2)))
        triples.add((h, w, make_divisible(size, n_replicas)))
    return sorted(triples)


@SAMPLER_REGISTRY.register("variable_batch_sampler", "variable_batch_sampler_ddp")
class VariableBatchSampler(BaseBatchSampler):
    def __init__(self, opts: Any, n_samples: int, is_training: bool) -> None:
        super().__init__(opts, n_samples, is_training)
        key = "sampler.vbs"
        self.crop_h = int(getattr(opts, f"{key}.crop_size_height"))
        self.crop_w = int(getattr(opts, f"{key}.crop_size_width"))
        self.min_h = int(getattr(opts, f"{key}.min_crop_size_height"))
        self.max_h = int(getattr(opts, f"{key}.max_crop_size_height"))
        self.min_w = int(getattr(opts, f"{key}.min_crop_size_width"))
        self.max_w = int(getattr(opts, f"{key}.max_crop_size_width"))
        self.max_scales = int(getattr(opts, f"{key}.max_n_scales"))
        self.check_scale = int(getattr(opts, f"{key}.check_scale"))
        self.scale_inc = bool(getattr(opts, f"{key}.scale_inc"))
        self.scale_inc_factor = float(getattr(opts, f"{key}.scale_inc_factor"))
        self.ep_intervals = list(getattr(opts, f"{key}.ep_intervals") or [])
        if not (0 < self.min_h <= self.max_h and 0 < self.min_w <= self.max_w):
            raise ConfigError(f"sampler.vbs: the minimum crop size ({self.min_h}x{self.min_w}) must be positive and "
                              f"not above the maximum ({self.max_h}x{self.max_w})")
        if self.max_scales < 1 or self.check_scale < 1:
            raise ConfigError("sampler.vbs.max_n_scales and sampler.vbs.check_scale must be at least 1")
        self.pairs = self._pairs() if is_training else [(self.crop_h, self.crop_w, self.batch_size)]

    def _pairs(self) -> List[Tuple[int, int, int]]:
        return image_batch_pairs(self.crop_h, self.crop_w, self.batch_size, self.world_size, self.max_scales,
                                 self.check_scale, self.min_h, self.max_h, self.min_w, self.max_w)

    def update_scales(self, epoch: int) -> None:
        if self.scale_inc and epoch in self.ep_intervals:
            grow = lambda v: v + int(v * self.scale_inc_factor)  # noqa: E731
            self.min_h, self.max_h = grow(self.min_h), grow(self.max_h)
            self.min_w, self.max_w = grow(self.min_w), grow(self.max_w)
            self.pairs = self._pairs()
            self._plan_epoch = None

    def _make_plan(self, rng: random.Random) -> List[Batch]:
        indices = self.rank_indices(rng)
        pairs = list(self.pairs)
        if self.shuffle:
            rng.shuffle(pairs)
        batches, start = [], 0
        while start < len(indices):
            h, w, size = rng.choice(pairs)
            batches.append(self.batch(indices, start, size, h, w))
            start += size
        return batches

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Variable batch sampler (sampler.name: variable_batch_sampler)")
        add_options(group, "--sampler.vbs", [
            ("crop-size-width", 256, "base crop width"),
            ("crop-size-height", 256, "base crop height"),
            ("min-crop-size-width", 160, "smallest crop width"),
            ("max-crop-size-width", 320, "largest crop width"),
            ("min-crop-size-height", 160, "smallest crop height"),
            ("max-crop-size-height", 320, "largest crop height"),
            ("max-n-scales", 5, "number of resolutions"),
            ("check-scale", 32, "resolutions are rounded to multiples of this"),
            ("scale-inc", False, "grow the resolutions at the epochs of ep-intervals"),
            ("scale-inc-factor", 0.25, "growth factor"),
            ("ep-intervals", [40], "epochs at which the resolutions grow"),
        ])
        return parser

    def __repr__(self) -> str:
        return f"VariableBatchSampler(base=({self.crop_h}, {self.crop_w}), scales={self.pairs})"
