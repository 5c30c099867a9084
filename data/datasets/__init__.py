"""Datasets, selected by ``dataset.name``."""
from __future__ import annotations

import argparse
from typing import Any

from data.datasets.base import BaseImageDataset, evaluation_transform, read_image, read_mask
from data.datasets.coco import COCODetection, COCODetectionSSD
from data.datasets.imagenet import ImageNetDataset
from data.datasets.pascal import PascalVOCDataset
from data.datasets.registry import DATASET_REGISTRY
from utils.opts import add_flag


def build_dataset(opts: Any, is_training: bool, is_evaluation: bool = False) -> BaseImageDataset:
    return DATASET_REGISTRY.get(getattr(opts, "dataset.name", None))(opts, is_training=is_training,
                                                                     is_evaluation=is_evaluation)


def arguments_datasets(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Dataset")
    group.add_argument("--dataset.name", type=str, default="imagenet", choices=DATASET_REGISTRY.names(),
                       help="dataset")
    group.add_argument("--dataset.category", type=str, default="classification",
                       choices=["classification", "detection", "segmentation"], help="task")
    group.add_argument("--dataset.root-train", type=str, default="", help="training data folder")
    group.add_argument("--dataset.root-val", type=str, default="", help="validation data folder")
    group.add_argument("--dataset.root-test", type=str, default="", help="test data folder")
    group.add_argument("--dataset.train-batch-size0", type=int, default=128, help="training batch size per process")
    group.add_argument("--dataset.val-batch-size0", type=int, default=100, help="validation batch size per process")
    group.add_argument("--dataset.eval-batch-size0", type=int, default=1, help="evaluation batch size")
    group.add_argument("--dataset.workers", type=int, default=-1,
                       help="data loading processes per training process (-1: one per CPU, at most 8)")
    add_flag(group, "--dataset.persistent-workers", help="keep the loading processes between epochs")
    add_flag(group, "--dataset.pin-memory", help="pin batches in memory (CUDA)")
    DATASET_REGISTRY.add_arguments(parser)
    return parser


__all__ = ["DATASET_REGISTRY", "BaseImageDataset", "ImageNetDataset", "COCODetection", "COCODetectionSSD", "PascalVOCDataset", "build_dataset", "evaluation_transform", "read_image", "read_mask",
           "arguments_datasets"]
