"""The exports for edge devices that ``main_export.py`` adds to its float32 formats: INT8 ONNX
(onnxruntime static quantization), ExecuTorch programs (float32 or INT8, XNNPACK) and Core ML
packages. Each is checked: parity with the PyTorch model for float32, agreement with the float32
model on the calibration images for INT8, the specification read back for Core ML."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Dict, Sequence

from torch import Tensor, nn

from cvnets.misc.fuse import fuse_for_inference
from deploy import export
from deploy.agreement import describe
from deploy.calibration import calibration_images
from deploy.coreml_export import NOT_RUN, RUNS_HERE, export_coreml
from deploy.options import DEVICE_FORMATS, QUANTIZABLE_FORMATS
from deploy.parity import PARITY_TOLERANCE, check_export
from utils.errors import ConfigError
from utils.io import write_text


def check_device_options(fmt: str, quantize: str, exporter: str, dynamic: bool) -> None:
    """Refuse the combinations of ``export.*`` values that cannot be exported."""
    if quantize == "int8" and fmt not in QUANTIZABLE_FORMATS:
        raise ConfigError(f"export.quantize int8 is for the formats {', '.join(QUANTIZABLE_FORMATS)}, not {fmt}")
    if quantize == "int8" and fmt == "onnx" and exporter != "dynamo":
        raise ConfigError("export.quantize int8 needs export.onnx_exporter dynamo (its graph names the layers that "
                          "may stay float32)")
    if dynamic and fmt in DEVICE_FORMATS:
        raise ConfigError(f"export.dynamic_batch: {fmt} exports take a fixed batch of 1")


def _images(opts: Any, size: Sequence[int]) -> Tensor:
    count = int(getattr(opts, "export.calibration_images"))
    images = calibration_images(opts, count, size)
    if len(images) < count:
        print(f"calibration: {len(images)} images (dataset.root_train has no more)")
    return images


def export_device(opts: Any, model: nn.Module, example: Tensor, path: Path, fuse: bool) -> Dict[str, Any]:
    """Write the ``export.format`` / ``export.quantize`` export of ``model`` for inputs like
    ``example`` (batch 1) to ``path`` and check it.

    Args:
        opts: the options of ``main_export.py``.
        model: the model, in eval mode.
        example: a random input of the exported size.
        path: the file (or Core ML package folder) to write.
        fuse: fold the model for inference first.

    Returns:
        What the sidecar records beyond the common entries: ``parity_max_relative_error`` (float32),
        ``quantization`` (INT8: settings, layer groups kept float32 and agreement) or ``coreml``.
    """
    fmt, quantize = getattr(opts, "export.format"), getattr(opts, "export.quantize")
    task = getattr(opts, "dataset.category")
    size = tuple(example.shape[-2:])
    reference = export.deployed(model, size)
    with export.exported_implementation(int8=fmt == "onnx" and quantize == "int8"):
        module = export.deployed(fuse_for_inference(model, size), size) if fuse else reference
        if fmt == "coreml":
            spec = export_coreml(module, example, path, model.output_names)
            print(NOT_RUN if not RUNS_HERE else "Core ML package written and its specification checked")
            return {"coreml": {"specification": spec, "ran": False, "note": NOT_RUN}}
        if fmt == "executorch":
            return _executorch(opts, module, reference, example, path, task, quantize == "int8")
        return _onnx_int8(opts, module, reference, example, path, task, model.output_names)


def _executorch(opts: Any, module: nn.Module, reference: nn.Module, example: Tensor, path: Path, task: str,
                int8: bool) -> Dict[str, Any]:
    from deploy.executorch_export import load_program
    from deploy.executorch_export import export_executorch

    if not int8:
        export_executorch(module, example, path, task)
        error = check_export(load_program(path), reference, example)
        print(f"parity (executorch runtime vs PyTorch, batch 1): max relative error {error:.2e} "
              f"(limit {PARITY_TOLERANCE:g})")
        return {"parity_max_relative_error": error, "delegate": "XNNPACK"}
    images = _images(opts, example.shape[-2:])
    record, measured = export_executorch(module, example, path, task, images)
    _report(task, record, measured, len(images))
    return {"quantization": record, "delegate": "XNNPACK"}


def _onnx_int8(opts: Any, module: nn.Module, reference: nn.Module, example: Tensor, path: Path,
               task: str, output_names: Sequence[str]) -> Dict[str, Any]:
    from deploy.quantize_onnx import quantize_onnx

    with tempfile.TemporaryDirectory(prefix="parc_export_") as folder:
        source = Path(folder) / "float32.onnx"
        export.export_module(module, example, "onnx", source, output_names)
        error = check_export(export.load_runner(source, "onnx"), reference, example)
        print(f"parity of the float32 export (onnxruntime vs PyTorch, batch 1): max relative error {error:.2e}")
        images = _images(opts, example.shape[-2:])
        path.parent.mkdir(parents=True, exist_ok=True)
        record, measured = quantize_onnx(source, path, images, task, 1, export.INPUT_NAME,
                                         lambda file: export.load_runner(file, "onnx"))
    _report(task, record, measured, len(images))
    return {"parity_max_relative_error": error, "parity_of": "the float32 export before quantization",
            "quantization": record}



def write_sidecar(path: Path, metadata: Dict[str, Any]) -> Path:
    """Write ``metadata`` to ``<path>.json`` (beside a file or a Core ML package folder)."""
    return write_text(json.dumps(metadata, indent=2) + "\n", export.sidecar_path(path))


def _report(task: str, record: Dict[str, Any], measured: Dict[str, float], count: int) -> None:
    kept = record["kept_float32"]
    print(f"int8 ({record['method']}): kept float32: {', '.join(kept) if kept else 'none'} "
          f"(mean relative error per choice: " + ", ".join(f"{k} {v:.3g}" if v is not None else f"{k} cannot run"
                                                           for k, v in record["group_errors"].items()) + ")")
    print(describe(task, measured, count))
