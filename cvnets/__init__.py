"""Networks: layers, modules and models of ParC-Net and its baselines.

    >>> import cvnets
    >>> cvnets.list_models("detection")
    ['ssd_parcnet_s', 'ssd_mobilevit_s', 'ssd_mobilevit_xs', 'maskrcnn_parc_resnet50', 'maskrcnn_resnet50',
     'maskrcnn_parc_convnext_xt', 'maskrcnn_convnext_xt']
    >>> model = cvnets.create_model("parcnet_s", pretrained="checkpoint_ema_avg.pt")

``create_model`` and ``load_image`` are those of :mod:`options.models`: building a model from a
config needs the option parser, which is assembled above this package (``options`` imports
``cvnets``, never the reverse), so they are looked up there on first use.
"""
import argparse
from typing import Any

from cvnets.layers import arguments_nn_layers
from cvnets.misc.ema import EMA, arguments_ema
from cvnets.models import get_model, arguments_models
from cvnets.models.zoo import list_models

_FROM_OPTIONS = ("create_model", "load_image")


def arguments_model(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of the layers, of every registered model and of the EMA."""
    arguments_nn_layers(parser)
    arguments_models(parser)
    arguments_ema(parser)
    return parser


def __getattr__(name: str) -> Any:
    if name in _FROM_OPTIONS:
        import importlib

        return getattr(importlib.import_module("options.models"), name)
    raise AttributeError(f"module 'cvnets' has no attribute {name!r}")


__all__ = ["get_model", "arguments_model", "EMA", "list_models", *_FROM_OPTIONS]
