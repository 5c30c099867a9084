"""Networks: layers, modules and models of ParC-Net and its baselines."""
import argparse

from cvnets.layers import arguments_nn_layers
from cvnets.misc.ema import EMA, arguments_ema
from cvnets.models import get_model, arguments_models


def arguments_model(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of the layers, of every registered model and of the EMA."""
    arguments_nn_layers(parser)
    arguments_models(parser)
    arguments_ema(parser)
    return parser


__all__ = ["get_model", "arguments_model", "EMA"]
