"""Optimizers (``optim.name``): ``sgd``, ``adam`` and ``adamw`` from ``torch.optim``.

Each runs torch's fused implementation (one kernel for all parameters) where torch has one for the
parameters' device, else its multi-tensor (``foreach``) one where it has that, else the loop over the
parameters; all compute the same update (up to float rounding). The choice stays out of the saved
state: ``state_dict`` records the defaults (``fused`` and ``foreach`` ``None``), as the loop does, and
a loaded state keeps the implementation of the optimizer it is loaded into. A fused step does not
tell autograd that it changed the parameters: their version counters are bumped after it, as every
other in-place change bumps them (what caches of values derived from parameters rely on, e.g.
ParC's instance kernels in eager inference).
"""
from __future__ import annotations

import argparse
from typing import Any, Dict, Iterable, List

import torch
from torch import nn

from utils.opts import add_options, non_negative
from utils.registry import Registry

OPTIM_REGISTRY = Registry("optimizer", option="optim.name")


@OPTIM_REGISTRY.register("sgd")
def _sgd(opts: Any, groups: List[Dict[str, Any]], implementation: Dict[str, bool]) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=0.1, momentum=float(getattr(opts, "optim.sgd.momentum")),
                           nesterov=bool(getattr(opts, "optim.sgd.nesterov")), **implementation)


@OPTIM_REGISTRY.register("adam")
def _adam(opts: Any, groups: List[Dict[str, Any]], implementation: Dict[str, bool]) -> torch.optim.Optimizer:
    betas = (float(getattr(opts, "optim.adam.beta1")), float(getattr(opts, "optim.adam.beta2")))
    return torch.optim.Adam(groups, lr=0.1, betas=betas, eps=float(getattr(opts, "optim.eps")),
                            amsgrad=bool(getattr(opts, "optim.adam.amsgrad")), **implementation)


@OPTIM_REGISTRY.register("adamw")
def _adamw(opts: Any, groups: List[Dict[str, Any]], implementation: Dict[str, bool]) -> torch.optim.Optimizer:
    betas = (float(getattr(opts, "optim.adamw.beta1")), float(getattr(opts, "optim.adamw.beta2")))
    return torch.optim.AdamW(groups, lr=0.1, betas=betas, eps=float(getattr(opts, "optim.eps")),
                             amsgrad=bool(getattr(opts, "optim.adamw.amsgrad")), **implementation)


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
    groups = model_parameter_groups(model, opts)
    implementation = fast_implementation(p for group in groups for p in group["params"])
    optimizer = OPTIM_REGISTRY.get(getattr(opts, "optim.name"))(opts, groups, implementation)
    return as_the_loop(optimizer) if implementation else optimizer


IMPLEMENTATION_KEYS = ("fused", "foreach")


def fast_implementation(params: Iterable[torch.Tensor]) -> Dict[str, bool]:
    """``{"fused": True}`` when torch has fused optimizer kernels for the device of every one of
    ``params`` (floating point), else ``{"foreach": True}`` when it has multi-tensor kernels there,
    else ``{}`` (the loop)."""
    from torch.utils._foreach_utils import _get_foreach_kernels_supported_devices, _get_fused_kernels_supported_devices

    params = list(params)
    devices = {p.device.type for p in params}
    if not params or not all(p.is_floating_point() for p in params):
        return {}
    if devices <= set(_get_fused_kernels_supported_devices()):
        return {"fused": True}
    if devices <= set(_get_foreach_kernels_supported_devices()):
        return {"foreach": True}
    return {}


def as_the_loop(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """``optimizer`` (a fused or foreach one) with the ``state_dict`` of the loop over the parameters,
    keeping its own implementation when a state is loaded into it, and with the parameters' version
    counters bumped by each step (see the module's docstring); returns ``optimizer``."""
    from torch.autograd.graph import increment_version

    own = [{key: group[key] for key in IMPLEMENTATION_KEYS} for group in optimizer.param_groups]
    params = [p for group in optimizer.param_groups for p in group["params"]]

    def saved_as_defaults(_: torch.optim.Optimizer, state: Dict[str, Any]) -> Dict[str, Any]:
        for group in state["param_groups"]:  # copies of the optimizer's groups
            group.update({key: None for key in IMPLEMENTATION_KEYS})
        return state

    def loaded_with_own(_: torch.optim.Optimizer, state: Dict[str, Any]) -> Dict[str, Any]:
        groups = [dict(group, **implementation) for group, implementation in zip(state["param_groups"], own)]
        return dict(state, param_groups=groups)

    optimizer.register_state_dict_post_hook(saved_as_defaults)
    optimizer.register_load_state_dict_pre_hook(loaded_with_own)
    if any(implementation.get("fused") for implementation in own):
        optimizer.register_step_post_hook(lambda *_: increment_version(params))
    return optimizer


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
