"""Learning-rate schedules (``scheduler.name``) with a linear warm-up.

During the first ``scheduler.warmup_iterations`` iterations the rate rises linearly from
``scheduler.warmup_init_lr``; afterwards the schedule is a function of the epoch
(``is_iteration_based: false``) or of the iteration. The rate of each parameter group is the
schedule's value times the group's ``lr_multiplier``. A negative rate (or decay factor) is refused
when the schedule is built, naming its key.
"""
from __future__ import annotations

import argparse
import math
from typing import Any, List

import numpy as np
import torch

from utils.errors import ConfigError
from utils.opts import add_options, non_negative
from utils.registry import Registry

SCHEDULER_REGISTRY = Registry("learning-rate scheduler", option="scheduler.name")


class BaseScheduler:
    round_places = 8

    def __init__(self, opts: Any, peak_lr: float) -> None:
        self.is_iteration_based = bool(getattr(opts, "scheduler.is_iteration_based"))
        self.max_epochs = getattr(opts, "scheduler.max_epochs")
        self.max_iterations = getattr(opts, "scheduler.max_iterations")
        if self.is_iteration_based and not self.max_iterations:
            raise ConfigError("scheduler.is_iteration_based needs scheduler.max_iterations")
        if not self.is_iteration_based and (self.max_epochs is None or self.max_epochs < 1):
            raise ConfigError(f"scheduler.max_epochs must be at least 1, got {self.max_epochs} (or train for "
                              f"scheduler.max_iterations with scheduler.is_iteration_based)")
        if self.is_iteration_based and self.max_iterations < 1:
            raise ConfigError(f"scheduler.max_iterations must be at least 1, got {self.max_iterations}")
        self.warmup_iterations = max(int(getattr(opts, "scheduler.warmup_iterations")), 0)
        self.warmup_init_lr = non_negative(opts, "scheduler.warmup_init_lr")
        self.warmup_step = ((peak_lr - self.warmup_init_lr) / self.warmup_iterations
                            if self.warmup_iterations else 0.0)

    def schedule(self, epoch: int, iteration: int) -> float:
        raise NotImplementedError

    def get_lr(self, epoch: int, iteration: int) -> float:
        if iteration < self.warmup_iterations:
            lr = self.warmup_init_lr + iteration * self.warmup_step
        else:
            lr = self.schedule(epoch, iteration)
        return max(0.0, lr)

    def update_lr(self, optimizer: torch.optim.Optimizer, epoch: int, iteration: int) -> float:
        lr = self.get_lr(epoch, iteration)
        for group in optimizer.param_groups:
            group["lr"] = round(lr * group.get("lr_multiplier", 1.0), self.round_places)
        return lr

    @staticmethod
    def current_lrs(optimizer: torch.optim.Optimizer) -> List[float]:
        return [group["lr"] for group in optimizer.param_groups]


@SCHEDULER_REGISTRY.register("cosine")
class CosineScheduler(BaseScheduler):
    """``min_lr + (max_lr - min_lr) * (1 + cos(pi * t / period)) / 2``, t the epoch (period:
    max_epochs) or the iteration after warm-up (period: max_iterations - warmup + 1)."""

    def __init__(self, opts: Any) -> None:
        self.max_lr = non_negative(opts, "scheduler.cosine.max_lr")
        self.min_lr = non_negative(opts, "scheduler.cosine.min_lr")
        super().__init__(opts, self.max_lr)
        self.period = (self.max_iterations - self.warmup_iterations + 1 if self.is_iteration_based
                       else self.max_epochs)

    def schedule(self, epoch: int, iteration: int) -> float:
        t = iteration - self.warmup_iterations if self.is_iteration_based else epoch
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * t / self.period))


@SCHEDULER_REGISTRY.register("polynomial")
class PolynomialScheduler(BaseScheduler):
    """``(start_lr - end_lr) * (1 - t) ** power + end_lr``, t the fraction of training done."""

    def __init__(self, opts: Any) -> None:
        self.start_lr = non_negative(opts, "scheduler.polynomial.start_lr")
        self.end_lr = non_negative(opts, "scheduler.polynomial.end_lr")
        self.power = float(getattr(opts, "scheduler.polynomial.power"))
        super().__init__(opts, self.start_lr)

    def schedule(self, epoch: int, iteration: int) -> float:
        t = ((iteration - self.warmup_iterations) / self.max_iterations if self.is_iteration_based
             else epoch / self.max_epochs)
        return (self.start_lr - self.end_lr) * (1.0 - t) ** self.power + self.end_lr


@SCHEDULER_REGISTRY.register("fixed")
class FixedScheduler(BaseScheduler):
    """A constant rate after warm-up."""

    def __init__(self, opts: Any) -> None:
        self.lr = non_negative(opts, "scheduler.fixed.lr")
        super().__init__(opts, self.lr)

    def schedule(self, epoch: int, iteration: int) -> float:
        return self.lr


@SCHEDULER_REGISTRY.register("multi_step")
class MultiStepScheduler(BaseScheduler):
    """``lr * gamma ** k`` after warm-up, ``k`` the number of ``milestones`` (epochs, or iterations
    when iteration-based) already reached: the step schedule of the COCO detectors."""

    def __init__(self, opts: Any) -> None:
        self.lr = non_negative(opts, "scheduler.multi_step.lr")
        self.gamma = non_negative(opts, "scheduler.multi_step.gamma")
        self.milestones = sorted(set(int(m) for m in getattr(opts, "scheduler.multi_step.milestones") or []))
        super().__init__(opts, self.lr)

    def schedule(self, epoch: int, iteration: int) -> float:
        now = iteration if self.is_iteration_based else epoch
        return self.lr * self.gamma ** sum(1 for m in self.milestones if m <= now)


@SCHEDULER_REGISTRY.register("cyclic")
class CyclicScheduler(BaseScheduler):
    """Cycles of ``epochs_per_cycle`` epochs whose rate falls linearly from ``min_lr * epochs_per_cycle``
    to ``min_lr`` (the first epoch of each cycle at ``min_lr``), ``total_cycles - 1`` times; at the
    epochs of ``steps`` both ends are multiplied by ``gamma`` (cumulatively); then a last cycle that
    anneals ``min_lr`` to ``last_cycle_end_lr`` linearly or by a cosine. Epoch-based."""

    def __init__(self, opts: Any) -> None:
        key = "scheduler.cyclic"
        self.min_lr = non_negative(opts, f"{key}.min_lr")
        self.end_lr = non_negative(opts, f"{key}.last_cycle_end_lr")
        self.cycle_length = int(getattr(opts, f"{key}.epochs_per_cycle"))
        self.n_cycles = int(getattr(opts, f"{key}.total_cycles")) - 1
        self.anneal = getattr(opts, f"{key}.last_cycle_type")
        steps = getattr(opts, f"{key}.steps")
        super().__init__(opts, self.min_lr)
        if self.is_iteration_based:
            raise ConfigError("the cyclic scheduler is epoch-based; set scheduler.is_iteration_based to false")
        if self.min_lr < self.end_lr:
            raise ConfigError(f"{key}.min_lr ({self.min_lr}) must not be below {key}.last_cycle_end_lr "
                              f"({self.end_lr})")
        self.cyclic_epochs = self.cycle_length * self.n_cycles
        if self.cyclic_epochs >= self.max_epochs:
            raise ConfigError(f"the cycles ({self.n_cycles} x {self.cycle_length} epochs) leave no last cycle "
                              f"within scheduler.max_epochs={self.max_epochs}")
        self.steps = list(steps) if steps else []
        self.gamma = non_negative(opts, f"{key}.gamma") if steps else 1.0

    def _cycle_min_lr(self, epoch: int) -> float:
        passed = [i for i, step in enumerate(self.steps) if step <= epoch]
        factor = 1.0
        for i in passed:
            factor *= self.gamma ** (i + 1)
        return self.min_lr * factor

    def schedule(self, epoch: int, iteration: int) -> float:
        low = self._cycle_min_lr(min(epoch, self.cyclic_epochs))
        if epoch <= self.cyclic_epochs:
            rates = list(np.linspace(low * self.cycle_length, low, self.cycle_length))
            rates = [rates[-1]] + rates[:-1]
            return float(rates[epoch % self.cycle_length])
        last_epochs = self.max_epochs - self.cyclic_epochs
        if self.anneal == "linear":
            return low - (epoch - self.cyclic_epochs + 1) * (low - self.end_lr) / last_epochs
        period = last_epochs + 1
        return self.end_lr + 0.5 * (low - self.end_lr) * (1 + math.cos(math.pi * (epoch - self.cyclic_epochs) / period))


def build_scheduler(opts: Any) -> BaseScheduler:
    return SCHEDULER_REGISTRY.get(getattr(opts, "scheduler.name"))(opts)


def arguments_schedulers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Learning-rate schedule")
    add_options(group, "--scheduler", [
        ("name", "cosine", "schedule", dict(choices=SCHEDULER_REGISTRY.names())),
        ("max-epochs", None, "training epochs", dict(type=int)),
        ("max-iterations", None, "training iterations (iteration-based schedules)", dict(type=int)),
        ("is-iteration-based", False, "schedule by iteration instead of by epoch"),
        ("warmup-iterations", 0, "linear warm-up iterations"),
        ("warmup-init-lr", 1e-7, "rate at the first iteration"),
        ("cosine.max-lr", 0.1, "cosine: peak rate"),
        ("cosine.min-lr", 1e-5, "cosine: final rate"),
        ("polynomial.start-lr", 0.1, "polynomial: peak rate"),
        ("polynomial.end-lr", 1e-5, "polynomial: final rate"),
        ("polynomial.power", 2.5, "polynomial: power"),
        ("fixed.lr", 0.1, "fixed: the rate"),
        ("multi-step.lr", 0.1, "multi_step: rate before the first milestone"),
        ("multi-step.gamma", 0.1, "multi_step: factor applied at each milestone"),
        ("multi-step.milestones", None, "multi_step: epochs (iterations when iteration-based) of the decays",
         dict(type=int, nargs="+")),
        ("cyclic.min-lr", 0.1, "cyclic: lowest rate of a cycle"),
        ("cyclic.last-cycle-end-lr", 1e-3, "cyclic: rate at the end of the last cycle"),
        ("cyclic.epochs-per-cycle", 5, "cyclic: cycle length"),
        ("cyclic.total-cycles", 11, "cyclic: cycles incl. the last"),
        ("cyclic.last-cycle-type", "linear", "cyclic: annealing of the last cycle", dict(choices=["linear", "cosine"])),
        ("cyclic.steps", None, "cyclic: epochs at which the rates are multiplied by gamma", dict(type=int, nargs="+")),
        ("cyclic.gamma", 0.5, "cyclic: rate decay at the steps"),
    ])
    return parser
