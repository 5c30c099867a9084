"""Detection losses (``loss.category: detection``), selected by ``loss.detection.name``: SSD's
multibox loss (``ssd_multibox_loss``) here, the detector's own losses (``mask_rcnn_loss``) in
:mod:`loss_fn.model_losses`."""
from __future__ import annotations

import argparse
from typing import Any, Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from loss_fn.base import LOSS_REGISTRY, BaseCriterion, TaskLoss
from utils import logger
from utils.errors import ConfigError
from utils.opts import add_options
from utils.registry import Registry

DETECTION_LOSS_REGISTRY = Registry("detection loss", option="loss.detection.name")


@LOSS_REGISTRY.register("detection")
class DetectionLoss(TaskLoss):
    """The detection loss named by ``loss.detection.name``; ``mask_rcnn_loss`` goes with
    ``model.detection.name: mask_rcnn`` and only with it (Mask R-CNN computes its own losses)."""

    task, variants, default = "detection", DETECTION_LOSS_REGISTRY, "ssd_multibox_loss"

    def __init__(self, opts: Any) -> None:
        name, model = getattr(opts, "loss.detection.name"), getattr(opts, "model.detection.name")
        if (name == "mask_rcnn_loss") != (model == "mask_rcnn"):
            wanted = "mask_rcnn_loss" if model == "mask_rcnn" else "a loss other than mask_rcnn_loss"
            raise ConfigError(f"loss.detection.name {name} does not fit model.detection.name {model}: use {wanted}")
        super().__init__(opts)


def hard_negative_mask(background_loss: Tensor, labels: Tensor, neg_pos_ratio: int) -> Tensor:
    """Per image, all positive anchors and the ``neg_pos_ratio`` times as many negatives with the
    highest background loss."""
    positives = labels > 0
    n_negatives = positives.sum(dim=1, keepdim=True) * neg_pos_ratio
    loss = background_loss.masked_fill(positives, -float("inf"))
    rank = loss.argsort(dim=1, descending=True).argsort(dim=1)
    return positives | (rank < n_negatives)


@DETECTION_LOSS_REGISTRY.register("ssd_multibox_loss")
class SSDMultiboxLoss(BaseCriterion):
    """``(w * SmoothL1(positive box offsets) + CE(positives and mined negatives)) / positives``.

    The localization weight ``w`` is 1, unless ``max_monitor_iter`` is set: then, every
    ``update_wt_freq`` training iterations up to that one, it is re-estimated as the ratio of the
    summed classification and localization losses.
    """

    def __init__(self, opts: Any) -> None:
        super().__init__()
        key = "loss.detection.ssd_multibox_loss"
        self.neg_pos_ratio = int(getattr(opts, f"{key}.neg_pos_ratio"))
        self.max_monitor_iter = int(getattr(opts, f"{key}.max_monitor_iter"))
        self.update_freq = max(1, int(getattr(opts, f"{key}.update_wt_freq")))
        self.loc_weight = 1.0
        self._iteration = 0
        self._sums = [1e-7, 1e-7]

    def forward(self, prediction: Tuple[Tensor, Tensor], target: Dict[str, Tensor]) -> Tensor:
        confidences, locations = (p.float() for p in prediction)
        labels, gt_locations = target["box_labels"], target["box_coordinates"].float()
        with torch.no_grad():
            background = -F.log_softmax(confidences, dim=2)[:, :, 0]
            mask = hard_negative_mask(background, labels, self.neg_pos_ratio)
        classification = F.cross_entropy(confidences[mask], labels[mask], reduction="sum")
        positives = labels > 0
        localization = F.smooth_l1_loss(locations[positives], gt_locations[positives], reduction="sum")
        n_positives = max(int(positives.sum()), 1)
        if self.training and self._iteration <= self.max_monitor_iter:
            self._monitor(float(classification), float(localization))
        if self.training:
            localization = localization * self.loc_weight
        return (localization + classification) / n_positives

    def _monitor(self, classification: float, localization: float) -> None:
        self._sums[0] += classification
        self._sums[1] += localization
        if (self._iteration + 1) % self.update_freq == 0 or self._iteration == self.max_monitor_iter:
            previous, self.loc_weight = self.loc_weight, self._sums[0] / self._sums[1]
            self._sums = [1e-7, 1e-7]
            logger.log(f"SSD loss: localization weight {previous:.4f} -> {self.loc_weight:.4f}")
        self._iteration += 1

    def get_extra_state(self) -> Dict[str, Any]:
        """The adaptive localization weight and its running sums (kept in checkpoints, so a resumed
        run weighs its losses as an uninterrupted one)."""
        return {"loc_weight": self.loc_weight, "iteration": self._iteration, "sums": list(self._sums)}

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        self.loc_weight, self._iteration = float(state["loc_weight"]), int(state["iteration"])
        self._sums = [float(v) for v in state["sums"]]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = parser.add_argument_group("SSD multibox loss (loss.detection.name: ssd_multibox_loss)")
        add_options(group, "--loss.detection.ssd-multibox-loss", [
            ("neg-pos-ratio", 3, "negatives kept per positive anchor"),
            ("max-monitor-iter", -1, "re-estimate the localization weight up to this iteration (-1: keep it at 1)"),
            ("update-wt-freq", 200, "iterations between re-estimates of the localization weight"),
        ])
        return parser

    def extra_repr(self) -> str:
        return f"neg_pos_ratio={self.neg_pos_ratio}"
