"""Datasets, selected by ``dataset.name``."""
from __future__ import annotations

import argparse
from typing import Any

from data.datasets.base import BaseImageDataset, evaluation_transform
from data.datasets.image_io import read_image, read_mask
from data.datasets.ade20k import ADE20KDataset
from data.datasets.coco import COCODetection, COCODetectionSSD
from data.datasets.coco_instances import COCOInstanceSegmentation
from data.datasets.imagenet import ImageNetDataset
from data.datasets.pascal import PascalVOCDataset
from data.datasets.registry import DATASET_REGISTRY
from data.transforms import check_classification_only
from utils.opts import add_options


def build_dataset(opts: Any, is_training: bool, is_evaluation: bool = False) -> BaseImageDataset:
    check_classification_only(opts)
    return DATASET_REGISTRY.get(getattr(opts, "dataset.name"))(opts, is_training=is_training,
                                                                     is_evaluation=is_evaluation)


def arguments_datasets(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Dataset")
    add_options(group, "--dataset", [
        ("name", "imagenet", "dataset", dict(choices=DATASET_REGISTRY.names())),
        ("category", "classification", "task", dict(choices=["classification", "detection", "segmentation"])),
        ("root-train", "", "training data folder"),
        ("root-val", "", "validation data folder"),
        ("root-test", "", "test data folder"),
        ("train-batch-size0", 128, "training batch size per process"),
        ("val-batch-size0", 100, "validation batch size per process"),
        ("eval-batch-size0", 1, "evaluation batch size"),
        ("workers", -1, "data loading processes per training process (-1: one per CPU, at most 8)"),
        ("persistent-workers", False, "keep the loading processes between epochs"),
        ("pin-memory", False, "pin batches in memory (CUDA)"),
    ])
    DATASET_REGISTRY.add_arguments(parser)
    return parser


__all__ = ["DATASET_REGISTRY", "BaseImageDataset", "ImageNetDataset", "COCODetection", "COCODetectionSSD",
           "COCOInstanceSegmentation", "ADE20KDataset", "PascalVOCDataset", "build_dataset", "evaluation_transform",
           "read_image", "read_mask", "arguments_datasets"]
