"""Training and evaluation metrics."""
from __future__ import annotations

import argparse

from metrics import confusion, loss_parts, topk  # noqa: F401  (registration)
from metrics.base import METRIC_REGISTRY, Metric, Statistics
from metrics.topk import topk_correct
from utils.opts import add_options


def arguments_stats(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Statistics")
    add_options(group, "--stats", [
        ("name", ["loss"], "metrics computed in training and validation", dict(choices=METRIC_REGISTRY.names())),
        ("checkpoint-metric", "loss", "metric that selects the best checkpoints", dict(choices=METRIC_REGISTRY.names())),
        ("checkpoint-metric-max", False, "a higher checkpoint metric is better"),
    ])
    return parser


__all__ = ["METRIC_REGISTRY", "Metric", "Statistics", "topk_correct", "arguments_stats"]
