"""Optimizers and learning-rate schedules."""
import argparse

from optim.optimizers import OPTIM_REGISTRY, arguments_optimizers, build_optimizer, parameter_groups
from optim.schedulers import SCHEDULER_REGISTRY, BaseScheduler, arguments_schedulers, build_scheduler


def arguments_optim(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    arguments_optimizers(parser)
    arguments_schedulers(parser)
    return parser


__all__ = ["OPTIM_REGISTRY", "SCHEDULER_REGISTRY", "BaseScheduler", "build_optimizer", "build_scheduler",
           "parameter_groups", "arguments_optim"]
