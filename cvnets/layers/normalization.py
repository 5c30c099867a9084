"""Normalization layers, selected by ``model.normalization.name``."""
from __future__ import annotations

import argparse
import math
from typing import Any, Optional

from torch import nn

from utils.opts import add_options
from utils.registry import Registry

NORM_REGISTRY = Registry("normalization layer", option="model.normalization.name")

NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm, nn.LayerNorm, nn.GroupNorm,
              nn.InstanceNorm1d, nn.InstanceNorm2d)


@NORM_REGISTRY.register("batch_norm", "batch_norm_2d")
def _batch_norm_2d(num_features: int, momentum: float, groups: int) -> nn.Module:
    return nn.BatchNorm2d(num_features, momentum=momentum)


@NORM_REGISTRY.register("batch_norm_1d")
def _batch_norm_1d(num_features: int, momentum: float, groups: int) -> nn.Module:
    return nn.BatchNorm1d(num_features, momentum=momentum)


@NORM_REGISTRY.register("sync_batch_norm", "sbn")
def _sync_batch_norm(num_features: int, momentum: float, groups: int) -> nn.Module:
    # behaves as batch_norm in a single process; the engine swaps it for BatchNorm2d where a
    # distributed run cannot synchronise it (CPU)
    return nn.SyncBatchNorm(num_features, momentum=momentum)


@NORM_REGISTRY.register("group_norm", "gn")
def _group_norm(num_features: int, momentum: float, groups: int) -> nn.Module:
    return nn.GroupNorm(num_groups=math.gcd(num_features, groups), num_channels=num_features)


@NORM_REGISTRY.register("instance_norm", "instance_norm_2d")
def _instance_norm_2d(num_features: int, momentum: float, groups: int) -> nn.Module:
    return nn.InstanceNorm2d(num_features, momentum=momentum, affine=True, track_running_stats=True)


@NORM_REGISTRY.register("instance_norm_1d")
def _instance_norm_1d(num_features: int, momentum: float, groups: int) -> nn.Module:
    return nn.InstanceNorm1d(num_features, momentum=momentum, affine=True, track_running_stats=True)


@NORM_REGISTRY.register("layer_norm", "ln")
def _layer_norm(num_features: int, momentum: float, groups: int) -> nn.Module:
    return nn.LayerNorm(num_features)


@NORM_REGISTRY.register("identity")
def _identity(num_features: int, momentum: float, groups: int) -> nn.Module:
    return nn.Identity()


def build_normalization(opts: Any, num_features: int, name: Optional[str] = None) -> nn.Module:
    """The normalization layer configured by ``model.normalization.*`` (or ``name``)."""
    name = name if name is not None else getattr(opts, "model.normalization.name")
    make = NORM_REGISTRY.get(name.lower() if isinstance(name, str) else name)
    momentum = float(getattr(opts, "model.normalization.momentum"))
    groups = int(getattr(opts, "model.normalization.groups"))
    return make(num_features, momentum, groups)


def arguments_normalization(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Normalization layers")
    add_options(group, "--model.normalization", [
        ("name", "batch_norm", "normalization used by the model's layers", dict(choices=NORM_REGISTRY.names())),
        ("groups", 32, "groups of group_norm"),
        ("momentum", 0.1, "momentum of the running statistics"),
    ])
    return parser


class LayerNorm2d(nn.LayerNorm):
    """Layer normalization over the channels of an ``N x C x H x W`` tensor (ConvNeXt's
    "channels_first" LayerNorm)."""

    def forward(self, x):  # type: ignore[override]
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@NORM_REGISTRY.register("layer_norm_2d")
def _layer_norm_2d(num_features: int, momentum: float, groups: int) -> nn.Module:
    return LayerNorm2d(num_features)
