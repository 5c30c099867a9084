"""Stopping on SIGTERM or SIGUSR1 (how clusters pre-empt jobs) at the next iteration boundary.

A handler only records the signal; the training loop asks :meth:`Preemption.requested` after each
optimizer step, so every rank of a distributed run stops at the same step, saves a resumable
checkpoint and ends with a message saying how to continue.

The handlers belong to the training program (``main_train.py``, its workers, torchrun's): a
training run started from other Python code (a test, a notebook) leaves the signals to that
program, so a SIGTERM ends it as it would without the run. (A second signal cannot mean "stop
now": a cluster that signals every process of a job also signals the launcher, which forwards it.)
"""
from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Dict, Optional

from utils.distributed import any_rank
from utils.runtime import Runtime

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR1") if hasattr(signal, name))


class Preemption:
    """Context manager that turns :data:`SIGNALS` into a stop request while it is active.

    Args:
        enabled: install the handlers (the training program); ``False``: leave the signals alone.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.signum = 0
        self._previous: Dict[int, Any] = {}

    def _record(self, signum: int, frame: Optional[FrameType]) -> None:
        self.signum = signum

    def __enter__(self) -> "Preemption":
        if self.enabled and threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._record)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def requested(self, runtime: Runtime) -> int:
        """The signal any rank received (0: none); a collective call in a distributed run."""
        return any_rank(runtime, self.signum)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
