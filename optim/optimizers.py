"""Optimizers (``optim.name``): ``sgd``, ``adam`` and ``adamw`` from ``torch.optim``."""
from __future__ import annotations

import argparse
from typing import Any, Dict, Iterable, List

import torch
from torch import nn

from utils.opts import add_options, non_negative
from utils.registry import Registry

OPTIM_REGISTRY = Registry("optimizer", option="optim.name")


@OPTIM_REGISTRY.register("sgd")
def _sgd(opts: Any, groups: List[Dict[str, Any]]) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=0.1, momentum=float(getattr(opts, "optim.sgd.momentum")),
                           nesterov=bool(getattr(opts, "optim.sgd.nesterov")))


@OPTIM_REGISTRY.register("adam")
def _adam(opts: Any, groups: List[Dict[str, Any]]) -> torch.optim.Optimizer:
    betas = (float(getattr(opts, "optim.adam.beta1")), float(getattr(opts, "optim.adam.beta2")))
    return torch.optim.Adam(groups, lr=0.1, betas=betas, eps=float(getattr(opts, "optim.eps")),
                            amsgrad=bool(getattr(opts, "optim.adam.amsgrad")))


@OPTIM_REGISTRY.register("adamw")
def _adamw(opts: Any, groups: List[Dict[str, Any]]) -> torch.optim.Optimizer:
    betas = (float(getattr(opts, "optim.adamw.beta1")), float(getattr(opts, "optim.adamw.beta2")))
    return torch.optim.AdamW(groups, lr=0.1, betas=betas, eps=float(getattr(opts, "optim.eps")),
                             amsgrad=bool(getattr(opts, "optim.adamw.amsgrad")))


def parameter_groups(named_parameters: Iterable, weight_decay: float, no_decay_bn_filter_bias: bool,
                     lr_multiplier: float = 1.0) -> List[Dict[str, Any]]:
    """Trainable parameters in a group with ``weight_decay`` and, with ``no_decay_bn_filter_bias``,
    the 1-D ones (biases, normalization weights) in a group without decay."""
    decay, no_decay = [], []
    for _, param in named_parameters:
        if not param.requires_grad:
            continue
        (no_decay if no_decay_bn_filter_bias and param.dim() == 1 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay, "lr_multiplier": lr_multiplier}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0, "lr_multiplier": lr_multiplier})
    return [g for g in groups if g["params"]]


def model_parameter_groups(model: nn.Module, opts: Any) -> List[Dict[str, Any]]:
    """The model's parameters in groups: those of the sub-modules a model names in its
    ``lr_multipliers()`` (``{"seg_head": 10.0}``) learn that many times faster, in groups of their
    own after the groups of all other parameters."""
    weight_decay = non_negative(opts, "optim.weight_decay")
    no_decay = bool(getattr(opts, "optim.no_decay_bn_filter_bias"))
    multipliers = model.lr_multipliers()
    prefixes = tuple(f"{name}." for name in multipliers)
    rest = [(n, p) for n, p in model.named_parameters() if not n.startswith(prefixes)]
    groups = parameter_groups(rest, weight_decay, no_decay)
    for name, multiplier in multipliers.items():
        groups += parameter_groups(model.get_submodule(name).named_parameters(), weight_decay, no_decay,
                                   lr_multiplier=multiplier)
    return groups


def build_optimizer(model: nn.Module, opts: Any) -> torch.optim.Optimizer:
    """The optimizer of ``optim.name``; learning rates are set by the scheduler at every step."""
    return OPTIM_REGISTRY.get(getattr(opts, "optim.name"))(opts, model_parameter_groups(model, opts))


def arguments_optimizers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Optimizer")
    add_options(group, "--optim", [
        ("name", "sgd", "optimizer", dict(choices=OPTIM_REGISTRY.names())),
        ("eps", 1e-8, "epsilon of adam and adamw"),
        ("weight-decay", 4e-5, "weight decay"),
        ("no-decay-bn-filter-bias", False, "no weight decay on biases and normalization weights"),
        ("sgd.momentum", 0.9, "SGD momentum"),
        ("sgd.nesterov", False, "Nesterov momentum"),
    ])
    for name in ("adam", "adamw"):
        add_options(group, f"--optim.{name}", [("beta1", 0.9, f"{name} beta1"), ("beta2", 0.98, f"{name} beta2"),
                                               ("amsgrad", False, f"AMSGrad variant of {name}")])
    return parser
