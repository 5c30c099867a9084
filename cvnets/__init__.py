"""Networks: layers, modules and models of ParC-Net and its baselines.

    >>> import cvnets
    >>> cvnets.list_models("detection")
    ['ssd_parcnet_s', 'ssd_mobilevit_s', 'ssd_mobilevit_xs', 'maskrcnn_parc_resnet50', 'maskrcnn_resnet50',
     'maskrcnn_parc_convnext_xt', 'maskrcnn_convnext_xt']
    >>> model = cvnets.get_model(opts)     # from parsed options; parcnet.create_model builds by name

Building a model by name or from a YAML file needs the option parser, which is assembled above
this package: that is :func:`parcnet.create_model`.
"""
import argparse

from cvnets.layers import arguments_nn_layers
from cvnets.misc.ema import EMA, arguments_ema
from cvnets.models import get_model, arguments_models
from utils.zoo import list_models


def arguments_model(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of the layers, of every registered model and of the EMA."""
    arguments_nn_layers(parser)
    arguments_models(parser)
    arguments_ema(parser)
    return parser


__all__ = ["get_model", "arguments_model", "EMA", "list_models"]
