"""Export a model for deployment and check the export against the PyTorch model.

    python main_export.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml \\
        --model.classification.pretrained checkpoint_ema_avg.pt --export.format onnx --export.output parcnet_s.onnx

Formats (``--export.format``): ``onnx`` (``--export.onnx-exporter dynamo``, torch.export based, or
``legacy``, the TorchScript based exporter), ``torchscript`` (traced) and ``exported_program``
(``torch.export``, a ``.pt2`` file). The model is folded for inference first (``--inference.fuse
false`` keeps it as it is). The export runs in its own runtime (onnxruntime, ``torch.jit.load``,
``torch.export.load``) on a random image; the command fails when an output differs from the
unfolded PyTorch model's by more than 1e-4 (max relative error). The input size, the config and the
outputs are recorded in ``<output>.json`` (and in the ONNX file's metadata); both files are listed
at the end. The work is done by deploy/export_command.py.

An existing ``--export.output`` (or its ``.json``) stops the command before any work;
``--export.overwrite`` replaces them. Both files are written under temporary names beside the output
and moved into place only once the check passed: a failed export leaves no file behind, and an
earlier export as it was.

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

import sys
from typing import Optional, Sequence

from utils.entry import run_entry


def main(args: Optional[Sequence[str]] = None) -> None:
    from deploy.options import arguments_export, arguments_quantize
    from options import build_parser, parse_options

    opts = parse_options(build_parser("Export a model.", extra=[arguments_export, arguments_quantize]), args)
    from deploy.export_command import export_model  # torch and the models, once the options are parsed
    from utils.io import print_written

    print_written(export_model(opts))


def cli() -> int:
    """The ``parcnet-export`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
