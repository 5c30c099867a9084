"""Progress of the training and evaluation loops: a bar on the terminal and lines in the log, every
``common.log_freq`` steps and, whatever that says, at least every :data:`PROGRESS_SECONDS`."""
from __future__ import annotations

import time
from typing import Any, Callable

from tqdm import tqdm

from engine.loop_helpers import format_duration
from utils import logger

PROGRESS_SECONDS = 30.0  # a progress line at least this often


class ProgressClock:
    """Says when a progress line is due: when asked to (``forced``) or :data:`PROGRESS_SECONDS`
    after the last one."""

    def __init__(self) -> None:
        self.started = self.last_line = time.perf_counter()

    def due(self, forced: bool = False) -> bool:
        now = time.perf_counter()
        if not forced and now - self.last_line < PROGRESS_SECONDS:
            return False
        self.last_line = now
        return True

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class TrainingProgress:
    """The progress bar of a training epoch and its lines (main process only).

    Args:
        epoch: the epoch; ``start_step``, ``total``: where it starts and how many steps it has.
        enabled: show and log (the main process).
        log_freq: a line every this many steps (and at least every :data:`PROGRESS_SECONDS`).
        world_size: processes whose images count in the rate.
        scalars: ``scalars(loss, lr)`` after each line (TensorBoard).
    """

    def __init__(self, epoch: int, start_step: int, total: int, enabled: bool, log_freq: int, world_size: int,
                 scalars: Callable[[float, float], None]) -> None:
        self.epoch, self.total, self.enabled = epoch, total, enabled
        self.log_freq, self.world_size, self.scalars = log_freq, world_size, scalars
        self.bar = tqdm(desc=f"epoch {epoch}", disable=not enabled, dynamic_ncols=True, leave=False,
                        initial=start_step, total=total)
        self.clock = ProgressClock()
        self.seen = 0

    def update(self, step: int, stats: Any, loss: Any, lr: float, n: int) -> None:
        """Step ``step`` (0-based) trained ``n`` images to ``loss`` at ``lr``; ``stats`` so far."""
        self.seen += n
        if not self.enabled:
            return
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.2e}")
        if not self.clock.due(forced=step % self.log_freq == 0):
            return
        elapsed = self.clock.elapsed()
        rate = self.seen * self.world_size / max(elapsed, 1e-9)
        logger.log(f"epoch {self.epoch} [{step + 1}/{self.total}] {stats.summary()} | lr {lr:.3e} | "
                   f"{rate:.1f} img/s | elapsed {format_duration(elapsed)}")
        self.scalars(float(loss), lr)

    def close(self) -> None:
        self.bar.close()
