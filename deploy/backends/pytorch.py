"""The PyTorch backends: ``eager`` (the module itself) and ``compile`` (``torch.compile``)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from deploy import export
from deploy.backends.base import BACKEND_REGISTRY, FileRun, InferenceBackend, Run


@BACKEND_REGISTRY.register("eager")
class EagerBackend(InferenceBackend):
    """The module, run by PyTorch without gradients; a TorchScript or ``torch.export`` file is
    loaded and run by PyTorch."""

    formats = ("torchscript", "exported_program")

    def prepare(self, module: nn.Module, x: Tensor, output_names: Sequence[str]) -> Run:
        def run() -> object:
            with torch.no_grad():
                return module(x)

        return run

    def load_file(self, path: Path, fmt: str, output_names: Sequence[str]) -> FileRun:
        return export.load_runner(path, fmt)


@BACKEND_REGISTRY.register("compile")
class CompileBackend(EagerBackend):
    """The module compiled by ``torch.compile`` (compiled on the parity check's run, before timing)."""

    formats = ()

    def prepare(self, module: nn.Module, x: Tensor, output_names: Sequence[str]) -> Run:
        return super().prepare(torch.compile(module), x, output_names)
