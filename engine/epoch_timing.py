"""Where a training epoch's time goes: its model steps (forward and loss, backward, optimizer) and
the rest (waiting for data, making the inputs, EMA update, metrics, logging, checkpoints), written
to the log at the end of each epoch.

Times are the host's wall clock: on a GPU, work the host launched is counted where the host waits
for it (the loss check of each step waits for the step's forward pass).
"""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Dict, Iterator

MODEL_STEP = ("forward", "backward", "optimizer")
# the sections of an epoch's training loop besides the model steps, as the report names them
OVERHEAD = {"data": "waiting for data", "inputs": "inputs", "ema": "EMA", "metrics": "metrics",
            "logging": "logging", "checkpoint": "checkpoint"}
AFTER_LOOP = ("validation", "checkpoints")


class EpochTimer:
    """Seconds spent in named sections of one epoch; the training loop's wall time runs from
    :meth:`start_loop` to :meth:`end_loop`."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)
        self.loop_started = self.loop_ended = time.perf_counter()

    def start_loop(self) -> None:
        self.loop_started = time.perf_counter()

    def end_loop(self) -> None:
        self.loop_ended = time.perf_counter()

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def model_seconds(self) -> float:
        return sum(self.seconds[name] for name in MODEL_STEP)

    def loop_seconds(self) -> float:
        return self.loop_ended - self.loop_started

    def ratio(self) -> float:
        """The training loop's wall time over the sum of its model steps (1: no overhead at all)."""
        return self.loop_seconds() / max(self.model_seconds(), 1e-9)

    def report(self, epoch: int) -> str:
        """One line: the loop's wall time, its model steps and the rest, then validation and checkpoints."""
        s = self.seconds
        loop, model = self.loop_seconds(), self.model_seconds()
        accounted = model + sum(s[name] for name in OVERHEAD)
        rest = " + ".join(f"{label} {s[name]:.2f}" for name, label in OVERHEAD.items())
        return (f"epoch {epoch} time: training {loop:.2f} s = model steps {model:.2f} s (forward and loss "
                f"{s['forward']:.2f}, backward {s['backward']:.2f}, optimizer {s['optimizer']:.2f}) + {rest} + "
                f"other {loop - accounted:.2f}; training / model steps {self.ratio():.3f}; then validation "
                f"{s['validation']:.2f} s, checkpoints {s['checkpoints']:.2f} s")
