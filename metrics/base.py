"""Metrics accumulated over an epoch and summed across ranks, selected by ``stats.name``."""
from __future__ import annotations

from typing import Any, Dict, List

import torch
import torch.distributed as dist
from torch import Tensor

from utils.registry import Registry

METRIC_REGISTRY = Registry("metric", option="stats.name")


class Metric:
    """Sums a fixed-size ``state`` tensor over batches; ``value()`` reads the metric from it."""

    def __init__(self, opts: Any = None) -> None:
        self.state = torch.zeros(self.state_size(), dtype=torch.float64)

    def state_size(self) -> int:
        return 2

    def update(self, prediction: Any, target: Any, loss: Tensor, batch_size: int) -> None:
        raise NotImplementedError

    def add(self, values: Tensor) -> None:
        self.state += values.detach().to(device="cpu", dtype=torch.float64)

    def sync(self) -> None:
        """Sum the state over the ranks of a distributed run."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            backend = dist.get_backend()
            device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
            state = self.state.to(device)
            dist.all_reduce(state)
            self.state = state.cpu()

    def value(self) -> float:
        raise NotImplementedError


@METRIC_REGISTRY.register("loss")
class LossMetric(Metric):
    def update(self, prediction: Any, target: Any, loss: Tensor, batch_size: int) -> None:
        self.add(torch.tensor([float(loss) * batch_size, batch_size]))

    def value(self) -> float:
        return float(self.state[0] / self.state[1]) if self.state[1] else float("nan")


class Statistics:
    """The metrics of ``names`` for one pass over a split."""

    def __init__(self, names: List[str], opts: Any = None) -> None:
        self.metrics: Dict[str, Metric] = {name: METRIC_REGISTRY.get(name)(opts) for name in names}

    def update(self, prediction: Any, target: Any, loss: Tensor, batch_size: int) -> None:
        for metric in self.metrics.values():
            metric.update(prediction, target, loss, batch_size)

    def sync(self) -> "Statistics":
        for metric in self.metrics.values():
            metric.sync()
        return self

    def values(self) -> Dict[str, float]:
        return {name: metric.value() for name, metric in self.metrics.items()}

    def state_dict(self) -> Dict[str, Tensor]:
        """The running sums, to continue an interrupted pass."""
        return {name: metric.state.clone() for name, metric in self.metrics.items()}

    def load_state_dict(self, state: Dict[str, Tensor]) -> None:
        for name, metric in self.metrics.items():
            if name in state:
                metric.state = state[name].clone().to(torch.float64)

    def summary(self) -> str:
        return ", ".join(f"{name}: {value:.4f}" for name, value in self.values().items())
