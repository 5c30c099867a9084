"""Mask R-CNN (He et al., ICCV 2017): torchvision's detector (FPN, RPN, RoI heads and their losses)
on the feature stages of a registered backbone (``model.detection.name: mask_rcnn``).

With the plain ResNet-50 and the default options it is, parameter for parameter and name for name,
torchvision's ``maskrcnn_resnet50_fpn``. Inputs are used as the data pipeline gives them: the
model resizes (``min_size`` / ``max_size``) and pads them, but does not normalise them.
"""
from __future__ import annotations

import argparse
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from cvnets.models.base import Backbone, Detections, Detector, FeatureInfo
from cvnets.models.features import freeze_stages, reject_output_stride
from cvnets.models.registry import DET_MODEL_REGISTRY
from utils.errors import ConfigError, ExportError
from utils.opts import add_options

Images = Union[Tensor, Sequence[Tensor]]
Targets = List[Dict[str, Tensor]]


class FeaturePyramidBackbone(nn.Module):
    """``body`` (a backbone's feature stages) and ``fpn`` (torchvision's feature pyramid with an
    extra max-pooled level): the ``backbone`` torchvision's detectors expect, and their names."""

    def __init__(self, body: Backbone, stages: List[FeatureInfo], out_channels: int) -> None:
        super().__init__()
        self.body = body
        self.fpn = FeaturePyramidNetwork([stage.channels for stage in stages], out_channels,
                                         extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        features = self.body.forward_features(x)
        return self.fpn(OrderedDict((str(i), feature) for i, feature in enumerate(features)))


@DET_MODEL_REGISTRY.register("mask_rcnn")
class MaskRCNNDetector(Detector, MaskRCNN):
    """Mask R-CNN on ``encoder``'s four feature stages (strides 4 to 32).

    ``model(images, targets)`` returns torchvision's loss dict (``loss_objectness``,
    ``loss_rpn_box_reg``, ``loss_classifier``, ``loss_box_reg``, ``loss_mask``): in training mode
    as torchvision does, and in eval mode too (validation), with the heads sampling as in training
    but nothing updated. ``model(images)`` in eval mode returns torchvision's detections;
    :meth:`predict` returns them as :class:`Detections`. ``images`` is a batch tensor or a list of
    ``3 x H x W`` tensors of any sizes; targets hold ``boxes`` (pixels), ``labels`` (1..K) and
    ``masks`` (N x H x W) per image.

    Args:
        opts: the options (``model.detection.*``, ``model.detection.mask_rcnn.*``).
        encoder: the backbone (a registered classification model).
    """

    takes_targets = True  # the engine passes the targets to the forward
    resizes_inputs = True  # evaluation gives it the images at their own size
    profile_convention = "fvcore"
    output_names = ()  # nothing to deploy: see deployable()

    def __init__(self, opts: Any, encoder: Backbone) -> None:
        key = "model.detection.mask_rcnn"
        n_classes = getattr(opts, "model.detection.n_classes")
        if not n_classes:
            raise ConfigError("model.detection.n_classes is not set (object classes + 1 for the background)")
        reject_output_stride(opts, "detection", "mask_rcnn")
        encoder.to_feature_extractor()
        stages = encoder.feature_info()
        freeze_stages(encoder, stages, int(getattr(opts, f"{key}.frozen_stages")), f"{key}.frozen_stages")
        channels = int(getattr(opts, f"{key}.fpn_channels"))
        sizes = [int(s) for s in getattr(opts, f"{key}.anchor_sizes")]
        if len(sizes) != len(stages) + 1:
            raise ConfigError(f"{key}.anchor_sizes needs {len(stages) + 1} sizes (one per pyramid level), got {sizes}")
        anchors = AnchorGenerator(tuple((s,) for s in sizes), ((0.5, 1.0, 2.0),) * len(sizes))
        representation = int(getattr(opts, f"{key}.representation_size"))
        mask_channels = int(getattr(opts, f"{key}.mask_head_channels"))
        super().__init__(
            FeaturePyramidBackbone(encoder, stages, channels), num_classes=None,
            min_size=tuple(int(s) for s in getattr(opts, f"{key}.min_size")),
            max_size=int(getattr(opts, f"{key}.max_size")), image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0],
            rpn_anchor_generator=anchors, rpn_head=RPNHead(channels, anchors.num_anchors_per_location()[0]),
            rpn_pre_nms_top_n_train=int(getattr(opts, f"{key}.rpn_pre_nms_top_n_train")),
            rpn_pre_nms_top_n_test=int(getattr(opts, f"{key}.rpn_pre_nms_top_n_test")),
            rpn_post_nms_top_n_train=int(getattr(opts, f"{key}.rpn_post_nms_top_n_train")),
            rpn_post_nms_top_n_test=int(getattr(opts, f"{key}.rpn_post_nms_top_n_test")),
            rpn_batch_size_per_image=int(getattr(opts, f"{key}.rpn_batch_size_per_image")),
            box_head=TwoMLPHead(channels * 7 * 7, representation),
            box_predictor=FastRCNNPredictor(representation, int(n_classes)),
            box_score_thresh=float(getattr(opts, f"{key}.box_score_thresh")),
            box_nms_thresh=float(getattr(opts, f"{key}.box_nms_thresh")),
            box_detections_per_img=int(getattr(opts, f"{key}.box_detections_per_img")),
            box_batch_size_per_image=int(getattr(opts, f"{key}.box_batch_size_per_image")),
            mask_head=MaskRCNNHeads(channels, (mask_channels,) * 4, 1),
            mask_predictor=MaskRCNNPredictor(mask_channels, mask_channels, int(n_classes)))
        self.n_classes = int(n_classes)

    def forward(self, images: Images, targets: Optional[Targets] = None) -> Any:  # type: ignore[override]
        images = list(images)
        if targets is not None and not self.training:
            with self._heads_in_training_mode():
                return super().forward(images, targets)
        return super().forward(images, targets)

    @contextmanager
    def _heads_in_training_mode(self) -> Iterator[None]:
        """Let the RPN and the RoI heads sample and compute their losses while the backbone and the
        input transform stay in eval mode (fixed statistics, the test-time input size)."""
        flags = (self, self.rpn, self.roi_heads)
        for module in flags:
            module.training = True
        try:
            yield
        finally:
            for module in flags:
                module.training = False

    @torch.no_grad()
    def resized_input_size(self, height: int, width: int) -> Tuple[int, int]:
        """The size an input of ``height x width`` is resized to before the backbone (in eval mode)."""
        training, self.transform.training = self.transform.training, False
        try:
            images, _ = self.transform([torch.zeros(3, height, width)])
        finally:
            self.transform.training = training
        return tuple(images.image_sizes[0])

    @torch.no_grad()
    def predict(self, images: Images) -> List[Detections]:
        """Per image: boxes (as fractions of its width and height), labels, scores and mask
        probabilities at its size, for the detections above ``box_score_thresh``, after NMS."""
        images = list(images)
        found = super().forward(images)
        results = []
        for image, out in zip(images, found):
            height, width = image.shape[-2:]
            scale = out["boxes"].new_tensor([width, height, width, height])
            results.append(Detections(out["labels"], out["scores"], out["boxes"] / scale, out["masks"][:, 0]))
        return results

    def deployable(self, input_size: Sequence[int]) -> nn.Module:
        """Not available: an ExportError saying why."""
        raise ExportError(f"only SSD detectors can be exported; {type(self).__name__} cannot "
                          f"(its proposals and masks are computed with data-dependent shapes)")

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        """The backbone's stages, the pyramid, the RPN and the RoI heads (whose count depends on the
        number of proposals the input gives)."""
        body = [(f"backbone.body.{name}", module) for name, module in self.backbone.body.profile_stages()]
        return body + [("backbone.fpn", self.backbone.fpn), ("rpn", self.rpn), ("roi_heads", self.roi_heads)]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("Mask R-CNN (model.detection.name: mask_rcnn)")
        add_options(group, "--model.detection.mask-rcnn", [
            ("min-size", [800], "shorter side of the inputs; with several, training draws one per image and "
                                "evaluation uses the last"),
            ("max-size", 1333, "longest side of the inputs"),
            ("fpn-channels", 256, "channels of the feature pyramid"),
            ("anchor-sizes", [32, 64, 128, 256, 512], "anchor size of each pyramid level (strides 4 to 64)"),
            ("representation-size", 1024, "width of the box head's two fully connected layers"),
            ("mask-head-channels", 256, "channels of the mask head's four convolutions"),
            ("frozen-stages", 0, "backbone stages (the stem with the first) whose parameters stay fixed"),
            ("rpn-pre-nms-top-n-train", 2000, "proposals per level before the RPN's NMS, training"),
            ("rpn-pre-nms-top-n-test", 1000, "proposals per level before the RPN's NMS, evaluation"),
            ("rpn-post-nms-top-n-train", 2000, "proposals per image after the RPN's NMS, training"),
            ("rpn-post-nms-top-n-test", 1000, "proposals per image after the RPN's NMS, evaluation"),
            ("rpn-batch-size-per-image", 256, "anchors sampled per image for the RPN's losses"),
            ("box-batch-size-per-image", 512, "proposals sampled per image for the RoI heads' losses"),
            ("box-score-thresh", 0.05, "class probability a detection needs"),
            ("box-nms-thresh", 0.5, "IoU threshold of the per-class NMS"),
            ("box-detections-per-img", 100, "detections kept per image"),
        ])
        return parser
