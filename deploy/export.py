"""Export a model to ONNX, TorchScript or a ``torch.export`` program, and run an export.

What is exported is what a deployment runs on the data pipeline's tensor (``N x 3 x H x W``,
float32, as the config's transforms make it): the model's ``deployable(input_size)``, whose outputs
its ``output_names`` name (class logits for a classifier, class probabilities and corner-form
boxes, fractions of the image, one row per anchor, for an SSD detector, full-resolution logits for
a segmentation model). A JSON file next to the export (``<output>.json``, and the ONNX file's
metadata) records the config, the input size and the outputs.
"""
from __future__ import annotations

import json
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from cvnets.modules import parc
from deploy.options import FORMATS, ONNX_EXPORTERS
from deploy.parity import as_outputs
from utils.errors import ExportError
from utils.io import write_text

ONNX_OPSET = 18
INPUT_NAME = "image"

Runner = Callable[[np.ndarray], List[np.ndarray]]


def deployed(model: nn.Module, input_size: Sequence[int]) -> nn.Module:
    """What a deployment of ``model`` runs at ``input_size`` ``(H, W)``: its ``deployable``, in eval mode."""
    return model.eval().deployable(input_size).eval()


def exported_implementation(int8: bool = False) -> Any:
    """A context in which ParC convolutions take a form every ONNX runtime and ExecuTorch's XNNPACK
    delegate run: matrix products with circulant matrices in float32 (and in ExecuTorch, whose INT8
    keeps them float32 or quantizes them itself); for INT8 ONNX, depth-wise convolutions over the input
    concatenated with itself, which quantized runtimes run in their channels-last layout (the
    matrix products need the transposes of the channels-first layout around them, which cost
    INT8 onnxruntime more than the products themselves)."""
    if int8:
        return parc.using_implementation("concat_conv")
    if parc.current_implementation() in ("auto", "fft"):
        return parc.using_implementation("circulant")
    return nullcontext()


def export_module(module: nn.Module, example: Tensor, fmt: str, path: Path, output_names: Sequence[str],
                  exporter: str = "dynamo", dynamic_batch: bool = False) -> None:
    """Write ``module`` traced on ``example`` to ``path`` in format ``fmt`` (see :data:`FORMATS`), its
    outputs named ``output_names`` (ONNX)."""
    if fmt not in FORMATS:
        raise ExportError(f"export.format {fmt!r}: choose one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "onnx":
            if exporter not in ONNX_EXPORTERS:
                raise ExportError(f"export.onnx_exporter {exporter!r}: choose one of {', '.join(ONNX_EXPORTERS)}")
            names = list(output_names)
            kwargs: Dict[str, Any] = dict(input_names=[INPUT_NAME], output_names=names, opset_version=ONNX_OPSET)
            if exporter == "dynamo":
                kwargs.update(dynamo=True, external_data=False, verbose=False,
                              dynamic_shapes=({0: batch},) if dynamic_batch else None)
            else:
                kwargs.update(dynamo=False, do_constant_folding=True,
                              dynamic_axes={n: {0: "batch"} for n in [INPUT_NAME] + names} if dynamic_batch else None)
            torch.onnx.export(module, (example,), str(path), **kwargs)
        elif fmt == "torchscript":
            torch.jit.trace(module, (example,), check_trace=False).save(str(path))
        else:
            program = torch.export.export(module, (example,), dynamic_shapes=({0: batch},) if dynamic_batch else None)
            torch.export.save(program, str(path))


def load_runner(path: Path, fmt: str, threads: int = 0) -> Runner:
    """A function running the exported model at ``path`` on a float32 NCHW array."""
    if fmt == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        # the worker threads spin during a run (fast) but not after it, when they would take the
        # cores from whatever runs next (another model timed beside this one, the data pipeline)
        options.add_session_config_entry("session.force_spinning_stop", "1")
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})
    if fmt == "torchscript":
        module = torch.jit.load(str(path)).eval()
    else:
        module = torch.export.load(str(path)).module()

    def run(x: np.ndarray) -> List[np.ndarray]:
        with torch.no_grad():
            return [t.numpy() for t in as_outputs(module(torch.from_numpy(x)))]

    return run


def sidecar_path(path: Path) -> Path:
    """The metadata file of the export at ``path``: ``<path>.json``."""
    return path.with_name(path.name + ".json")


def write_metadata(path: Path, fmt: str, metadata: Dict[str, Any]) -> Path:
    """Write ``metadata`` to ``<path>.json`` and, for ONNX, into the model's metadata properties."""
    if fmt == "onnx":
        import onnx

        proto = onnx.load(str(path))
        del proto.metadata_props[:]
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, json.dumps(value)
        onnx.save(proto, str(path))
    return write_text(json.dumps(metadata, indent=2) + "\n", sidecar_path(path))
