"""Parameter and multiply-add (MAC) counts per stage.

Two conventions, each the one the published numbers of a model family used:

``cvnets`` (the reference profiler, for ParC-Net, MobileViT and their SSD / DeepLabV3 versions):
a convolution costs ``kh * kw * C_in / groups * C_out`` per output pixel (plus one per output for
a bias), a linear layer ``in * out (+ out)`` per token; normalization, activation and pooling cost
nothing. A module that derives from :class:`CountsOwnMacs` counts itself and everything inside
it (the ParC convolutions and blocks and the attention layer do, to follow the reference's
formulas).

``fvcore`` (fvcore's FlopCountAnalysis, for the ParC ConvNets): convolutions and linear layers
without their biases, batch norm (eval) 2 per element, layer and group norm 5 per element,
adaptive average pooling 1 per input element. A module that computes products with functions
rather than sub-modules (the ParC convolutions, the ParC block's depth-wise ParC products,
attention's two matrix products) derives from :class:`CountsFunctionalMacs` and adds them, its
sub-modules counted as usual.

MACs are counted on one forward pass of one image.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn


class CountsOwnMacs(abc.ABC):
    """A module that counts its MACs, and those of everything inside it, under the ``cvnets`` convention."""

    @abc.abstractmethod
    def profile_macs(self, inputs: Sequence[Tensor], output: Any) -> float:
        """MACs of one forward pass that took ``inputs`` and gave ``output``."""


class CountsFunctionalMacs(abc.ABC):
    """A module whose products are computed by functions, not sub-modules; under the ``fvcore``
    convention they are added to the counts of its sub-modules."""

    @abc.abstractmethod
    def functional_macs(self, inputs: Sequence[Tensor], output: Any) -> float:
        """fvcore's count of those products for one forward pass."""


@dataclass
class StageProfile:
    name: str
    params: int
    macs: float


@dataclass
class ModelProfile:
    stages: List[StageProfile]
    params: int
    macs: float


def _unique_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _default_macs(module: nn.Module, inputs: Sequence[Any], output: Any) -> float:
    if isinstance(module, nn.Conv2d) and isinstance(output, Tensor):
        n, c_out, h, w = output.shape
        kh, kw = module.kernel_size
        macs = kh * kw * (module.in_channels // module.groups) * c_out * h * w * n
        if module.bias is not None:
            macs += c_out * h * w * n
        return float(macs)
    if isinstance(module, nn.Linear) and isinstance(output, Tensor):
        tokens = output.numel() // module.out_features
        per_token = module.in_features * module.out_features + (module.out_features if module.bias is not None else 0)
        return float(tokens * per_token)
    return 0.0


def _fvcore_macs(module: nn.Module, inputs: Sequence[Any], output: Any) -> float:
    if isinstance(module, nn.Conv2d) and isinstance(output, Tensor):
        n, c_out, h, w = output.shape
        kh, kw = module.kernel_size
        return float(kh * kw * (module.in_channels // module.groups) * c_out * h * w * n)
    if isinstance(module, nn.Linear) and isinstance(output, Tensor):
        return float(output.numel() // module.out_features * module.in_features * module.out_features)
    if isinstance(module, CountsFunctionalMacs):
        return module.functional_macs(inputs, output)
    elements = inputs[0].numel() if inputs and isinstance(inputs[0], Tensor) else 0
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return float(elements * (2 if module.affine else 1))
    if isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
        affine = module.elementwise_affine if isinstance(module, nn.LayerNorm) else module.affine
        return float(elements * (5 if affine else 4))
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return float(elements)
    return 0.0


def profile_model(model: nn.Module, inputs: Any, stages: Sequence[Tuple[str, nn.Module]],
                  convention: str = "cvnets") -> ModelProfile:
    """Run ``model(inputs)`` once and count parameters and MACs for each of ``stages``."""
    if convention not in ("cvnets", "fvcore"):
        raise ValueError(f"unknown MAC convention {convention!r}")
    stage_names = {id(m): name for name, m in stages}
    macs: Dict[str, float] = {name: 0.0 for name, _ in stages}
    stack: List[nn.Module] = []
    stage_stack: List[str] = []
    handles = []

    def pre_hook(module: nn.Module, args: Any) -> None:
        stack.append(module)
        if id(module) in stage_names:
            stage_stack.append(stage_names[id(module)])

    def post_hook(module: nn.Module, args: Any, output: Any) -> None:
        stack.pop()
        key = stage_stack[-1] if stage_stack else "other"  # a stage that is a single layer counts itself
        if id(module) in stage_names:
            stage_stack.pop()
        if convention == "fvcore":
            count = _fvcore_macs(module, args, output)
        elif any(isinstance(outer, CountsOwnMacs) for outer in stack):
            return  # counted by an enclosing module
        elif isinstance(module, CountsOwnMacs):
            count = module.profile_macs(args, output)
        else:
            count = _default_macs(module, args, output)
        if count:
            macs[key] = macs.get(key, 0.0) + count

    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    rows = [StageProfile(name, _unique_params(module), macs[name]) for name, module in stages]
    if macs.get("other"):
        rows.append(StageProfile("other", 0, macs["other"]))
    return ModelProfile(rows, _unique_params(model), sum(macs.values()))


def format_profile(profile: ModelProfile, title: str) -> str:
    lines = [title, "=" * 60, f"{'stage':<20}{'params (M)':>18}{'MACs (M)':>20}", "-" * 60]
    for row in profile.stages:
        lines.append(f"{row.name:<20}{row.params / 1e6:>18.3f}{row.macs / 1e6:>20.3f}")
    lines += ["-" * 60, f"{'total':<20}{profile.params / 1e6:>18.3f}{profile.macs / 1e6:>20.3f}", "=" * 60]
    return "\n".join(lines)
