"""Building blocks: convolution, linear, pooling, normalization and activation layers."""
import argparse

from torch.nn import Dropout

from cvnets.layers.activation import ACTIVATION_REGISTRY, arguments_activation, build_activation, with_task_activation
from cvnets.layers.conv import ConvLayer, SeparableConv
from cvnets.layers.drop_path import DropPath
from cvnets.layers.frozen_norm import FrozenBatchNorm, freeze_norm_layers
from cvnets.layers.init import INIT_METHODS, init_weight, initialize_weights
from cvnets.layers.linear import LinearLayer
from cvnets.layers.normalization import (NORM_REGISTRY, NORM_TYPES, LayerNorm2d, build_normalization,
                                         arguments_normalization)
from cvnets.layers.pooling import GlobalPool
from utils.opts import add_options


def arguments_layer(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Layers")
    add_options(group, "--model.layer", [
        ("global-pool", "mean", "global pooling before the classifier", dict(choices=["mean", "rms", "abs"])),
        ("conv-init", "kaiming_normal", "initialisation of convolution weights", dict(choices=INIT_METHODS)),
        ("conv-init-std-dev", None, "std of the normal conv initialisations (default: 1/fan_in)", dict(type=float)),
        ("linear-init", "xavier_uniform", "initialisation of linear weights", dict(choices=INIT_METHODS)),
        ("linear-init-std-dev", 0.01, "std of the normal linear initialisations"),
        ("conv-weight-std", False, "weight standardisation (not supported; must be false)"),
    ])
    return parser


def arguments_nn_layers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    arguments_activation(parser)
    arguments_normalization(parser)
    arguments_layer(parser)
    return parser


__all__ = [
    "FrozenBatchNorm", "freeze_norm_layers",
    "ACTIVATION_REGISTRY", "NORM_REGISTRY", "NORM_TYPES", "INIT_METHODS", "ConvLayer", "SeparableConv",
    "LinearLayer", "GlobalPool", "Dropout", "DropPath", "LayerNorm2d", "build_activation", "build_normalization", "with_task_activation",
    "initialize_weights", "init_weight", "arguments_nn_layers",
]
