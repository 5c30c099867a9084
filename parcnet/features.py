"""A classification model's feature stages as a model of their own (timm's ``features_only=True``)."""
from __future__ import annotations

from typing import List

from torch import Tensor, nn

from utils.errors import ConfigError


class FeatureStages(nn.Module):
    """Returns the feature maps of a backbone's stages, finest (stride 4) to coarsest (stride 32).

    The backbone is kept whole (its state_dict names are the classification model's, under
    ``backbone.``); only its ``forward_features`` runs.

    Args:
        backbone: a model with ``feature_info()`` and ``forward_features(x)``.
        name: what the caller named it, for the error when it has no feature stages.

    Attributes:
        feature_info: one ``FeatureInfo`` per stage: ``channels`` and ``reduction`` (the stride).
    """

    def __init__(self, backbone: nn.Module, name: str) -> None:
        if not (callable(getattr(backbone, "feature_info", None)) and callable(getattr(backbone, "forward_features",
                                                                                         None))):
            raise ConfigError(f"create_model: {name} ({type(backbone).__name__}) has no feature stages "
                              f"(feature_info() and forward_features()); features_only=True takes a classification "
                              f"model, such as the backbone of a detector or segmenter")
        super().__init__()
        self.backbone = backbone
        self.feature_info = list(backbone.feature_info())

    def forward(self, x: Tensor) -> List[Tensor]:
        return list(self.backbone.forward_features(x))
