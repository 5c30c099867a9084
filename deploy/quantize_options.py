"""The INT8 options that ``main_export.py`` and ``main_benchmark.py`` share (``export.quantize``,
``export.calibration_images``)."""
from __future__ import annotations

import argparse

from utils.opts import add_options

QUANTIZE_CHOICES = ("none", "int8")


def arguments_quantize(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("INT8 quantization", "Post-training INT8 quantization of an export (onnx: "
                                      "onnxruntime static QDQ; executorch: PT2E with the XNNPACK quantizer).")
    add_options(group, "--export", [
        ("quantize", "none", "int8: quantize the export after training", dict(choices=QUANTIZE_CHOICES)),
        ("calibration-images", 100, "images of the training set (validation transform) that INT8 quantization is "
                                    "calibrated and checked on"),
    ])
    return parser
