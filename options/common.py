"""Option groups of the entry points themselves: common run settings, distributed set-up and
evaluation modes (the options that belong to no registry)."""
from __future__ import annotations

import argparse
from typing import List

from utils.device_defaults import (MIXED_PRECISION_DTYPES, backend_help, mixed_precision_dtype_help,
                                   mixed_precision_help)
from utils.opts import OptionRow, add_options


def arguments_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Common arguments")
    add_options(group, "--common", [
        ("config-file", None, "YAML config, or a model name (parcnet.list_models(): parcnet_s, ...); a relative "
                              "path is also looked up under config/", dict(type=str, metavar="CONFIG")),
        ("seed", 0, "random seed"),
        ("results-loc", "results", "folder holding one sub-folder per run"),
        ("run-label", "run_1", "name of this run's sub-folder under common.results-loc"),
        ("resume", None, "resume training from this checkpoint.pt", dict(type=str)),
        ("finetune", None, "initialise the model from these weights, skipping mismatching keys", dict(type=str)),
        ("finetune-ema", None, "initialise the EMA model from these weights", dict(type=str)),
        ("auto-resume", False, "continue from <results>/<run>/checkpoint.pt if it exists"),
        ("overwrite", False, "training: replace the results of an earlier run in <results>/<run> (without it, a "
                             "run that would overwrite them stops); the other commands have their own: "
                             "--evaluation.overwrite, --export.overwrite, --benchmark.overwrite"),
        ("mixed-precision", False, mixed_precision_help()),
        ("mixed-precision-dtype", None, mixed_precision_dtype_help(),
         dict(type=str, choices=list(MIXED_PRECISION_DTYPES))),
        ("channels-last", False, "train and evaluate in channels_last memory format"),
        ("accum-freq", 1, "accumulate gradients over this many iterations"),
        ("accum-after-epoch", 0, "start gradient accumulation at this epoch"),
        ("log-freq", 100, "log every this many iterations"),
        ("grad-clip", None, "clip the gradient norm to this value", dict(type=float)),
        ("k-best-checkpoints", 5, "average the weights of this many best epochs"),
        ("device", None, "cpu or cuda (default: cuda when available)", dict(type=str)),
        ("deterministic", False, "deterministic cuDNN and torch algorithms (slower on GPUs; CPU runs are "
                                 "reproducible without it)"),
    ])
    return parser


def arguments_inference(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Inference", "How the evaluation scripts, main_benchmark.py and main_export.py "
                                                   "run a model.")
    add_options(group, "--inference", [
        ("fuse", True, "fold batch norms, position embeddings and no-op layers into the convolutions first "
                       "(cvnets.misc.fuse; outputs within 1e-4 of the unfolded model)"),
        ("backend", "pytorch", "what runs the network in the evaluation scripts: pytorch (the config's model, or a "
                               "torchscript / exported_program file), or a backend of deploy/backends/ that runs the "
                               "export of inference.model: onnxruntime, mnn, executorch (optional packages)"),
        ("model", None, "an exported file (main_export.py) to evaluate instead of the config's PyTorch model; its "
                        "<file>.json sidecar gives its task, input size and outputs", dict(type=str)),
    ])
    return parser


def arguments_ddp(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group(
        "Distributed training", "main_train.py starts one process per visible GPU (or ddp.world_size processes on "
        "the CPU); under torchrun, torchrun's settings are used and ddp.rank, ddp.world_size and ddp.dist_url are "
        "ignored.")
    add_options(group, "--ddp", [
        ("enable", True, "use DistributedDataParallel over every visible GPU (or ddp.world_size CPU processes); "
                         "false: one process"),
        ("rank", 0, "this node's rank in a multi-node run"),
        ("world-size", -1, "processes over all nodes (-1: one per visible GPU of this node)"),
        ("dist-url", None, "tcp://HOST:PORT of node 0 in a multi-node run", dict(type=str)),
        ("dist-port", 30786, "port of node 0 when ddp.dist_url names none"),
        ("timeout", 300.0, "seconds a process waits for the others at a collective before the run fails "
                           "(a stalled or dead process)"),
        ("backend", None, backend_help(), dict(type=str, choices=["nccl", "gloo"])),
        ("find-unused-parameters", False, "let DDP tolerate parameters without gradients"),
    ])
    return parser


def _evaluation_rows(resize_rounding: str = "") -> List[OptionRow]:
    """The options every task's evaluation has; ``resize_rounding`` adds ``resize-input-images``."""
    rows: List[OptionRow] = [
        ("mode", "validation_set", "what to evaluate", dict(choices=["validation_set", "single_image", "image_folder"])),
        ("path", None, "image or folder for the single_image and image_folder modes", dict(type=str)),
    ]
    if resize_rounding:
        rows.append(("resize-input-images", False,
                     "validation_set: resize images to the configured crop size before the forward pass "
                     f"(without it, only down to multiples of {resize_rounding}); the image modes always resize"))
    return rows


def arguments_evaluation(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    add_options(parser.add_argument_group("Evaluation"), "--evaluation", [
        ("overwrite", False, "replace the results of an earlier evaluation in <results>/<run> (eval_metrics.json, "
                             "predictions.json, detections.json, the files of the same names in the image folders); "
                             "without it, an evaluation that would replace one stops before it starts"),
    ])
    trained_classes = ("num-classes", None, "number of classes the model was trained with (default: the model's)",
                       dict(type=int))
    add_options(parser.add_argument_group("Classification evaluation"), "--evaluation.classification",
                _evaluation_rows() + [("top-k", 5, "classes printed per image in the image modes")])
    add_options(parser.add_argument_group("Detection evaluation"), "--evaluation.detection",
                _evaluation_rows("32") + [
                    ("save-overlay-boxes", False, "also save validation images with the predicted boxes drawn"),
                    trained_classes])
    add_options(parser.add_argument_group("Segmentation evaluation"), "--evaluation.segmentation",
                _evaluation_rows("the output stride") + [
                    ("apply-color-map", False, "save colour-mapped masks"),
                    ("save-overlay-rgb-pred", False, "save the prediction blended over the image"),
                    ("save-masks", False, "save the predicted label masks as PNG"),
                    ("overlay-mask-weight", 0.5, "weight of the mask in the overlay"),
                    trained_classes])
    return parser
