"""Ways to run a model for timing: eager PyTorch, ``torch.compile``, onnxruntime and MNN.

Each backend is prepared once (folding, compilation, export and conversion are not timed) and
checked against the eager model before it is timed: onnxruntime within 1e-4 and MNN within 1e-3
(max relative error), ``torch.compile`` within 1e-4. MNN is optional: when the ``MNN`` package is
absent the backend stops with a message saying so.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, List, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from cvnets.misc.fuse import fuse_for_inference
from engine import export
from utils.errors import ConfigError, ExportError

BACKENDS = ("eager", "compile", "onnxruntime", "mnn")
MNN_TOLERANCE = 1e-3

Run = Callable[[], Any]


def _mnn_missing() -> bool:
    try:
        import MNN  # noqa: F401
    except ImportError:
        return True
    return False


def require_backend(backend: str) -> None:
    """Stop with a clear message when ``backend`` is unknown or its package is not installed."""
    if backend not in BACKENDS:
        raise ConfigError(f"benchmark.backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "mnn" and _mnn_missing():
        raise ConfigError("benchmark.backend mnn needs the optional MNN package (pip install MNN); "
                          "it is not installed")


def _check(name: str, outputs: Sequence[Any], expected: Sequence[Tensor], tolerance: float) -> float:
    error = export.max_relative_error([np.asarray(o) for o in outputs], expected)
    if not error <= tolerance:
        raise ExportError(f"{name} gives outputs that differ from eager PyTorch by {error:.3g} "
                          f"(max relative error), more than {tolerance:g}")
    return error


def convert_to_mnn(onnx_path: Path, mnn_path: Path) -> None:
    """Convert an ONNX file with MNN's converter (its C++ tool, run in a child process, without the
    Python wrapper's usage reporting)."""
    code = ("import sys, _tools; _tools.mnnconvert(['mnnconvert', '-f', 'ONNX', '--modelFile', sys.argv[1], "
            "'--MNNModel', sys.argv[2], '--bizCode', 'parcnet'])")
    done = subprocess.run([sys.executable, "-c", code, str(onnx_path), str(mnn_path)], capture_output=True, text=True)
    if done.returncode != 0 or "Converted Success" not in done.stdout or not mnn_path.is_file():
        raise ExportError(f"MNN could not convert {onnx_path}: {(done.stdout + done.stderr).strip()[-300:]}")


def _mnn_runner(mnn_path: Path, output_names: List[str], threads: int, x: np.ndarray) -> Callable[[], List[Any]]:
    import MNN.expr as expr
    import MNN.nn as mnn_nn

    runtime = mnn_nn.create_runtime_manager(({"backend": "CPU", "numThread": max(1, threads), "precision": "high"},))
    module = mnn_nn.load_module_from_file(str(mnn_path), [export.INPUT_NAME], output_names, runtime_manager=runtime)

    def run() -> List[Any]:
        image = expr.const(x, list(x.shape), expr.NCHW)
        return [np.array(out.read()) for out in module.forward([image])]

    return run


class PreparedModel:
    """``model`` made ready to run ``x`` on ``backend``; :attr:`run` runs it once and
    :attr:`error` is its max relative error against the eager (unfolded) model."""

    def __init__(self, model: nn.Module, task: str, backend: str, x: Tensor, fuse: bool = True,
                 channels_last: bool = False) -> None:
        require_backend(backend)
        size = tuple(x.shape[-2:])
        reference = export.deployable(model.eval(), task, size)
        with torch.no_grad():
            expected = export.as_outputs(reference(x))
        self.backend, self.error = backend, 0.0
        if backend in ("onnxruntime", "mnn"):
            self.run = self._exported(model, task, backend, x, fuse, expected)
            return
        folded = fuse_for_inference(model, size, channels_last=channels_last) if fuse else model.eval()
        module = export.deployable(folded, task, size)
        inputs = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        if backend == "compile":
            module = torch.compile(module)

        def run() -> Any:
            with torch.no_grad():
                return module(inputs)

        self.error = _check(backend, [o.detach() for o in export.as_outputs(run())], expected, export.PARITY_TOLERANCE)
        self.run = run

    def _exported(self, model: nn.Module, task: str, backend: str, x: Tensor, fuse: bool,
                  expected: List[Tensor]) -> Run:
        self._folder = tempfile.TemporaryDirectory(prefix="parc_benchmark_")
        onnx_path = Path(self._folder.name) / "model.onnx"
        size = tuple(x.shape[-2:])
        with export.onnx_implementation():
            folded = fuse_for_inference(model, size) if fuse else model.eval()
            export.export_module(export.deployable(folded, task, size), x, "onnx", onnx_path, task)
        threads = torch.get_num_threads()
        array = x.numpy()
        if backend == "onnxruntime":
            session = export.load_runner(onnx_path, "onnx", threads)
            self.error = _check(backend, session(array), expected, export.PARITY_TOLERANCE)
            return lambda: session(array)
        mnn_path = onnx_path.with_suffix(".mnn")
        convert_to_mnn(onnx_path, mnn_path)
        run = _mnn_runner(mnn_path, list(model.output_names), threads, array)
        self.error = _check(backend, run(), expected, MNN_TOLERANCE)
        return run


def training_step(model: nn.Module, x: Tensor, backend: str = "eager") -> Run:
    """One forward and backward pass of ``model`` (train mode) on ``x``, the loss being the sum of
    the outputs' means; ``backend`` is ``eager`` or ``compile``."""
    if backend not in ("eager", "compile"):
        raise ConfigError(f"benchmark.train runs on the eager or compile backend, not {backend!r}")
    model.train()
    module = torch.compile(model) if backend == "compile" else model

    def step() -> None:
        model.zero_grad(set_to_none=True)
        outputs = export.as_outputs(module(x))
        sum(o.float().mean() for o in outputs).backward()

    return step
