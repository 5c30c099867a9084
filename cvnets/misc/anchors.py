"""SSD anchors (default boxes) for feature maps of any size."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from utils.errors import ConfigError


class SSDAnchorGenerator:
    """Anchors in centre form ``(cx, cy, w, h)`` as fractions of the image, clipped to [0, 1].

    Output stride ``i`` of ``n`` gets the scale ``s_i`` of ``linspace(min_ratio, max_ratio, n + 1)``.
    At every feature-map cell, in row-major order, its anchors are: a square of side ``s_i``, a
    square of side ``sqrt(s_i * s_{i+1})``, and for each aspect ratio ``r`` the boxes
    ``(s_i * sqrt(r), s_i / sqrt(r))`` and ``(s_i / sqrt(r), s_i * sqrt(r))``.
    """

    def __init__(self, output_strides: Sequence[int], aspect_ratios: Sequence[Sequence[float]],
                 min_ratio: float = 0.1, max_ratio: float = 1.05, clip: bool = True) -> None:
        if len(output_strides) != len(aspect_ratios):
            raise ValueError(f"one list of aspect ratios per output stride is needed: {len(output_strides)} "
                             f"strides, {len(aspect_ratios)} lists")
        scales = np.linspace(min_ratio, max_ratio, len(output_strides) + 1)
        self.sizes: Dict[int, Tuple[float, float]] = {}
        self.aspect_ratios: Dict[int, List[float]] = {}
        for i, (stride, ratios) in enumerate(zip(output_strides, aspect_ratios)):
            self.sizes[stride] = (float(scales[i]), math.sqrt(scales[i] * scales[i + 1]))
            self.aspect_ratios[stride] = sorted(set(ratios))  # duplicates dropped, as the reference does
        self.output_strides = list(output_strides)
        self.clip = clip
        self._cache: Dict[Tuple[int, int, int], Tensor] = {}

    def num_anchors_per_location(self) -> List[int]:
        return [2 + 2 * len(self.aspect_ratios[s]) for s in self.output_strides]

    def _generate(self, height: int, width: int, stride: int) -> Tensor:
        small, large = self.sizes[stride]
        shapes = [(small, small), (large, large)]
        for ratio in self.aspect_ratios[stride]:
            root = math.sqrt(ratio)
            shapes += [(small * root, small / root), (small / root, small * root)]
        ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                                indexing="ij")
        centers = torch.stack(((xs.flatten() + 0.5) / width, (ys.flatten() + 0.5) / height), dim=1)
        wh = torch.tensor(shapes, dtype=torch.float64)
        anchors = torch.cat((centers[:, None, :].expand(-1, len(shapes), 2),
                             wh[None].expand(centers.shape[0], -1, 2)), dim=2).reshape(-1, 4).float()
        return anchors.clamp_(0.0, 1.0) if self.clip else anchors

    def __call__(self, height: int, width: int, stride: int) -> Tensor:
        key = (height, width, stride)
        if key not in self._cache:
            self._cache[key] = self._generate(height, width, stride)
        return self._cache[key]

    def anchors_for_sizes(self, feature_sizes: Sequence[Tuple[int, int]]) -> Tensor:
        """All anchors of the output strides, whose feature maps have ``feature_sizes``, concatenated."""
        return torch.cat([self(h, w, s) for (h, w), s in zip(feature_sizes, self.output_strides)], dim=0)


def feature_map_sizes(image_h: int, image_w: int, output_strides: Sequence[int]) -> List[Tuple[int, int]]:
    """The feature-map sizes of the SSD heads for an input of ``image_h x image_w``: the input
    divided by each stride and rounded up (1 x 1 for the global stride -1)."""
    return [(1, 1) if s == -1 else (int(math.ceil(image_h / s)), int(math.ceil(image_w / s))) for s in output_strides]


def anchor_generator_from_opts(opts: Any) -> SSDAnchorGenerator:
    """The anchors ``model.detection.ssd.*`` describe, for the detector and for its training targets:
    ``output_strides``, one ``anchors_aspect_ratio`` list per stride (missing trailing lists are
    ``[2]``, as in the reference), ``min_box_size`` and ``max_box_size``."""
    key = "model.detection.ssd"
    strides = [int(s) for s in getattr(opts, f"{key}.output_strides")]
    ratios = getattr(opts, f"{key}.anchors_aspect_ratio")
    if not isinstance(ratios, (list, tuple)) or not all(isinstance(r, (list, tuple)) and r for r in ratios):
        raise ConfigError(f"{key}.anchors_aspect_ratio must be a list of lists of aspect ratios, e.g. "
                          f"[[2, 3], [2]]; got {ratios!r}")
    ratios = [[int(r) for r in v] for v in ratios] + [[2]] * (len(strides) - len(ratios))
    if len(ratios) != len(strides):
        raise ConfigError(f"{key}: {len(strides)} output strides but {len(ratios)} aspect-ratio lists")
    return SSDAnchorGenerator(strides, ratios, float(getattr(opts, f"{key}.min_box_size")),
                              float(getattr(opts, f"{key}.max_box_size")))
