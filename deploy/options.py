"""The options of ``main_benchmark.py`` (``benchmark.*``) and ``main_export.py`` (``export.*``).

This module imports no torch, so that the commands answer ``--help`` and option errors at once.
"""
from __future__ import annotations

import argparse

from utils.opts import add_options

FORMATS = ("onnx", "torchscript", "exported_program")
DEVICE_FORMATS = ("executorch", "coreml")  # for edge devices (deploy/device_export.py; optional packages)
QUANTIZABLE_FORMATS = ("onnx", "executorch")
QUANTIZE_CHOICES = ("none", "int8")
ONNX_EXPORTERS = ("dynamo", "legacy")


def arguments_benchmark(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``benchmark.*``: what ``main_benchmark.py`` counts, times and draws."""
    group = parser.add_argument_group("Benchmark")
    add_options(group, "--benchmark", [
        ("input-size", None, "input side (one value) or height and width (default: the config's crop size)",
         dict(type=int, nargs="+", metavar="SIDE")),
        ("batch-size", 1, "batch size of the timed runs"),
        ("latency", False, "also time the forward pass"),
        ("compare-parc", False, "time the ParC convolutions' implementations side by side"),
        ("backend", "eager", "how timed inference runs: a registered inference backend (deploy/backends/: eager, "
         "compile, onnxruntime, mnn, executorch (optional packages), ...)"),
        ("compare", None, "another config to time alongside this one, paired and interleaved (prints the ratio)",
         dict(type=str)),
        ("compare-fuse", False, "time the model folded for inference and unfolded, paired and interleaved"),
        ("train", False, "time training steps (forward and backward) instead of inference: images per second; with "
                         "--benchmark.backend compile the engine's training step compiled against eager, paired"),
        ("variants", None, "with --benchmark.train: the engine's training step in these variants, paired, each "
                           "against the first: fp32, bf16 (bfloat16 autocast), channels_last, bf16+channels_last "
                           "(compiled with --benchmark.backend compile); prints what bf16 changes in the loss and "
                           "gradients", dict(type=str, nargs="+", metavar="VARIANT")),
        ("loader", None, "time this config's training data loading against timm's, paired, on FOLDER (an image folder "
                         "with a folder per class) or 'generated' (generated JPEGs): the sample path by stage and "
                         "the training DataLoader (--dataset.workers loading processes)",
         dict(type=str, metavar="FOLDER")),
        ("loader-images", 256, "images per round of --benchmark.loader"),
        ("parc-crossover", False, "time one ParC convolution per implementation on square maps of growing size"),
        ("warmup", 5, "untimed rounds first"),
        ("repeats", 30, "timed rounds (the median is reported, with the spread of the ratios)"),
        ("threads", None, "torch CPU threads (default: torch's)", dict(type=int)),
        ("plot", None, "draw the result charts of the named models into this folder (see deploy/charts.py)",
         dict(type=str)),
        ("plot-models", None, "models of the charts (default: every named model with a published result)",
         dict(type=str, nargs="+")),
        ("overwrite", False, "replace the files of --benchmark.plot DIR that exist (without it, the command stops "
                             "before measuring anything when one does)"),
    ])
    return parser


def arguments_export(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``export.*``: what ``main_export.py`` writes."""
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
        ("overwrite", False, "replace an existing export.output and its <output>.json, once the new export passed "
                             "its check (without it, the command stops before any work when one exists)"),
    ])
    return parser


def arguments_quantize(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``export.quantize`` and ``export.calibration_images``: INT8 quantization, shared by
    ``main_export.py`` (the export) and ``main_benchmark.py`` (float32 and INT8 exports timed side by side)."""
    group = parser.add_argument_group("INT8 quantization", "Post-training INT8 quantization of an export (onnx: "
                                      "onnxruntime static QDQ; executorch: PT2E with the XNNPACK quantizer).")
    add_options(group, "--export", [
        ("quantize", "none", "int8: quantize the export after training", dict(choices=QUANTIZE_CHOICES)),
        ("calibration-images", 100, "images of the training set (validation transform) that INT8 quantization is "
                                    "calibrated and checked on"),
    ])
    return parser
