"""Backends that run an ONNX export of the model (made on the spot, or a file of ``main_export.py``):
``onnxruntime`` and, when its optional package is installed, ``mnn`` (the export converted by MNN's
converter)."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, ContextManager, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from deploy import export
from deploy.backends.base import BACKEND_REGISTRY, FileRun, InferenceBackend, Run
from utils.errors import ExportError


class ExportedBackend(InferenceBackend):
    """Exports the module to ONNX in a temporary folder (kept while the backend is) and runs the file."""

    channels_last = False
    formats = ("onnx",)

    def implementation(self) -> ContextManager:
        return export.exported_implementation()

    def export_onnx(self, module: nn.Module, x: Tensor, output_names: Sequence[str]) -> Path:
        self._folder = tempfile.TemporaryDirectory(prefix="parc_benchmark_")
        path = Path(self._folder.name) / "model.onnx"
        export.export_module(module, x, "onnx", path, output_names)
        return path


@BACKEND_REGISTRY.register("onnxruntime")
class OnnxRuntimeBackend(ExportedBackend):
    """The ONNX export run by onnxruntime's CPU provider on torch's thread count."""

    def prepare(self, module: nn.Module, x: Tensor, output_names: Sequence[str]) -> Run:
        session = export.load_runner(self.export_onnx(module, x, output_names), "onnx", torch.get_num_threads())
        array = x.numpy()
        return lambda: session(array)

    def load_file(self, path: Path, fmt: str, output_names: Sequence[str]) -> FileRun:
        return export.load_runner(path, "onnx", torch.get_num_threads())


@BACKEND_REGISTRY.register("mnn")
class MNNBackend(ExportedBackend):
    """The ONNX export converted to MNN and run by MNN's CPU runtime (high precision), within 1e-3."""

    tolerance = 1e-3

    def missing(self) -> Optional[str]:
        try:
            import MNN  # noqa: F401
        except ImportError:
            return "the optional MNN package (pip install MNN)"
        return None

    def prepare(self, module: nn.Module, x: Tensor, output_names: Sequence[str]) -> Run:
        run, array = self.load_file(self.export_onnx(module, x, output_names), "onnx", output_names), x.numpy()
        return lambda: run(array)

    def load_file(self, path: Path, fmt: str, output_names: Sequence[str]) -> FileRun:
        """The ONNX file at ``path`` converted to MNN (in a temporary folder kept while the backend
        is) and run by MNN's CPU runtime."""
        import MNN.expr as expr
        import MNN.nn as mnn_nn

        self._converted = tempfile.TemporaryDirectory(prefix="parc_mnn_")
        mnn_path = Path(self._converted.name) / "model.mnn"
        convert_to_mnn(path, mnn_path)
        config = {"backend": "CPU", "numThread": max(1, torch.get_num_threads()), "precision": "high"}
        runtime = mnn_nn.create_runtime_manager((config,))
        loaded = mnn_nn.load_module_from_file(str(mnn_path), [export.INPUT_NAME], list(output_names),
                                              runtime_manager=runtime)

        def run(array: np.ndarray, converted: Any = self._converted) -> List[Any]:  # keeps the converted file
            image = expr.const(array, list(array.shape), expr.NCHW)
            return [np.array(out.read()) for out in loaded.forward([image])]

        return run


def convert_to_mnn(onnx_path: Path, mnn_path: Path) -> None:
    """Convert an ONNX file with MNN's converter (its C++ tool, run in a child process, without the
    Python wrapper's usage reporting)."""
    code = ("import sys, _tools; _tools.mnnconvert(['mnnconvert', '-f', 'ONNX', '--modelFile', sys.argv[1], "
            "'--MNNModel', sys.argv[2], '--bizCode', 'parcnet'])")
    done = subprocess.run([sys.executable, "-c", code, str(onnx_path), str(mnn_path)], capture_output=True, text=True)
    if done.returncode != 0 or "Converted Success" not in done.stdout or not mnn_path.is_file():
        raise ExportError(f"MNN could not convert {onnx_path}: {(done.stdout + done.stderr).strip()[-300:]}")
