"""Where a run starts: from scratch, or from a ``checkpoint.pt`` with every state restored."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from torch import nn

from cvnets import EMA
from engine.checkpoints import CheckpointManager
from utils import logger
from utils.checkpoint import load_state_dict_strict
from utils.distributed import Runtime
from utils.errors import CheckpointError


@dataclass
class ResumeState:
    """Position and bookkeeping of a run: the epoch and step it continues at, the iterations done,
    the best scores so far, the finished epochs' metrics and this rank's sums for the epoch in
    progress (when a signal stopped it inside an epoch)."""

    start_epoch: int = 0
    start_step: int = 0
    iterations: int = 0
    best_metric: Optional[float] = None
    ema_best_metric: Optional[float] = None
    history: List[Dict[str, Any]] = field(default_factory=list)
    epoch_stats: Optional[Dict[str, torch.Tensor]] = None
    rng: Optional[Dict[str, Any]] = None  # this rank's generator states, applied when training starts


def resume_path(opts: Any, exp_dir: Path) -> Optional[Path]:
    """``common.resume``, else with ``common.auto_resume`` the run folder's ``checkpoint.pt``."""
    explicit = getattr(opts, "common.resume")
    if explicit:
        return Path(explicit)
    candidate = exp_dir / "checkpoint.pt"
    if getattr(opts, "common.auto_resume"):
        if candidate.is_file():
            logger.log(f"Auto-resume: continuing from {candidate}")
            return candidate
        logger.log(f"Auto-resume: no checkpoint at {candidate}; starting from scratch")
    return None


def _load_optimizer(optimizer: torch.optim.Optimizer, checkpoint: Dict[str, Any], path: Path) -> None:
    saved = checkpoint.get("optimizer_name")
    if saved is not None and saved != type(optimizer).__name__:
        raise CheckpointError(f"resume checkpoint {path} was trained with {saved}, this run uses "
                              f"{type(optimizer).__name__} (optim.name); resume with the same optimizer, or start "
                              f"from its weights with --common.finetune")
    state = checkpoint["optim_state_dict"]
    own = optimizer.state_dict()["param_groups"]
    if len(state.get("param_groups", [])) != len(own) or any(
            len(a["params"]) != len(b["params"]) for a, b in zip(state["param_groups"], own)):
        raise CheckpointError(f"resume checkpoint {path}: its optimizer holds other parameter groups than this "
                              f"run's (another model or optim.no_decay_bn_filter_bias setting)")
    optimizer.load_state_dict(state)


def restore(checkpoint: Dict[str, Any], path: Path, runtime: Runtime, model: nn.Module,
            optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, ema: Optional[EMA],
            criterion: nn.Module) -> ResumeState:
    """Load every state of ``checkpoint`` into the run's objects; return where to continue."""
    source = f"resume checkpoint {path}"
    load_state_dict_strict(model, checkpoint["model_state_dict"], source)
    _load_optimizer(optimizer, checkpoint, path)
    if checkpoint.get("gradient_scalar_state_dict"):
        scaler.load_state_dict(checkpoint["gradient_scalar_state_dict"])
    if ema is not None:
        if "ema_state_dict" in checkpoint:
            load_state_dict_strict(ema.ema_model, checkpoint["ema_state_dict"], source + " (EMA)")
        else:
            logger.warning(f"{path} holds no EMA weights: the EMA starts from the resumed weights")
    if "criterion_state_dict" in checkpoint:
        criterion.load_state_dict(checkpoint["criterion_state_dict"])
    epoch_stats, rng = None, None
    rank_states = checkpoint.get("rank_states") or []
    if len(rank_states) == runtime.world_size:
        rng, epoch_stats = rank_states[runtime.rank]["rng"], rank_states[runtime.rank].get("stats")
    else:
        logger.warning(f"{path} was written by {len(rank_states) or 'an unknown number of'} processes and this run "
                       f"has {runtime.world_size}: random generators start afresh, so the run will not repeat an "
                       f"uninterrupted one exactly")
    state = ResumeState(start_epoch=int(checkpoint["epoch"]) + 1, start_step=int(checkpoint.get("resume_step", 0)),
                        iterations=int(checkpoint["iterations"]), best_metric=float(checkpoint["best_metric"]),
                        ema_best_metric=checkpoint.get("ema_best_metric"),
                        history=list(checkpoint.get("metrics_history", [])), epoch_stats=epoch_stats, rng=rng)
    where = f"epoch {state.start_epoch}" + (f", step {state.start_step}" if state.start_step else "")
    logger.log(f"Resumed from {path}: {where}, iteration {state.iterations}")
    return state


def load_resume(path: Path) -> Dict[str, Any]:
    return CheckpointManager.load_resume(path)
