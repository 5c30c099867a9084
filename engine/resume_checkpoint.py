"""``checkpoint.pt``, the state a training run resumes from: the one place that writes and reads it.

Its keys (users' tools and the original project's read them, so they keep their names):

==============================  ==============================================================
``format_version``              2 (a checkpoint without it is version 1: the same keys otherwise)
``epoch``                       index of the last finished epoch (-1: none)
``resume_step``                 steps of the next epoch already done (a signal stopped it inside)
``iterations``                  optimizer steps so far
``model_state_dict``            the model's weights (no ``module.`` prefix)
``optim_state_dict``            the optimizer's state; ``optimizer_name``: its class
``gradient_scalar_state_dict``  the mixed-precision gradient scaler
``criterion_state_dict``        the loss's state
``best_metric``                 the best validation score so far; ``ema_best_metric``: the EMA's
``ema_state_dict``              the EMA weights (when ``ema.enable``)
``metrics_history``             every finished epoch's metrics (``metrics.jsonl`` is rebuilt from it)
``rank_states``                 per process: its random generator states and, inside an epoch, its
                                metric sums
==============================  ==============================================================
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn

from cvnets import EMA
from utils import logger
from utils.errors import CheckpointError
from utils.runtime import Runtime
from utils.weight_files import load_state_dict_strict, read_checkpoint

FORMAT_VERSION = 2
REQUIRED_KEYS = ("epoch", "iterations", "model_state_dict", "optim_state_dict", "best_metric")


def make_checkpoint(model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                    criterion: nn.Module, *, last_epoch: int, resume_step: int, iterations: int,
                    best_metric: float, history: List[Dict[str, Any]], rank_states: List[Dict[str, Any]],
                    ema: Optional[EMA] = None, ema_best_metric: Optional[float] = None) -> Dict[str, Any]:
    """Everything a resumed run needs, in the current format.

    Args:
        model: the model (unwrapped from DistributedDataParallel).
        optimizer, scaler, criterion: their states are saved with it.
        last_epoch: index of the last finished epoch; resume_step: steps of the next one done.
        iterations: optimizer steps so far; best_metric: the best validation score so far.
        history: the finished epochs' metrics; rank_states: every process's generators (and sums).
        ema, ema_best_metric: the EMA and its best score, when the run keeps one.

    Returns:
        The checkpoint, for :func:`torch.save`.
    """
    checkpoint = {
        "format_version": FORMAT_VERSION, "epoch": last_epoch, "iterations": iterations, "resume_step": resume_step,
        "model_state_dict": model.state_dict(), "optim_state_dict": optimizer.state_dict(),
        "optimizer_name": type(optimizer).__name__, "gradient_scalar_state_dict": scaler.state_dict(),
        "criterion_state_dict": criterion.state_dict(), "best_metric": best_metric,
        "metrics_history": list(history), "rank_states": rank_states}
    if ema is not None:
        checkpoint["ema_state_dict"] = ema.state_dict()
        checkpoint["ema_best_metric"] = ema_best_metric
    return checkpoint


def load_checkpoint(path: os.PathLike, mmap: bool = False) -> Dict[str, Any]:
    """Read a ``checkpoint.pt`` of any format version up to :data:`FORMAT_VERSION`; a file that is
    not one (weights only, another program's) is a :class:`CheckpointError`. ``mmap``: map the
    tensors instead of reading them."""
    checkpoint = read_checkpoint(path, "resume checkpoint", mmap=mmap)
    missing = [k for k in REQUIRED_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} is not a training checkpoint (missing {', '.join(missing)}); "
                              f"to start from weights only, use --common.finetune")
    version = int(checkpoint.get("format_version", 1))
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {version}, newer than this code reads "
                              f"({FORMAT_VERSION}); resume it with the version that wrote it")
    return checkpoint


def read_position(path: os.PathLike) -> Tuple[int, int]:
    """``(finished epochs, iterations)`` of a ``checkpoint.pt``, without reading its tensors."""
    checkpoint = load_checkpoint(path, mmap=True)
    return int(checkpoint["epoch"]) + 1, int(checkpoint["iterations"])


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
