"""``main_export.py``: export the configured model, check the export in its own runtime against the
unfolded PyTorch model (or, for INT8, its agreement with the float32 model; see
:mod:`deploy.device_export` for the edge-device formats), and record what it takes and gives.

An existing ``export.output`` (or its sidecar) stops the command before any work unless
``export.overwrite`` is given. The export and its sidecar are written under temporary names beside
the output and moved into place only once the check passed: a failed export leaves no file, and
an earlier export as it was."""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, List, Tuple

import torch

from cvnets import get_model
from cvnets.misc.fuse import fuse_for_inference
from data.transforms.tensor import InputConvention
from deploy import export
from deploy.device_export import check_device_options, export_device, write_sidecar
from deploy.input_size import input_size
from deploy.options import DEVICE_FORMATS, FORMATS
from deploy.parity import PARITY_TOLERANCE, check_export
from utils.errors import ConfigError
from utils.outputs import refuse_to_replace, staged

RUNTIMES = {"onnx": "onnxruntime", "torchscript": "torch.jit.load", "exported_program": "torch.export.load"}


def input_convention(opts: Any) -> Dict[str, Any]:
    """How a decoded image becomes the input: channel order, scaling, normalisation (RGB order)."""
    convention = InputConvention.from_opts(opts)
    return {"channel_order": convention.channel_order, "scale": "pixel values / 255",
            "mean_rgb": convention.mean_rgb(), "std_rgb": convention.std_rgb()}


def check_output(path: Path, fmt: str, overwrite: bool) -> None:
    """Refuse, before any work, an ``export.output`` that exists or whose sidecar does (unless
    ``overwrite``), a folder in place of a file, and a Core ML package not named ``*.mlpackage``."""
    if fmt == "coreml" and path.suffix != ".mlpackage":
        raise ConfigError(f"export.output {path}: a Core ML package's name ends with .mlpackage")
    targets = [path, export.sidecar_path(path)]
    folder = next((t for t in targets if t.is_dir() and not (fmt == "coreml" and t == path)), None)
    if folder is not None:
        raise ConfigError(f"export.output: {folder} is a folder, which an export does not replace; give another name")
    if not overwrite:
        refuse_to_replace(targets, "export.overwrite")


def export_model(opts: Any) -> List[Path]:
    """Export the model of ``opts`` as the ``export.*`` options say, folded for inference unless
    ``inference.fuse`` is false, and check it on random images (batch 1, and 3 with a dynamic batch);
    the edge-device formats and INT8 are exported by :func:`deploy.device_export.export_device`.

    Args:
        opts: the parsed options of ``main_export.py``.

    Returns:
        The files written: the export and its metadata (``<output>.json``). A parity failure is an
        :class:`~utils.errors.ExportError` (and writes nothing); an existing output without
        ``export.overwrite`` an :class:`~utils.errors.OutputExistsError`.
    """
    fmt, output = getattr(opts, "export.format"), getattr(opts, "export.output")
    if not output:
        raise ConfigError("export.output is not set: give the file to write (--export.output model.onnx)")
    path = Path(output)
    check_output(path, fmt, bool(getattr(opts, "export.overwrite")))
    h, w = input_size(opts, "export.input_size")
    task = getattr(opts, "dataset.category")
    fuse, dynamic = bool(getattr(opts, "inference.fuse")), bool(getattr(opts, "export.dynamic_batch"))
    exporter = getattr(opts, "export.onnx_exporter")

    quantize = getattr(opts, "export.quantize")
    device = fmt in DEVICE_FORMATS or quantize == "int8"
    if device:
        check_device_options(fmt, quantize, exporter, dynamic)

    model = get_model(opts).eval()
    example = torch.rand(2 if dynamic else 1, 3, h, w, generator=torch.Generator().manual_seed(0))
    sidecar = export.sidecar_path(path)
    with staged([path, sidecar]) as (file, _):
        if device:
            checked = export_device(opts, model, example, file, fuse)
        else:
            checked = {"parity_max_relative_error": float32_export(model, example, file, fmt, fuse, exporter,
                                                                   dynamic)}
        metadata = _metadata(opts, model, checked, (h, w))
        if fmt in FORMATS:
            export.write_metadata(file, fmt, metadata)  # and into the ONNX file
        else:
            write_sidecar(file, metadata)
    print(f"exported {task} model to {path} ({fmt}{', ' + exporter + ' exporter' if fmt == 'onnx' else ''}, "
          f"input {'N' if dynamic else 1} x 3 x {h} x {w})")
    return [path, sidecar]


def _metadata(opts: Any, model: torch.nn.Module, checked: Dict[str, Any], size: Tuple[int, int]) -> Dict[str, Any]:
    """What the sidecar records: the config, the input, the outputs and ``checked`` (what the check measured)."""
    (h, w), task = size, getattr(opts, "dataset.category")
    fmt, exporter = getattr(opts, "export.format"), getattr(opts, "export.onnx_exporter")
    fuse, dynamic = bool(getattr(opts, "inference.fuse")), bool(getattr(opts, "export.dynamic_batch"))
    return {
        "config_file": getattr(opts, "common.config_file"),
        "pretrained": getattr(opts, f"model.{task}.pretrained"),
        "task": task,
        "input_size": [h, w],
        "input": {"name": export.INPUT_NAME, "shape": ["batch" if dynamic else 1, 3, h, w], "dtype": "float32",
                  "layout": "NCHW", "values": "the tensor the config's evaluation transforms give the model",
                  **input_convention(opts)},
        "outputs": list(model.output_names),
        "format": fmt,
        "onnx_exporter": exporter if fmt == "onnx" else None,
        "fused": fuse,
        **checked,
        "torch_version": torch.__version__,
    }


def float32_export(model: torch.nn.Module, example: torch.Tensor, path: Path, fmt: str, fuse: bool, exporter: str,
                   dynamic: bool) -> float:
    """Write the float32 ``fmt`` export of ``model`` (folded when ``fuse``) and check it against the
    unfolded model on ``example`` (and, with a dynamic batch, on a batch of 3): the largest max
    relative error."""
    h, w = example.shape[-2:]
    reference = export.deployed(model, (h, w))
    with export.exported_implementation() if fmt == "onnx" else nullcontext():
        module = export.deployed(fuse_for_inference(model, (h, w)), (h, w)) if fuse else reference
        export.export_module(module, example, fmt, path, model.output_names, exporter, dynamic)
    runner = export.load_runner(path, fmt)
    error = check_export(runner, reference, example)
    print(f"parity ({RUNTIMES[fmt]} vs PyTorch, batch {example.shape[0]}): max relative error {error:.2e} "
          f"(limit {PARITY_TOLERANCE:g})")
    if dynamic:
        other = torch.rand(3, 3, h, w, generator=torch.Generator().manual_seed(1))
        error = max(error, check_export(runner, reference, other))
        print(f"parity at batch 3: max relative error {error:.2e}")
    return error
