"""ParC-ResNet and the plain ResNet it is compared with (torchvision's layout and names)."""
from __future__ import annotations

import argparse
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck, conv1x1

from cvnets.layers.folding import FoldsForInference, fold_conv_norm_pairs
from cvnets.models.base import Backbone, FeatureInfo
from cvnets.models.classification.parc_convnets import STAGE_KERNELS_224, insert_locations, parc_resize
from cvnets.models.registry import CLS_MODEL_REGISTRY
from cvnets.modules import ParCConv
from cvnets.modules.parc_fused import fold_norm_into_parc_pair
from utils.opts import add_options

DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class ParCBottleneck(nn.Module, FoldsForInference):
    """A bottleneck whose 3x3 convolution is a ParC pair: ``parc_H`` on half of the channels and
    ``parc_W`` on the other half (full, not depth-wise, convolutions as in the reference)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, global_kernel_size: int, use_pe: bool = True,
                 resize: str = "none") -> None:
        super().__init__()
        width = planes
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.parc_H = ParCConv(width // 2, "H", global_kernel_size, use_pe, groups=1, resize=resize)
        self.parc_W = ParCConv(width // 2, "W", global_kernel_size, use_pe, groups=1, resize=resize)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)

    def fold_for_inference(self) -> None:
        """Fold the batch norms into the convolutions before them."""
        fold_conv_norm_pairs(self, (("conv1", "bn1"), ("conv3", "bn3")))
        self.parc_H, self.parc_W = fold_norm_into_parc_pair(self.parc_H, self.parc_W, self.bn2)
        self.bn2 = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out_h, out_w = torch.chunk(out, 2, dim=1)
        out = self.relu(self.bn2(torch.cat((self.parc_H(out_h), self.parc_W(out_w)), dim=1)))
        return self.relu(self.bn3(self.conv3(out)) + x)


@CLS_MODEL_REGISTRY.register("parc_resnet")
class ParCResNet(Backbone, FoldsForInference):
    """ResNet whose stages use ParC bottlenecks from ``insert_locs`` on (default: the last three
    blocks of stage 3 and the last of stage 4, as in ParC-ResNet50)."""

    use_parc = True
    profile_convention = "fvcore"  # the published counts are fvcore's
    default_insert_locs = (3, 4, 3, 2)
    classifier_prefixes = ("fc.",)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("ResNet (model.classification.name: resnet, parc_resnet)")
        add_options(group, "--model.classification", [
            ("resnet.depth", 50, "ResNet depth", dict(choices=[50, 101, 152])),
        ])
        return parser

    def __init__(self, opts: Any, output_stride: Optional[int] = None) -> None:
        super().__init__()
        depth = int(getattr(opts, "model.classification.resnet.depth"))
        n_classes = int(getattr(opts, "model.classification.n_classes"))
        locations = insert_locations(opts, self.default_insert_locs, self.use_parc)
        resize = parc_resize(opts)
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for index, (blocks, planes, stride) in enumerate(zip(DEPTHS[depth], (64, 128, 256, 512), (1, 2, 2, 2))):
            setattr(self, f"layer{index + 1}", self._make_layer(planes, blocks, stride, locations[index],
                                                              STAGE_KERNELS_224[index], resize))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * Bottleneck.expansion, n_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        self._feature_extractor = False

    def _make_layer(self, planes: int, blocks: int, stride: int, parc_from: int, kernel: int,
                    resize: str) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * Bottleneck.expansion, stride),
                                       nn.BatchNorm2d(planes * Bottleneck.expansion))
        layers: List[nn.Module] = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        for i in range(1, blocks):
            if i < parc_from:
                layers.append(Bottleneck(self.inplanes, planes))
            else:
                layers.append(ParCBottleneck(self.inplanes, planes, kernel, use_pe=True, resize=resize))
        return nn.Sequential(*layers)

    def fold_for_inference(self) -> None:
        """Fold the stem's batch norm into its convolution (the blocks fold themselves)."""
        fold_conv_norm_pairs(self, (("conv1", "bn1"),))

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def feature_info(self) -> List[FeatureInfo]:
        """``layer1`` .. ``layer4`` (strides 4 to 32); the stem belongs to the first."""
        stem = ("conv1", "bn1", "relu", "maxpool")
        return [FeatureInfo(getattr(self, f"layer{i}")[-1].bn3.num_features, 2 ** (i + 1),
                            (stem if i == 1 else ()) + (f"layer{i}",)) for i in range(1, 5)]

    def forward_features(self, x: Tensor) -> List[Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        features = []
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
            features.append(x)
        return features

    def to_feature_extractor(self, keep_expansion: bool = False) -> None:
        """Drop the pooling and the classifier: what remains has torchvision's backbone names."""
        if keep_expansion:
            raise self.no_expansion()
        del self.avgpool, self.fc
        self._feature_extractor = True

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        names = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4") + (() if self._feature_extractor else ("fc",))
        return [(name, self.get_submodule(name)) for name in names]


@CLS_MODEL_REGISTRY.register("resnet")
class ResNet(ParCResNet):
    """The plain ResNet (torchvision's ResNet-50 at the default depth)."""

    use_parc = False
