"""The model contract: what every registered model offers the engine, the benchmark and the exporter.

Every model of a registry (``model.classification.name``, ``model.detection.name``,
``model.segmentation.name``) derives from :class:`BaseModel` and gets a documented default for
each hook; a model overrides only the hooks it needs:

==========================  ====================  ===================================================
hook                        default               who calls it
==========================  ====================  ===================================================
``takes_targets``           ``False``             training and evaluation loops: ``model(images,
                                                  targets)`` (Mask R-CNN computes its own losses)
``resizes_inputs``          ``False``             ``eval_det.py``: leave the images at their own size
``resized_input_size(h,w)`` ``(h, w)``            ``main_benchmark.py``: the size the backbone sees
``profile_convention``      ``"cvnets"``          the profiler (``cvnets`` or ``fvcore`` MAC counts)
``profile_stages()``        the children          the profiler's per-stage table
``lr_multipliers()``        ``{}``                the optimizer: sub-modules that learn faster
``deployable(input_size)``  the model             the exporter and the inference backends
``output_names``            ``("logits",)``       the outputs of ``deployable`` (ONNX names)
==========================  ====================  ===================================================

Task bases add what their heads and tools need: :class:`Backbone` (classification models, which
detection and segmentation heads build on: feature stages), :class:`Detector` (``predict``) and
:class:`SegmentationModel` (deploys its logits without the auxiliary output). Segmentation heads
of ``encoder_decoder`` (``model.segmentation.seg_head``) derive from :class:`SegmentationHead`.
"""
from __future__ import annotations

import abc
import argparse
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

from torch import Tensor, nn

from utils.errors import ConfigError


@dataclass(frozen=True)
class FeatureInfo:
    """One output stage of a backbone (timm's ``feature_info``).

    Args:
        channels: channels of the stage's output.
        reduction: its stride from the input (4, 8, 16, 32; a dilated stage keeps the stride of
            the stage before it, e.g. 16, 16 for the last two stages at output stride 16).
        modules: names of the sub-modules that compute it from the previous stage's output (the
            first stage includes the stem).
    """
    channels: int
    reduction: int
    modules: Tuple[str, ...]


@dataclass
class Detections:
    """One image's detections: ``labels`` (N,), ``scores`` (N,) and ``boxes`` (N x 4, corner form,
    as fractions of the input's width and height); an instance segmentation model adds ``masks``
    (N x H x W probabilities at the input's size)."""
    labels: Tensor
    scores: Tensor
    boxes: Tensor
    masks: Optional[Tensor] = None


class BaseModel(nn.Module, metaclass=abc.ABCMeta):
    """Base of every registered model; the class attributes and methods below are its hooks, with
    their defaults (see the module's table). A model declares its options in
    :meth:`add_arguments` and is built as ``cls(opts, ...)``."""

    takes_targets: bool = False  # training calls model(images, targets) and the model returns its losses
    resizes_inputs: bool = False  # the model resizes (and pads) its inputs itself
    profile_convention: str = "cvnets"  # how the published MAC counts of the family were made
    output_names: Tuple[str, ...] = ("logits",)  # the outputs of deployable()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """Declare the model's options (none by default)."""
        return parser

    def resized_input_size(self, height: int, width: int) -> Tuple[int, int]:
        """The size an input of ``height x width`` has when the backbone sees it (unchanged by default)."""
        return height, width

    def profile_stages(self) -> List[Tuple[str, nn.Module]]:
        """``(name, module)`` rows of the profiler's table (by default the direct children)."""
        return list(self.named_children())

    def lr_multipliers(self) -> Dict[str, float]:
        """Sub-module name -> learning-rate factor, for the parameters that learn faster (none by default)."""
        return {}

    def deployable(self, input_size: Sequence[int]) -> nn.Module:
        """The module a deployment runs on ``N x 3 x H x W`` inputs of ``input_size`` ``(H, W)``, its
        outputs named by :attr:`output_names` (by default the model itself)."""
        return self


class Backbone(BaseModel):
    """A classification model that detection and segmentation heads build on.

    Its feature stages go from the finest to the coarsest: :meth:`feature_info` describes them
    and :meth:`forward_features` computes them. Heads call :meth:`to_feature_extractor` first.
    """

    # state_dict prefixes of the classifier, left out when classification weights are loaded into a backbone
    classifier_prefixes: Tuple[str, ...] = ("classifier.",)

    @abc.abstractmethod
    def feature_info(self) -> List[FeatureInfo]:
        """One :class:`FeatureInfo` per stage, finest first (with the 1x1 expansion last when
        :meth:`to_feature_extractor` kept it)."""

    @abc.abstractmethod
    def forward_features(self, x: Tensor) -> List[Tensor]:
        """The stages' outputs for ``x``, in the order of :meth:`feature_info`."""

    @abc.abstractmethod
    def to_feature_extractor(self, keep_expansion: bool = False) -> None:
        """Drop what only classification needs (the classifier and what feeds only it).

        Args:
            keep_expansion: keep the 1x1 expansion after the last stage as one more, last feature
                (DeepLabV3's ``model.segmentation.use_level5_exp``); a backbone without one raises
                :meth:`no_expansion`.
        """

    def no_expansion(self) -> ConfigError:
        """The error of a backbone asked to keep a 1x1 expansion it does not have."""
        return ConfigError(f"{type(self).__name__} has no 1x1 expansion after its last stage to feed the head "
                           f"(model.segmentation.use_level5_exp): leave it unset")


class Detector(BaseModel):
    """A detection model: ``predict`` gives per image :class:`Detections`."""

    @abc.abstractmethod
    def predict(self, images: Union[Tensor, Sequence[Tensor]]) -> List[Detections]:
        """Per image, the detections kept after score thresholding and NMS."""


class SegmentationLogits(nn.Module):
    """A segmentation model without its auxiliary output: ``N x classes x H x W`` logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        return out[0] if isinstance(out, (tuple, list)) else out


class SegmentationModel(BaseModel):
    """A semantic segmentation model: logits at the input's size (and, in training with an
    auxiliary head, ``(logits, aux_logits)``); deployed without the auxiliary output."""

    def deployable(self, input_size: Sequence[int]) -> nn.Module:
        return SegmentationLogits(self)


class SegmentationHead(nn.Module, metaclass=abc.ABCMeta):
    """A head of ``encoder_decoder`` (``model.segmentation.seg_head``), built as ``cls(opts, stages)``
    from the backbone's :class:`FeatureInfo` list."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return parser

    @abc.abstractmethod
    def forward(self, features: List[Tensor], size: Tuple[int, int]) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        """Logits at ``size`` from the backbone's features (and auxiliary logits when it has an
        auxiliary classifier)."""
