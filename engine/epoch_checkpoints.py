"""The weight files a training run keeps at the end of every epoch (named by :class:`RunFolder`).

The last and the best weights (and the EMA's), and the k-best average: each epoch's weights are
kept under their validation score while they rank among the ``common.k_best_checkpoints`` best,
and ``checkpoint[_ema]_avg.pt`` is the average of those kept. Every file is written atomically,
and ``checkpoint.pt`` last, so an interrupted run resumes from a consistent state.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from engine.run_folder import RunFolder
from utils import logger
from utils.errors import CheckpointError
from utils.io import atomic_save
from utils.weight_files import read_checkpoint


def average_state_dicts(states: List[Dict[str, Tensor]]) -> Dict[str, Tensor]:
    """Element-wise mean in float64, cast back to each entry's dtype (integers are rounded down)."""
    if not states:
        raise ValueError("nothing to average")
    averaged = {}
    for key, first in states[0].items():
        total = torch.zeros_like(first, dtype=torch.float64)
        for state in states:
            total += state[key].to(torch.float64)
        averaged[key] = (total / len(states)).to(first.dtype)
    return averaged


class EpochCheckpoints:
    """Writes an epoch's weight files and ``checkpoint.pt`` into a run folder.

    Args:
        run: the run folder.
        k_best: how many epochs' weights the averages take (0: no averages).
        higher_is_better: whether a higher ``stats.checkpoint_metric`` is better.
    """

    def __init__(self, run: RunFolder, k_best: int, higher_is_better: bool) -> None:
        self.run = run
        self.k_best = k_best
        self.higher_is_better = higher_is_better

    def initial_best(self) -> float:
        return -math.inf if self.higher_is_better else math.inf

    def is_better(self, score: float, best: float) -> bool:
        """Ties count as better, so the latest of equally good epochs is kept."""
        if math.isnan(score):
            return False
        return score >= best if self.higher_is_better else score <= best

    def _ranked(self, ema: bool) -> List[Tuple[float, int, Path]]:
        """The kept epochs' files best first; among equal scores the later epoch first."""
        sign = -1.0 if self.higher_is_better else 1.0
        return sorted(self.run.scored_files(ema),
                      key=lambda e: (sign * e[0] if not math.isnan(e[0]) else math.inf, -e[1]))

    def _average_k_best(self, ema: bool, state: Dict[str, Tensor], epoch: int, score: float) -> None:
        """Keep this epoch's weights if they rank among the k best, and average the k best."""
        if self.k_best < 1:
            return
        for _, old_epoch, path in self.run.scored_files(ema):
            if old_epoch >= epoch:  # left by an interrupted later run; it is about to be redone
                path.unlink()
        atomic_save(state, self.run.scored(ema, epoch, score))
        ranked = self._ranked(ema)
        for _, _, path in ranked[self.k_best:]:
            path.unlink()
        kept = ranked[:self.k_best]
        states = [read_checkpoint(path, "checkpoint") for _, _, path in kept]
        average = atomic_save(average_state_dicts(states), self.run.weights("ema_avg" if ema else "avg"))
        logger.log(f"{average.name} averages epochs {sorted(e for _, e, _ in kept)}")

    def save_epoch(self, checkpoint: Dict, score: float, is_best: bool, ema_score: Optional[float] = None,
                   is_ema_best: bool = False) -> None:
        """Write an epoch's files: the k-best and averaged weights, the last and best weights (and
        their EMA counterparts when ``checkpoint`` has ``ema_state_dict``), then ``checkpoint``
        itself as ``checkpoint.pt``. A failed write stops training with one line; the file it was
        replacing is kept."""
        model_state, ema_state = checkpoint["model_state_dict"], checkpoint.get("ema_state_dict")
        epoch = int(checkpoint["epoch"])
        self._write(lambda: self._average_k_best(False, model_state, epoch, score))
        self._write(lambda: atomic_save(model_state, self.run.weights("last")))
        if is_best:
            self._write(lambda: atomic_save(model_state, self.run.weights("best")))
        if ema_state is not None:
            self._write(lambda: self._average_k_best(True, ema_state, epoch, ema_score))
            self._write(lambda: atomic_save(ema_state, self.run.weights("ema")))
            if is_ema_best:
                self._write(lambda: atomic_save(ema_state, self.run.weights("ema_best")))
        self.save_resume(checkpoint)

    def save_resume(self, checkpoint: Dict) -> None:
        """Write ``checkpoint.pt`` (everything a resumed run needs)."""
        self._write(lambda: atomic_save(checkpoint, self.run.checkpoint))

    def _write(self, write: Callable[[], object]) -> None:
        try:
            write()
        except (OSError, RuntimeError) as exc:  # torch's writer reports a failed write as a RuntimeError
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "the write failed"
            free = shutil.disk_usage(self.run.path).free / 2 ** 20
            raise CheckpointError(f"could not write a checkpoint in {self.run} ({reason}; {free:.0f} MiB "
                                  f"free); training stopped, the files written before are kept") from None
