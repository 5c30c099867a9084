"""The ``executorch`` backend: the module exported to an ExecuTorch program (``.pte``, XNNPACK
delegate) and run by the ``executorch.runtime`` Python bindings. ExecuTorch is optional
(``requirements-deploy.txt``)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import ContextManager, Optional, Sequence

from torch import Tensor, nn

from deploy import export
from deploy.backends.base import BACKEND_REGISTRY, FileRun, InferenceBackend, Run
from deploy.executorch_export import export_executorch, load_program
from deploy.optional import is_installed


@BACKEND_REGISTRY.register("executorch")
class ExecuTorchBackend(InferenceBackend):
    """The module lowered to XNNPACK in an ExecuTorch program (in a temporary folder kept while the
    backend is), run by the ExecuTorch runtime; its ParC convolutions are circulant matrix products."""

    channels_last = False
    formats = ("executorch",)

    def implementation(self) -> ContextManager:
        return export.exported_implementation()

    def missing(self) -> Optional[str]:
        return None if is_installed("executorch") else "the optional executorch package (pip install executorch)"

    def prepare(self, module: nn.Module, x: Tensor, output_names: Sequence[str]) -> Run:
        self._folder = tempfile.TemporaryDirectory(prefix="parc_benchmark_")
        path = Path(self._folder.name) / "model.pte"
        export_executorch(module, x, path)
        run, array = load_program(path), x.numpy()
        return lambda: run(array)

    def load_file(self, path: Path, fmt: str, output_names: Sequence[str]) -> FileRun:
        return load_program(path)
