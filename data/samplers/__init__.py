"""Batch samplers, selected by ``sampler.name``."""
from __future__ import annotations

import argparse
from typing import Any, Tuple

from data.samplers.base import SAMPLER_REGISTRY, BaseBatchSampler, dist_info
from data.samplers.batch_sampler import BatchSampler
from data.samplers.variable_batch_sampler import VariableBatchSampler, image_batch_pairs
from utils.opts import add_options


def build_sampler(opts: Any, n_samples: int, is_training: bool) -> BaseBatchSampler:
    return SAMPLER_REGISTRY.get(getattr(opts, "sampler.name"))(opts, n_samples, is_training)


def crop_size(opts: Any) -> Tuple[int, int]:
    """``(height, width)`` of the configured sampler's base crop (``sampler.vbs.*`` for the variable
    batch sampler, else ``sampler.bs.*``): the size a config's model is trained, evaluated, timed
    and exported at unless told otherwise."""
    key = "sampler.vbs" if str(getattr(opts, "sampler.name")).startswith("variable") else "sampler.bs"
    return int(getattr(opts, f"{key}.crop_size_height")), int(getattr(opts, f"{key}.crop_size_width"))


def arguments_samplers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Samplers")
    add_options(group, "--sampler", [("name", "batch_sampler", "batch sampler", dict(choices=SAMPLER_REGISTRY.names()))])
    SAMPLER_REGISTRY.add_arguments(parser)
    return parser


__all__ = ["SAMPLER_REGISTRY", "BaseBatchSampler", "BatchSampler", "VariableBatchSampler", "build_sampler",
           "crop_size", "image_batch_pairs", "arguments_samplers", "dist_info"]
