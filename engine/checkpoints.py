"""The checkpoint files of a training run, under ``<common.results_loc>/<common.run_label>/``.

=========================  =====================================================================
``checkpoint.pt``          everything needed to resume (epoch = index of the last finished epoch)
``checkpoint_last.pt``     weights after the last epoch
``checkpoint_best.pt``     weights of the best epoch (``stats.checkpoint_metric``)
``checkpoint_ema.pt``      EMA weights after the last epoch
``checkpoint_ema_best.pt`` EMA weights of the epoch whose EMA validated best
``checkpoint_avg.pt``      average of the ``common.k_best_checkpoints`` best epochs' weights
``checkpoint_ema_avg.pt``  the same for the EMA weights
``metrics.jsonl``          one line of training and validation metrics per epoch
``train.log``              everything the run logged
=========================  =====================================================================

``checkpoint.pt`` also holds the metrics of every finished epoch (``metrics.jsonl`` is rebuilt from
it on resume), the random generator states of every process, and, when a signal stopped the run
inside an epoch, how many of the epoch's steps were done.

Each epoch's weights are kept as ``checkpoint[_ema]_epoch_<e>_score_<s>.pt`` under the epoch's
own validation score while they rank among the k best. Every file is written atomically, and
``checkpoint.pt`` last, so an interrupted run resumes from a consistent state.
"""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from utils import logger
from utils.checkpoint import atomic_save, read_checkpoint
from utils.errors import CheckpointError

RESUME_KEYS = ("epoch", "iterations", "model_state_dict", "optim_state_dict", "best_metric")
_SCORED = re.compile(r"_epoch_(\d+)_score_(-?[0-9.]+|nan|inf|-inf)\.pt$")


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


class CheckpointManager:
    def __init__(self, folder: Path, k_best: int, higher_is_better: bool) -> None:
        self.folder = Path(folder)
        self.k_best = k_best
        self.higher_is_better = higher_is_better

    @property
    def resume_path(self) -> Path:
        return self.folder / "checkpoint.pt"

    def initial_best(self) -> float:
        return -math.inf if self.higher_is_better else math.inf

    def is_better(self, score: float, best: float) -> bool:
        """Ties count as better, so the latest of equally good epochs is kept."""
        if math.isnan(score):
            return False
        return score >= best if self.higher_is_better else score <= best

    def _scored_files(self, prefix: str) -> List[Tuple[float, int, Path]]:
        entries = []
        for path in self.folder.glob(f"{prefix}_epoch_*_score_*.pt"):
            match = _SCORED.search(path.name)
            if match and path.name.startswith(f"{prefix}_epoch_"):
                entries.append((float(match.group(2)), int(match.group(1)), path))
        # best first; among equal scores the later epoch first
        sign = -1.0 if self.higher_is_better else 1.0
        return sorted(entries, key=lambda e: (sign * e[0] if not math.isnan(e[0]) else math.inf, -e[1]))

    def _update_k_best(self, prefix: str, state: Dict[str, Tensor], epoch: int, score: float) -> None:
        if self.k_best < 1:
            return
        for _, old_epoch, path in self._scored_files(prefix):
            if old_epoch >= epoch:  # left by an interrupted later run; it is about to be redone
                path.unlink()
        atomic_save(state, self.folder / f"{prefix}_epoch_{epoch}_score_{score:.4f}.pt")
        ranked = self._scored_files(prefix)
        for _, _, path in ranked[self.k_best:]:
            path.unlink()
        kept = ranked[:self.k_best]
        states = [read_checkpoint(path, "checkpoint") for _, _, path in kept]
        atomic_save(average_state_dicts(states), self.folder / f"{prefix}_avg.pt")
        logger.log(f"{prefix}_avg.pt averages epochs {sorted(e for _, e, _ in kept)}")

    def save_epoch(self, checkpoint: Dict, score: float, is_best: bool, ema_score: Optional[float] = None,
                   is_ema_best: bool = False) -> None:
        """Write an epoch's files: the k-best and averaged weights, the last and best weights (and
        their EMA counterparts when ``checkpoint`` has ``ema_state_dict``), then ``checkpoint``
        itself as ``checkpoint.pt``. A failed write stops training with one line; the file it was
        replacing is kept."""
        model_state, ema_state = checkpoint["model_state_dict"], checkpoint.get("ema_state_dict")
        epoch = int(checkpoint["epoch"])
        self._write(lambda: self._update_k_best("checkpoint", model_state, epoch, score))
        self._write(lambda: atomic_save(model_state, self.folder / "checkpoint_last.pt"))
        if is_best:
            self._write(lambda: atomic_save(model_state, self.folder / "checkpoint_best.pt"))
        if ema_state is not None:
            self._write(lambda: self._update_k_best("checkpoint_ema", ema_state, epoch, ema_score))
            self._write(lambda: atomic_save(ema_state, self.folder / "checkpoint_ema.pt"))
            if is_ema_best:
                self._write(lambda: atomic_save(ema_state, self.folder / "checkpoint_ema_best.pt"))
        self.save_resume(checkpoint)

    def save_resume(self, checkpoint: Dict) -> None:
        """Write ``checkpoint.pt`` (everything a resumed run needs)."""
        self._write(lambda: atomic_save(checkpoint, self.resume_path))

    def _write(self, write: Callable[[], None]) -> None:
        try:
            write()
        except (OSError, RuntimeError) as exc:  # torch's writer reports a failed write as a RuntimeError
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "the write failed"
            free = shutil.disk_usage(self.folder).free / 2 ** 20
            raise CheckpointError(f"could not write a checkpoint in {self.folder} ({reason}; {free:.0f} MiB "
                                  f"free); training stopped, the files written before are kept") from None

    @staticmethod
    def load_resume(path: Path) -> Dict:
        checkpoint = read_checkpoint(path, "resume checkpoint")
        missing = [k for k in RESUME_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
        if missing:
            raise CheckpointError(f"{path} is not a training checkpoint (missing {', '.join(missing)}); "
                                  f"to start from weights only, use --common.finetune")
        return checkpoint
