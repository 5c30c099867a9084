"""Running an ONNX export with MNN (optional): the file is converted by MNN's converter into a
temporary folder, kept while the runner is, and run by MNN's CPU runtime (high precision)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import List, Sequence

import numpy as np
import torch

from deploy.agreement import Run
from deploy.optional import require
from engine.export import INPUT_NAME
from engine.inference_backends import convert_to_mnn


def load_mnn(path: Path, output_names: Sequence[str]) -> Run:
    """A function running the ONNX file at ``path``, converted to MNN, on a float32 NCHW array."""
    require("MNN", "inference.backend mnn")
    import MNN.expr as expr
    import MNN.nn as mnn_nn

    folder = tempfile.TemporaryDirectory(prefix="parc_mnn_")
    mnn_path = Path(folder.name) / "model.mnn"
    convert_to_mnn(path, mnn_path)
    config = {"backend": "CPU", "numThread": max(1, torch.get_num_threads()), "precision": "high"}
    module = mnn_nn.load_module_from_file(str(mnn_path), [INPUT_NAME], list(output_names),
                                          runtime_manager=mnn_nn.create_runtime_manager((config,)))

    def run(x: np.ndarray, folder: tempfile.TemporaryDirectory = folder) -> List[np.ndarray]:
        image = expr.const(x, list(x.shape), expr.NCHW)  # (``folder`` keeps the converted file while the runner lives)
        return [np.array(out.read()) for out in module.forward([image])]

    return run
