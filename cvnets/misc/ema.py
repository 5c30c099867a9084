"""Exponential moving average of model weights.

After every optimizer step, ``ema = (1 - momentum) * ema + momentum * model`` for each
parameter and floating-point buffer (BatchNorm statistics included); integer buffers such as
``num_batches_tracked`` are copied. ``momentum`` is the weight of the *new* value, as in the
reference configs (``ema.momentum: 0.0005``). Weights shared by two names are updated once.
"""
from __future__ import annotations

import argparse
import copy
from typing import Dict, Iterator, Tuple

import torch
from torch import Tensor, nn

from utils.opts import add_options


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside a (distributed) data-parallel wrapper."""
    return model.module if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)) else model


def _tensors(model: nn.Module) -> Iterator[Tuple[str, Tensor]]:
    yield from model.named_parameters()
    yield from model.named_buffers()


class EMA:
    def __init__(self, model: nn.Module, momentum: float) -> None:
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"EMA momentum must be in (0, 1], got {momentum}")
        self.ema_model = copy.deepcopy(_unwrap(model))
        self.ema_model.eval()
        for param in self.ema_model.parameters():
            param.requires_grad_(False)
        self.momentum = momentum

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        source: Dict[str, Tensor] = dict(_tensors(_unwrap(model)))
        for name, ema_value in _tensors(self.ema_model):
            value = source[name].detach()
            if ema_value.is_floating_point():
                ema_value.lerp_(value.to(ema_value.dtype), self.momentum)
            else:
                ema_value.copy_(value)

    def state_dict(self) -> Dict[str, Tensor]:
        return self.ema_model.state_dict()

    def load_state_dict(self, state: Dict[str, Tensor]) -> None:
        self.ema_model.load_state_dict(state)


def arguments_ema(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("EMA", "Exponential moving average of the weights")
    add_options(group, "--ema", [
        ("enable", False, "keep, validate and save an EMA of the weights"),
        ("momentum", 0.0001, "weight of the current model in each EMA update"),
        ("copy-at-epoch", -1, "replace the model's weights by the EMA's at the start of this epoch (-1: never)"),
    ])
    return parser
