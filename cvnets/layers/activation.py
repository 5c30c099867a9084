"""Activation functions, selected by ``model.activation.name``."""
from __future__ import annotations

import argparse
import copy
from typing import Any, Optional

from torch import nn

from utils.opts import add_options
from utils.registry import Registry

ACTIVATION_REGISTRY = Registry("activation", option="model.activation.name")


def _register(name: str, make: Any) -> None:
    ACTIVATION_REGISTRY.register(name)(make)


_register("relu", lambda inplace, slope, n: nn.ReLU(inplace=False))
_register("relu6", lambda inplace, slope, n: nn.ReLU6(inplace=inplace))
_register("leaky_relu", lambda inplace, slope, n: nn.LeakyReLU(negative_slope=slope, inplace=inplace))
_register("prelu", lambda inplace, slope, n: nn.PReLU(num_parameters=max(1, n)))
_register("swish", lambda inplace, slope, n: nn.SiLU(inplace=inplace))
_register("hard_swish", lambda inplace, slope, n: nn.Hardswish(inplace=inplace))
_register("hard_sigmoid", lambda inplace, slope, n: nn.Hardsigmoid(inplace=inplace))
_register("gelu", lambda inplace, slope, n: nn.GELU())
_register("sigmoid", lambda inplace, slope, n: nn.Sigmoid())


def build_activation(opts: Any, num_parameters: int = 1, name: Optional[str] = None) -> nn.Module:
    """The activation configured by ``model.activation.*`` (or ``name``), e.g. ``nn.SiLU`` for swish."""
    name = name if name is not None else getattr(opts, "model.activation.name")
    make = ACTIVATION_REGISTRY.get(name)
    inplace = bool(getattr(opts, "model.activation.inplace"))
    slope = float(getattr(opts, "model.activation.neg_slope"))
    return make(inplace, slope, num_parameters)


def with_task_activation(opts: Any, task: str) -> Any:
    """A copy of ``opts`` whose ``model.activation.*`` come from ``model.<task>.activation.*`` when set.

    The reference configs choose, for instance, swish for the backbone
    (``model.classification.activation.name``) and relu for a segmentation head.
    """
    name = getattr(opts, f"model.{task}.activation.name")
    if name is None:
        return opts
    scoped = copy.copy(opts)
    setattr(scoped, "model.activation.name", name)
    setattr(scoped, "model.activation.inplace", getattr(opts, f"model.{task}.activation.inplace"))
    setattr(scoped, "model.activation.neg_slope", getattr(opts, f"model.{task}.activation.neg_slope"))
    return scoped


def arguments_activation(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Activation functions")
    add_options(group, "--model.activation", [
        ("name", "relu", "activation used by the model's layers", dict(choices=ACTIVATION_REGISTRY.names())),
        ("inplace", False, "use in-place activations"),
        ("neg-slope", 0.1, "negative slope of leaky_relu"),
    ])
    return parser
