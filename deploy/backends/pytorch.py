"""The PyTorch backends: ``eager`` (the module itself) and ``compile`` (``torch.compile``)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from deploy.backends.base import BACKEND_REGISTRY, InferenceBackend, Run


@BACKEND_REGISTRY.register("eager")
class EagerBackend(InferenceBackend):
    """The module, run by PyTorch without gradients."""

    def prepare(self, module: nn.Module, x: Tensor, output_names: Sequence[str]) -> Run:
        def run() -> object:
            with torch.no_grad():
                return module(x)

        return run


@BACKEND_REGISTRY.register("compile")
class CompileBackend(EagerBackend):
    """The module compiled by ``torch.compile`` (compiled on the parity check's run, before timing)."""

    def prepare(self, module: nn.Module, x: Tensor, output_names: Sequence[str]) -> Run:
        return super().prepare(torch.compile(module), x, output_names)
