"""ParC-ConvNeXt and the plain ConvNeXt it is compared with (the official ConvNeXt layout and names)."""
from __future__ import annotations

import argparse
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor, nn

from cvnets.layers import DropPath, LayerNorm2d
from cvnets.layers.folding import FoldsForInference, fold_layer_norm_into_linear, scale_linear_output
from cvnets.models.base import Backbone, FeatureInfo
from cvnets.models.classification.parc_convnets import STAGE_KERNELS_224, insert_locations, parc_resize
from cvnets.models.registry import CLS_MODEL_REGISTRY
from cvnets.modules import ParCConv
from utils.opts import add_options

VARIANTS = {"xt": ((3, 3, 9, 3), (48, 96, 192, 384)), "t": ((3, 3, 9, 3), (96, 192, 384, 768))}
DEFAULT_INSERT_LOCS = (3, 3, 6, 2)


class ConvNeXtBlock(nn.Module, FoldsForInference):
    """Token mixing (a 7x7 depth-wise conv ``dwconv``, or with ``parc_kernel`` a ParC pair
    ``gcc_H``/``gcc_W``), then LayerNorm, MLP (4x), layer scale ``gamma`` and stochastic depth."""

    def __init__(self, dim: int, drop_path: float = 0.0, layer_scale: float = 1e-6,
                 parc_kernel: Optional[int] = None, resize: str = "none") -> None:
        super().__init__()
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim)) if layer_scale > 0 else None
        if parc_kernel is None:
            self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        else:
            half = dim // 2
            self.gcc_H = ParCConv(half, "H", parc_kernel, use_pe=True, groups=half, resize=resize)
            self.gcc_W = ParCConv(half, "W", parc_kernel, use_pe=True, groups=half, resize=resize)
        self.parc = parc_kernel is not None
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def fold_for_inference(self) -> None:
        """Fold the layer norm's affine parameters into ``pwconv1`` and the layer scale into
        ``pwconv2``."""
        self.norm = fold_layer_norm_into_linear(self.norm, self.pwconv1)
        if self.gamma is not None:
            scale_linear_output(self.pwconv2, self.gamma.detach())
            self.gamma = None

    def forward(self, x: Tensor) -> Tensor:
        if self.parc:
            x_h, x_w = torch.chunk(x, 2, dim=1)
            y = torch.cat((self.gcc_H(x_h), self.gcc_W(x_w)), dim=1)
        else:
            y = self.dwconv(x)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y.permute(0, 2, 3, 1)))))
        if self.gamma is not None:
            y = self.gamma * y
        return x + self.drop_path(y.permute(0, 3, 1, 2))


@CLS_MODEL_REGISTRY.register("parc_convnext")
class ParCConvNeXt(Backbone):
    """ConvNeXt whose blocks from ``insert_locs`` on use ParC (default: the last third of stage 3
    and the last block of stage 4)."""

    use_parc = True
    profile_convention = "fvcore"  # the published counts are fvcore's
    classifier_prefixes = ("norm.", "head.")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("ConvNeXt (model.classification.name: convnext, parc_convnext)")
        add_options(group, "--model.classification", [
            ("convnext.variant", "xt", "ConvNeXt size", dict(choices=["xt", "t"])),
            ("convnext.drop-path-rate", 0.0, "stochastic depth rate of the last block (linear over depth)"),
            ("convnext.layer-scale-init-value", 1e-6, "initial layer scale (0 disables it)"),
            ("convnext.head-init-scale", 1.0, "scale of the classifier's initial weights"),
        ])
        return parser

    def __init__(self, opts: Any, output_stride: Optional[int] = None) -> None:
        super().__init__()
        depths, dims = VARIANTS[getattr(opts, "model.classification.convnext.variant")]
        n_classes = int(getattr(opts, "model.classification.n_classes"))
        drop_path_rate = float(getattr(opts, "model.classification.convnext.drop_path_rate"))
        layer_scale = float(getattr(opts, "model.classification.convnext.layer_scale_init_value"))
        head_scale = float(getattr(opts, "model.classification.convnext.head_init_scale"))
        locations = insert_locations(opts, DEFAULT_INSERT_LOCS, self.use_parc)
        resize = parc_resize(opts)
        self.downsample_layers = nn.ModuleList([nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4),
                                                              LayerNorm2d(dims[0], eps=1e-6))])
        for i in range(3):
            self.downsample_layers.append(nn.Sequential(LayerNorm2d(dims[i], eps=1e-6),
                                                        nn.Conv2d(dims[i], dims[i + 1], kernel_size=2, stride=2)))
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        start = 0
        for depth, dim, parc_from, kernel in zip(depths, dims, locations, STAGE_KERNELS_224):
            self.stages.append(nn.Sequential(*[
                ConvNeXtBlock(dim, rates[start + j], layer_scale, kernel if j >= parc_from else None, resize)
                for j in range(depth)]))
            start += depth
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], n_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        with torch.no_grad():
            self.head.weight.mul_(head_scale)
            self.head.bias.mul_(head_scale)
        self._feature_extractor = False

    def forward(self, x: Tensor) -> Tensor:
        for downsample, stage in zip(self.downsample_layers, self.stages):
            x = stage(downsample(x))
        return self.head(self.norm(x.mean(dim=(-2, -1))))

    def feature_info(self) -> List[FeatureInfo]:
        """The four stages (strides 4 to 32), each with the down-sampling layer before it."""
        return [FeatureInfo(stage[-1].pwconv2.out_features, 4 * 2 ** i, (f"downsample_layers.{i}", f"stages.{i}"))
                for i, stage in enumerate(self.stages)]

    def forward_features(self, x: Tensor) -> List[Tensor]:
        """Each stage's output, through its ``norm<i>`` once :meth:`to_feature_extractor` added them."""
        features = []
        for i, (downsample, stage) in enumerate(zip(self.downsample_layers, self.stages)):
            x = stage(downsample(x))
            features.append(self.get_submodule(f"norm{i}")(x) if self._feature_extractor else x)
        return features

    def to_feature_extractor(self, keep_expansion: bool = False) -> None:
        """Drop the final norm and the classifier; add a LayerNorm ``norm<i>`` on each stage's output,
        as ConvNeXt's detection and segmentation backbones do (initialised to the identity)."""
        if keep_expansion:
            raise self.no_expansion()
        del self.norm, self.head
        for i, info in enumerate(self.feature_info()):
            self.add_module(f"norm{i}", LayerNorm2d(info.channels, eps=1e-6))
        self._feature_extractor = True

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        rows: List[Tuple[str, nn.Module]] = []
        for i, (downsample, stage) in enumerate(zip(self.downsample_layers, self.stages)):
            rows += [(f"downsample_layers.{i}", downsample), (f"stages.{i}", stage)]
        tail = [f"norm{i}" for i in range(4)] if self._feature_extractor else ["norm", "head"]
        return rows + [(name, self.get_submodule(name)) for name in tail]


@CLS_MODEL_REGISTRY.register("convnext")
class ConvNeXt(ParCConvNeXt):
    """The plain ConvNeXt."""

    use_parc = False
