"""Training and evaluation metrics."""
from __future__ import annotations

import argparse

from metrics import confusion, topk  # noqa: F401  (registration)
from metrics.base import METRIC_REGISTRY, Metric, Statistics
from metrics.topk import topk_correct
from utils.opts import add_flag


def arguments_stats(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Statistics")
    group.add_argument("--stats.name", type=str, nargs="+", default=["loss"], choices=METRIC_REGISTRY.names(),
                       help="metrics computed in training and validation")
    group.add_argument("--stats.checkpoint-metric", type=str, default="loss", choices=METRIC_REGISTRY.names(),
                       help="metric that selects the best checkpoints")
    add_flag(group, "--stats.checkpoint-metric-max", help="a higher checkpoint metric is better")
    return parser


__all__ = ["METRIC_REGISTRY", "Metric", "Statistics", "topk_correct", "arguments_stats"]
