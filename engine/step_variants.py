"""Variants of the engine's training step (eager or compiled, float32 or bfloat16 autocast,
contiguous or channels_last), and what bfloat16 costs a step numerically."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from utils.compile_settings import CompileSettings
from utils.errors import ConfigError

PARTS = ("fp32", "bf16", "channels_last")


@dataclass(frozen=True)
class Variant:
    """A training step variant: its name, compiled or eager, bf16 autocast or float32, channels_last or not."""
    name: str
    compiled: bool = False
    bf16: bool = False
    channels_last: bool = False


def parse_variants(names: Sequence[str], compiled: bool = False) -> List[Variant]:
    """The variants named ``fp32``, ``bf16``, ``channels_last``, ``bf16+channels_last``, ... (parts
    joined by ``+``), each compiled when ``compiled``; a one-line ConfigError for another name or a
    variant named twice."""
    variants = []
    for name in names:
        parts = name.split("+")
        if any(p not in PARTS for p in parts) or len(set(parts)) < len(parts) or {"fp32", "bf16"} <= set(parts):
            raise ConfigError(f"benchmark.variants: {name!r} is not a variant (parts {', '.join(PARTS)} joined by +, "
                              f"fp32 or bf16)")
        variants.append(Variant(name, compiled, "bf16" in parts, "channels_last" in parts))
    if len({(v.bf16, v.channels_last) for v in variants}) < len(variants) or not variants:
        raise ConfigError(f"benchmark.variants: {' '.join(names)} must name each variant once")
    return variants


def eager_and_compiled(bf16: bool = False, channels_last: bool = False) -> List[Variant]:
    """The step eager, then compiled."""
    return [Variant("eager", False, bf16, channels_last), Variant("compiled", True, bf16, channels_last)]


def build_step(opts: Any, model: torch.nn.Module, variant: Variant, device: torch.device,
               settings: Optional[CompileSettings] = None) -> Any:
    """The engine's training step of ``variant`` on a copy of ``model`` (channels_last and compiled
    as the variant says)."""
    from engine.compilation import compile_model
    from engine.loop_helpers import BatchInputs
    from engine.training_step import TrainingStep
    from loss_fn import build_loss
    from optim import build_optimizer
    from utils.runtime import Runtime

    model = copy.deepcopy(model)
    if variant.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if variant.compiled:
        compile_model(model, settings or CompileSettings())
    optimizer = build_optimizer(model, opts)
    for group in optimizer.param_groups:
        group["lr"] = 1e-4
    runtime = Runtime(device=device, amp_dtype=torch.bfloat16 if variant.bf16 else None)
    inputs = BatchInputs(opts, variant.channels_last)
    return TrainingStep(model, build_loss(opts).to(device), optimizer, runtime, inputs)


def fixed_batch(opts: Any, batch_size: int, size: Tuple[int, int]) -> Dict[str, torch.Tensor]:
    """A seeded uint8 batch of ``batch_size`` images of ``size`` (height, width) and their labels."""
    generator = torch.Generator().manual_seed(0)
    n_classes = int(getattr(opts, "model.classification.n_classes"))
    return {"image": torch.randint(0, 256, (batch_size, 3, *size), dtype=torch.uint8, generator=generator),
            "label": torch.randint(0, n_classes, (batch_size,), generator=generator)}


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _loss_and_gradients(opts: Any, model: torch.nn.Module, batch: Dict[str, torch.Tensor], variant: Variant,
                        device: torch.device) -> Tuple[float, Dict[str, torch.Tensor]]:
    """One eager forward and backward pass of ``variant`` from ``model``'s weights (no optimizer
    step; dropout drawing the same masks): the loss and the gradient of each parameter."""
    step = build_step(opts, model, Variant(variant.name, False, variant.bf16, variant.channels_last), device)
    torch.manual_seed(0)
    _, _, loss, _ = step(batch, sync_now=False)
    return float(loss), {name: p.grad.detach().float() for name, p in step.model.named_parameters()
                         if p.grad is not None}


def bf16_differences(opts: Any, model: torch.nn.Module, batch: Dict[str, torch.Tensor], variant: Variant,
                     device: torch.device) -> Dict[str, float]:
    """What ``variant`` (bfloat16 autocast) changes in one training step from ``model``'s weights on
    ``batch``, against float32 in the same memory format, both eager.

    Returns:
        ``loss``: the relative difference of the loss; ``gradients``: the largest difference of a
        gradient element relative to the largest float32 gradient element (over all parameters:
        the relative difference in the max norm, which the parameters whose gradient is nearly zero,
        such as a bias before a batch norm, do not blow up).
    """
    reference = Variant("fp32", channels_last=variant.channels_last)
    loss, gradients = _loss_and_gradients(opts, model, batch, variant, device)
    fp32_loss, fp32_gradients = _loss_and_gradients(opts, model, batch, reference, device)
    largest = max(float(g.abs().max()) for g in fp32_gradients.values())
    difference = max(float((gradients[name] - g).abs().max()) for name, g in fp32_gradients.items())
    return {"loss": abs(loss - fp32_loss) / abs(fp32_loss), "gradients": difference / largest}
