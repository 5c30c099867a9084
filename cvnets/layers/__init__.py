"""Building blocks: convolution, linear, pooling, normalization and activation layers."""
import argparse

from torch.nn import Dropout

from cvnets.layers.activation import ACTIVATION_REGISTRY, activation_arguments, build_activation, with_task_activation
from cvnets.layers.conv import ConvLayer, SeparableConv
from cvnets.layers.drop_path import DropPath
from cvnets.layers.init import INIT_METHODS, init_weight, initialize_weights
from cvnets.layers.linear import LinearLayer
from cvnets.layers.normalization import (NORM_REGISTRY, NORM_TYPES, LayerNorm2d, build_normalization,
                                         normalization_arguments)
from cvnets.layers.pooling import GlobalPool
from utils.opts import add_flag


def layer_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Layers")
    group.add_argument("--model.layer.global-pool", type=str, default="mean", choices=["mean", "rms", "abs"],
                       help="global pooling before the classifier")
    group.add_argument("--model.layer.conv-init", type=str, default="kaiming_normal", choices=INIT_METHODS,
                       help="initialisation of convolution weights")
    group.add_argument("--model.layer.conv-init-std-dev", type=float, default=None,
                       help="std of the normal conv initialisations (default: 1/fan_in)")
    group.add_argument("--model.layer.linear-init", type=str, default="xavier_uniform", choices=INIT_METHODS,
                       help="initialisation of linear weights")
    group.add_argument("--model.layer.linear-init-std-dev", type=float, default=0.01,
                       help="std of the normal linear initialisations")
    add_flag(group, "--model.layer.conv-weight-std", help="weight standardisation (not supported; must be false)")
    return parser


def arguments_nn_layers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    activation_arguments(parser)
    normalization_arguments(parser)
    layer_arguments(parser)
    return parser


__all__ = [
    "ACTIVATION_REGISTRY", "NORM_REGISTRY", "NORM_TYPES", "INIT_METHODS", "ConvLayer", "SeparableConv",
    "LinearLayer", "GlobalPool", "Dropout", "DropPath", "LayerNorm2d", "build_activation", "build_normalization", "with_task_activation",
    "initialize_weights", "init_weight", "arguments_nn_layers",
]
