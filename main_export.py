"""Export a model for deployment and check the export against the PyTorch model.

    python main_export.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml \\
        --model.classification.pretrained checkpoint_ema_avg.pt --export.format onnx --export.output parcnet_s.onnx

Formats (``--export.format``): ``onnx`` (``--export.onnx-exporter dynamo``, torch.export based, or
``legacy``, the TorchScript based exporter), ``torchscript`` (traced) and ``exported_program``
(``torch.export``, a ``.pt2`` file). The model is folded for inference first (``--inference.fuse
false`` keeps it as it is). The export runs in its own runtime (onnxruntime, ``torch.jit.load``,
``torch.export.load``) on a random image; the command fails when an output differs from the
unfolded PyTorch model's by more than 1e-4 (max relative error). The input size, the config and the
outputs are recorded in ``<output>.json`` (and in the ONNX file's metadata).

For edge devices (deploy/device_export.py): ``--export.format executorch`` writes an ExecuTorch
program (``.pte``, XNNPACK delegate) checked in the ExecuTorch runtime, ``--export.format coreml`` a
Core ML package (``.mlpackage``) checked by reading its specification back (Core ML runs only on
Apple's systems). ``--export.quantize int8`` (onnx, executorch) quantizes after training on
``--export.calibration-images`` images of the config's training set (validation transform): the
command prints how the INT8 model agrees with the float32 one on them (top-1 agreement for a
classifier, relative error) and records it in the sidecar with the settings and the layer groups
kept float32 (chosen by measurement). executorch and coremltools are optional packages
(requirements-deploy.txt).
"""
from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import torch

from deploy.device_export import DEVICE_FORMATS
from deploy.quantize_options import arguments_quantize
from engine.export import FORMATS, ONNX_EXPORTERS
from utils.entry import run_entry
from utils.errors import ConfigError
from utils.opts import add_options


def arguments_export(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Export")
    add_options(group, "--export", [
        ("format", "onnx", "what to write (executorch, coreml: optional packages)",
         dict(choices=FORMATS + DEVICE_FORMATS)),
        ("output", None, "file to write (its metadata goes to <output>.json)", dict(type=str)),
        ("input-size", None, "input height and width, or one side (default: the config's evaluation crop size)",
         dict(type=int, nargs="+", metavar="SIDE")),
        ("dynamic-batch", False, "let the batch size vary (a fixed batch of 1 otherwise)"),
        ("onnx-exporter", "dynamo", "dynamo: torch.onnx.export(dynamo=True); legacy: the TorchScript based exporter",
         dict(choices=ONNX_EXPORTERS)),
    ])
    return parser


def input_convention(opts: Any) -> Dict[str, Any]:
    """How a decoded image becomes the input: channel order, scaling, normalisation (RGB order)."""
    from data.transforms.tensor import InputConvention

    convention = InputConvention.from_opts(opts)
    return {"channel_order": convention.channel_order, "scale": "pixel values / 255",
            "mean_rgb": convention.mean_rgb(), "std_rgb": convention.std_rgb()}


def main(args: Optional[Sequence[str]] = None) -> None:
    from cvnets import get_model
    from deploy.device_export import check_device_options, export_device, write_sidecar
    from engine import export
    from engine.eval_setup import evaluation_size
    from options import build_parser, parse_options

    opts = parse_options(build_parser("Export a model.", extra=[arguments_export, arguments_quantize]), args)
    fmt, output = getattr(opts, "export.format"), getattr(opts, "export.output")
    if not output:
        raise ConfigError("export.output is not set: give the file to write (--export.output model.onnx)")
    size = getattr(opts, "export.input_size") or list(evaluation_size(opts))
    if len(size) not in (1, 2):
        raise ConfigError(f"export.input_size takes one or two values, got {size}")
    h, w = (size[0], size[0]) if len(size) == 1 else size
    task = getattr(opts, "dataset.category")
    fuse, dynamic = bool(getattr(opts, "inference.fuse")), bool(getattr(opts, "export.dynamic_batch"))
    exporter = getattr(opts, "export.onnx_exporter")

    quantize = getattr(opts, "export.quantize")
    device = fmt in DEVICE_FORMATS or quantize == "int8"
    if device:
        check_device_options(fmt, quantize, exporter, dynamic)

    model = get_model(opts).eval()
    reference = export.deployable(model, task, (h, w))
    example = torch.rand(2 if dynamic else 1, 3, h, w, generator=torch.Generator().manual_seed(0))
    path = Path(output)
    if device:
        checked = export_device(opts, model, example, path, fuse)
    else:
        checked = {"parity_max_relative_error": float32_export(model, reference, example, path, fmt, task, fuse,
                                                               exporter, dynamic)}
    metadata: dict[str, Any] = {
        "config_file": getattr(opts, "common.config_file"),
        "pretrained": getattr(opts, f"model.{task}.pretrained"),
        "task": task,
        "input_size": [h, w],
        "input": {"name": export.INPUT_NAME, "shape": ["batch" if dynamic else 1, 3, h, w], "dtype": "float32",
                  "layout": "NCHW", "values": "the tensor the config's evaluation transforms give the model",
                  **input_convention(opts)},
        "outputs": export.OUTPUT_NAMES[task],
        "format": fmt,
        "onnx_exporter": exporter if fmt == "onnx" else None,
        "fused": fuse and fmt != "executorch",
        **checked,
        "torch_version": torch.__version__,
    }
    sidecar = export.write_metadata(path, fmt, metadata) if fmt in FORMATS else write_sidecar(path, metadata)
    print(f"exported {task} model to {path} ({fmt}{', ' + exporter + ' exporter' if fmt == 'onnx' else ''}, "
          f"input {'N' if dynamic else 1} x 3 x {h} x {w}); metadata: {sidecar}")


def float32_export(model: Any, reference: Any, example: Any, path: Path, fmt: str, task: str, fuse: bool,
                   exporter: str, dynamic: bool) -> float:
    """Write the float32 ``fmt`` export of ``model`` and check it against ``reference`` (batch 1, and
    batch 3 with a dynamic batch): the largest max relative error."""
    from cvnets.misc.fuse import fuse_for_inference
    from engine import export

    h, w = example.shape[-2:]
    with export.onnx_implementation() if fmt == "onnx" else nullcontext():
        module = export.deployable(fuse_for_inference(model, (h, w)), task, (h, w)) if fuse else reference
        export.export_module(module, example, fmt, path, task, exporter, dynamic)
    runner = export.load_runner(path, fmt)
    error = export.check_parity(runner, reference, example)
    runtime = {"onnx": "onnxruntime", "torchscript": "torch.jit.load", "exported_program": "torch.export.load"}[fmt]
    print(f"parity ({runtime} vs PyTorch, batch {example.shape[0]}): max relative error {error:.2e} "
          f"(limit {export.PARITY_TOLERANCE:g})")
    if dynamic:
        other = torch.rand(3, 3, h, w, generator=torch.Generator().manual_seed(1))
        error = max(error, export.check_parity(runner, reference, other))
        print(f"parity at batch 3: max relative error {error:.2e}")
    return error


def cli() -> int:
    """The ``parcnet-export`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
