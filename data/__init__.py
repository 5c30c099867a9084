"""Data: datasets, transforms, batch samplers and loaders."""
import argparse

from data.datasets import arguments_datasets, build_dataset
from data.loaders import (collate_samples, create_eval_loader, create_train_loader, create_train_val_loaders,
                          eval_opts)
from data.samplers import arguments_samplers, build_sampler
from data.transforms import arguments_transforms


def arguments_data(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    arguments_datasets(parser)
    arguments_samplers(parser)
    arguments_transforms(parser)
    return parser


__all__ = ["arguments_data", "build_dataset", "build_sampler", "collate_samples", "create_eval_loader",
           "create_train_loader", "create_train_val_loaders", "eval_opts"]
