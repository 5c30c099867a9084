"""Architectures of ParC-Net at its three scales (``model.classification.edge.scale``).

Stages 1-2 are MobileNetV2 stages; stages 3-5 each downsample with an inverted residual and
then run a ParC stage. At a 256 x 256 input the ParC stages see 32, 16 and 8 pixel feature maps,
the lengths of their meta kernels. ``big_kernel_size`` is used by the ``bkc`` kernels only:
about half the feature size, odd.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple, Union

from cvnets.models.classification.encoder import MV2Spec


@dataclass(frozen=True)
class ParCSpec:
    out_channels: int
    parc_channels: int
    ffn_channels: int
    n_blocks: int
    meta_kernel_size: int
    big_kernel_size: int
    mv_expand_ratio: int = 4
    stride: int = 2
    ffn_dropout: float = 0.0
    dropout: float = 0.1


StageSpec = Union[MV2Spec, ParCSpec]


@dataclass(frozen=True)
class ParCNetSpec:
    stem_channels: int
    stem_kernel: int
    stages: Tuple[StageSpec, StageSpec, StageSpec, StageSpec, StageSpec]
    exp_factor: int = 4


SCALES: Dict[str, ParCNetSpec] = {
    "scale_xs": ParCNetSpec(16, 3, (
        MV2Spec(32, 4, 1, 1),
        MV2Spec(64, 4, 3, 2),
        ParCSpec(96, 96, 192, 2, 32, 17),
        ParCSpec(128, 128, 256, 3, 16, 9),
        ParCSpec(160, 160, 320, 2, 8, 5),
    )),
    "scale_s": ParCNetSpec(16, 3, (
        MV2Spec(32, 4, 1, 1),
        MV2Spec(64, 4, 3, 2),
        ParCSpec(96, 192, 384, 2, 32, 17),
        ParCSpec(128, 256, 512, 4, 16, 9),
        ParCSpec(160, 320, 640, 3, 8, 5),
    )),
    "scale_h": ParCNetSpec(48, 5, (
        MV2Spec(96, 4, 1, 1),
        MV2Spec(144, 4, 3, 2),
        ParCSpec(216, 324, 648, 3, 32, 17),
        ParCSpec(288, 432, 864, 9, 16, 9),
        ParCSpec(432, 432, 864, 3, 8, 5),
    )),
}
