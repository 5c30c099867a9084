"""Single Shot Detector (Liu et al., ECCV 2016) on any registered classification backbone, as the
ParC-Net and MobileViT papers build it: separable-convolution heads on the stride-16 and -32
stages, extra separable down-sampling layers for the larger strides, and a global one (``-1``).

The heads of strides 8, 16 and 32 read the backbone's last three feature stages
(:meth:`~cvnets.models.base.Backbone.feature_info`): those strides on an undilated backbone; with
``model.detection.output_stride`` a dilated stage keeps the stride of the one before, and the
anchors follow the feature maps' actual sizes.
"""
from __future__ import annotations

import argparse
from typing import Any, Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn
from torchvision.ops import batched_nms

from cvnets.layers import ConvLayer, SeparableConv
from cvnets.misc.anchors import anchor_generator_from_opts
from cvnets.misc.boxes import center_to_corner, decode
from cvnets.models.base import Backbone, Detections, Detector
from cvnets.models.registry import DET_MODEL_REGISTRY
from cvnets.modules import SSDHead
from utils.errors import ConfigError
from utils.opts import add_options, parse_structured

# the backbone stage each encoder stride reads, counted from the last
ENCODER_STAGES = {8: -3, 16: -2, 32: -1}


def select_detections(boxes: Tensor, scores: Tensor, conf_threshold: float, nms_threshold: float,
                      top_k: int) -> Detections:
    """One image's detections from the class probabilities (``anchors x classes``, background first)
    and corner boxes (``anchors x 4``) of every anchor: the boxes whose probability for a class
    passes ``conf_threshold``, after per-class NMS at IoU ``nms_threshold``, at most ``top_k`` per
    class (all when ``top_k`` is 0), grouped by class and best first within a class."""
    foreground = scores[:, 1:]
    anchor_idx, class_idx = torch.nonzero(foreground > conf_threshold, as_tuple=True)
    if anchor_idx.numel() == 0:
        empty = torch.empty(0, device=boxes.device)
        return Detections(empty.long(), empty, torch.empty(0, 4, device=boxes.device))
    kept_scores = foreground[anchor_idx, class_idx]
    labels = class_idx + 1
    candidate_boxes = boxes[anchor_idx]
    keep = batched_nms(candidate_boxes, kept_scores, labels, nms_threshold)  # by decreasing score
    keep = keep[torch.sort(labels[keep], stable=True).indices]  # grouped by class, best first within a class
    if top_k > 0:
        grouped = labels[keep]
        counts = torch.bincount(grouped)
        first = torch.cumsum(counts, 0) - counts  # where each class starts
        rank = torch.arange(keep.numel(), device=keep.device) - first[grouped]
        keep = keep[rank < top_k]
    return Detections(labels[keep], kept_scores[keep], candidate_boxes[keep])


class DecodedDetector(nn.Module):
    """An SSD detector whose outputs are class probabilities (``N x anchors x classes``) and
    corner-form boxes (``N x anchors x 4``, fractions of the image; NMS is left to the caller) for
    inputs of one size, its anchors held as a buffer."""

    def __init__(self, detector: "SingleShotDetector", input_size: Sequence[int]) -> None:
        super().__init__()
        self.detector = detector
        device = next(detector.parameters()).device
        with torch.no_grad():
            _, _, sizes = detector._heads(torch.zeros(1, 3, *input_size, device=device))
        self.register_buffer("anchors", detector.anchors(sizes).to(device))
        self.center_variance, self.size_variance = detector.center_variance, detector.size_variance

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        confidences, locations = self.detector(x)
        boxes = center_to_corner(decode(locations, self.anchors, self.center_variance, self.size_variance))
        return confidences.softmax(dim=-1), boxes


@DET_MODEL_REGISTRY.register("ssd")
class SingleShotDetector(Detector):
    """SSD on ``encoder``'s last three feature stages.

    ``model(x)`` returns ``(confidences, locations)`` per anchor (training and the loss);
    :meth:`predict` the decoded detections after NMS; :meth:`deployable` the class probabilities
    and corner boxes of every anchor.

    Args:
        opts: the options (``model.detection.*``, ``model.detection.ssd.*``).
        encoder: the backbone (a registered classification model).
    """

    coordinates = 4
    output_names = ("scores", "boxes")

    def __init__(self, opts: Any, encoder: Backbone) -> None:
        super().__init__()
        encoder.to_feature_extractor()
        stages = encoder.feature_info()
        if len(stages) < len(ENCODER_STAGES):
            raise ConfigError(f"SSD reads the last {len(ENCODER_STAGES)} feature stages of the backbone; "
                              f"{type(encoder).__name__} has {len(stages)}")
        self.encoder = encoder
        n_classes = getattr(opts, "model.detection.n_classes")
        if not n_classes:
            raise ConfigError("model.detection.n_classes is not set (number of object classes + 1 for background)")
        self.n_classes = int(n_classes)
        key = "model.detection.ssd"
        self.anchor_generator = anchor_generator_from_opts(opts)
        strides = self.anchor_generator.output_strides
        proj = [int(c) for c in getattr(opts, f"{key}.proj_channels")]
        proj += [128] * (len(strides) - len(proj))  # as in the reference, missing entries are filled in
        if len(proj) != len(strides):
            raise ConfigError(f"{key}: {len(strides)} output strides but {len(proj)} projection sizes")
        for stride in strides:
            if stride not in ENCODER_STAGES and not (stride == -1 or (stride > 32 and stride & (stride - 1) == 0)):
                raise ConfigError(f"{key}.output_strides: {stride} is not supported (8, 16, 32, powers of two "
                                  f"above 32, or -1 for a global feature)")
        channels = {stride: stages[index].channels for stride, index in ENCODER_STAGES.items()}
        extra: Dict[str, nn.Module] = {}
        head_in: List[int] = []
        in_channels = channels[32]
        for stride, out_channels in zip(strides, proj):
            if stride in channels:
                head_in.append(channels[stride])
                continue
            if stride == -1:
                extra[f"os_{stride}"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), ConvLayer(opts, in_channels,
                                                                                        out_channels, 1,
                                                                                        use_norm=False))
            else:
                extra[f"os_{stride}"] = SeparableConv(opts, in_channels, out_channels, 3, stride=2)
            head_in.append(out_channels)
            in_channels = out_channels
        self.extra_layers = nn.ModuleDict(extra) if extra else None
        if self.extra_layers is not None:
            for module in self.extra_layers.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.xavier_uniform_(module.weight)
        self.ssd_heads = nn.ModuleList(
            SSDHead(opts, c, n_anchors, self.n_classes, self.coordinates, p, kernel_size=1 if s == -1 else 3)
            for s, c, p, n_anchors in zip(strides, head_in, proj, self.anchor_generator.num_anchors_per_location()))
        self.output_strides = strides
        self.center_variance = float(getattr(opts, f"{key}.center_variance"))
        self.size_variance = float(getattr(opts, f"{key}.size_variance"))
        self.conf_threshold = float(getattr(opts, f"{key}.conf_threshold"))
        self.nms_threshold = float(getattr(opts, f"{key}.nms_iou_threshold"))
        self.top_k = int(getattr(opts, f"{key}.num_objects_per_class"))

    def _heads(self, x: Tensor) -> Tuple[Tensor, Tensor, List[Tuple[int, int]]]:
        """``(confidences, locations, feature map sizes)`` of all heads."""
        stages = self.encoder.forward_features(x)
        feature = stages[-1]
        locations, confidences, sizes = [], [], []
        for stride, head in zip(self.output_strides, self.ssd_heads):
            if stride in ENCODER_STAGES:
                fm = stages[ENCODER_STAGES[stride]]
            else:
                feature = self.extra_layers[f"os_{stride}"](feature)
                fm = feature
            loc, conf = head(fm)
            locations.append(loc)
            confidences.append(conf)
            sizes.append((fm.shape[2], fm.shape[3]))
        return torch.cat(confidences, dim=1), torch.cat(locations, dim=1), sizes

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """``(confidences, locations)``: ``N x anchors x n_classes`` logits and ``N x anchors x 4`` offsets."""
        confidences, locations, _ = self._heads(x)
        return confidences, locations

    def anchors(self, feature_sizes: Sequence[Tuple[int, int]]) -> Tensor:
        return self.anchor_generator.anchors_for_sizes(feature_sizes)

    def deployable(self, input_size: Sequence[int]) -> DecodedDetector:
        """Class probabilities and corner boxes for every anchor of an input of ``input_size``."""
        return DecodedDetector(self, input_size)

    @torch.no_grad()
    def predict(self, x: Tensor) -> List[Detections]:
        """Per image: the boxes whose class probability passes ``conf_threshold``, after per-class
        NMS (``nms_iou_threshold``), at most ``num_objects_per_class`` per class."""
        confidences, locations, sizes = self._heads(x)
        anchors = self.anchors(sizes).to(locations.device)
        boxes = center_to_corner(decode(locations.float(), anchors, self.center_variance, self.size_variance))
        scores = confidences.float().softmax(dim=-1)
        return [select_detections(boxes[i], scores[i], self.conf_threshold, self.nms_threshold, self.top_k)
                for i in range(x.shape[0])]

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        rows = [(f"encoder.{name}", module) for name, module in self.encoder.profile_stages()]
        if self.extra_layers is not None:
            rows += [(f"extra_layers.{name}", module) for name, module in self.extra_layers.items()]
        return rows + [(f"ssd_heads.{i}", head) for i, head in enumerate(self.ssd_heads)]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("SSD (model.detection.name: ssd)")
        add_options(group, "--model.detection.ssd", [
            ("anchors-aspect-ratio", [[2, 3]] * 5,
             "aspect ratios of the anchors of each output stride, e.g. '[[2, 3], [2]]'", dict(type=parse_structured)),
            ("output-strides", [16, 32, 64, 128, -1], "feature maps the heads read (-1: global)"),
            ("proj-channels", [128, 256, 384, 512, 768], "channels of each head's projection (and of each extra layer)"),
            ("min-box-size", 0.1, "smallest anchor scale"),
            ("max-box-size", 1.05, "largest anchor scale"),
            ("center-variance", 0.1, "box coding: centre variance"),
            ("size-variance", 0.2, "box coding: size variance"),
            ("iou-threshold", 0.45, "IoU above which an anchor matches a box in training"),
            ("conf-threshold", 0.05, "class probability a detection needs (0.01 for COCO AP)"),
            ("num-objects-per-class", 200, "detections kept per class after NMS"),
            ("nms-iou-threshold", 0.3, "IoU threshold of the NMS"),
        ])
        return parser
