"""Options shared by the ParC versions of classic ConvNets (ResNet, MobileNetV2, ConvNeXt).

Each replaces the spatial convolution of its last blocks per stage by a pair of ParC
convolutions (H on one half of the channels, W on the other). Their global kernels have the
length of the stage's feature map at a 224 x 224 input (56, 28, 14, 7), as in the released
weights; ``model.classification.parc.instance_kernel: interpolation_bilinear`` resizes kernels and
position embeddings to the actual feature size, so the models also run at other resolutions.
"""
from __future__ import annotations

import argparse
from typing import Any, List, Sequence

from utils.errors import ConfigError
from utils.opts import add_options

STAGE_KERNELS_224 = (56, 28, 14, 7)


def parc_resize(opts: Any) -> str:
    method = getattr(opts, "model.classification.parc.instance_kernel")
    return "none" if method == "fixed" else method


def insert_locations(opts: Any, default: Sequence[int], enabled: bool) -> List[int]:
    """Per stage, the index of the first block that uses ParC (a stage's length: none does)."""
    if not enabled:
        return [10 ** 6] * len(default)
    locations = getattr(opts, "model.classification.parc.insert_locs") or list(default)
    if len(locations) != len(default):
        raise ConfigError(f"model.classification.parc.insert_locs needs {len(default)} values (one per stage), "
                          f"got {list(locations)}")
    return list(locations)


def arguments_parc_convnets(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("ParC ConvNets (parc_resnet, parc_mobilenetv2, parc_convnext and their "
                                      "plain baselines resnet, mobilenetv2, convnext)")
    add_options(group, "--model.classification", [
        ("parc.instance-kernel", "fixed", "fixed: kernels as long as the 224-pixel feature maps (the released models); "
                                          "interpolation_bilinear: resized to the actual feature size",
         dict(choices=["fixed", "interpolation_bilinear"])),
        ("parc.insert-locs", None, "per stage, the first block that uses ParC (default: the reference's)",
         dict(type=int, nargs="+")),
    ])
    return parser
