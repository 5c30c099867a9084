"""Progress of the training and evaluation loops: a bar on the terminal, whole lines in a log file,
and progress lines every ``common.log_freq`` steps and, whatever that says, at least every
:data:`PROGRESS_SECONDS`."""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Iterable, Optional, TextIO

from tqdm import tqdm

from engine.loop_helpers import format_duration
from utils import logger

LOG_INTERVAL_S = 30.0  # at most one bar line per this many seconds in a log file
PROGRESS_SECONDS = 30.0  # a progress line at least this often


class LineStream:
    """Where a bar writes when its output goes to a file (a redirected stderr, maybe shared with
    stdout): every redraw becomes a whole line and the clearing redraws write nothing, so no line
    of the log is left half-written for the next message to join."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(iterable: Optional[Iterable], description: str, enabled: bool, **kwargs: Any) -> tqdm:
    """A tqdm bar over ``iterable`` on stderr.

    Args:
        iterable: what the bar counts.
        description: the bar's label.
        enabled: ``False`` shows nothing (ranks other than the main one).
        kwargs: more tqdm arguments (``total``, ``initial``, ...).

    Returns:
        The bar. On a terminal it is redrawn in place and disappears when done; written to a file,
        it is a whole line at most every :data:`LOG_INTERVAL_S` seconds (:class:`LineStream`), so
        that the lines printed meanwhile and after it (the validation results) stand alone.
    """
    if sys.stderr.isatty():
        return tqdm(iterable, desc=description, disable=not enabled, dynamic_ncols=True, leave=False,
                    file=sys.stderr, **kwargs)
    return tqdm(iterable, desc=description, disable=not enabled, ncols=100, leave=True,
                mininterval=LOG_INTERVAL_S, file=LineStream(sys.stderr), **kwargs)


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
        self.bar = progress_bar(None, f"epoch {epoch}", enabled, initial=start_step, total=total)
        self.clock = ProgressClock()
        self.seen = 0

    def update(self, step: int, stats: Any, loss: Any, lr: float, n: int) -> None:
        """Step ``step`` (0-based) trained ``n`` images to ``loss`` at ``lr``; ``stats`` so far."""
        self.seen += n
        if not self.enabled:
            return
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.2e}", refresh=False)
        if not self.clock.due(forced=step % self.log_freq == 0):
            return
        elapsed = self.clock.elapsed()
        rate = self.seen * self.world_size / max(elapsed, 1e-9)
        logger.log(f"epoch {self.epoch} [{step + 1}/{self.total}] {stats.summary()} | lr {lr:.3e} | "
                   f"{rate:.1f} img/s | elapsed {format_duration(elapsed)}")
        self.scalars(float(loss), lr)

    def close(self) -> None:
        self.bar.close()
