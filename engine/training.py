"""Set-up of a training run from its options: data, model, EMA, loss, optimizer, schedule,
resuming or fine-tuning, distributed wrapping; then the :class:`Trainer`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from cvnets import EMA, get_model
from data import create_train_val_loaders
from data.transforms import build_batch_mixing
from engine.checkpoints import CheckpointManager
from engine.trainer import Trainer
from engine.utils import experiment_dir
from loss_fn import build_loss
from optim import build_optimizer, build_scheduler
from utils import logger
from utils.checkpoint import load_matching, read_checkpoint, state_dict_from
from utils.config_file import dump_yaml
from utils.distributed import Runtime, cleanup, revert_sync_batchnorm, setup_runtime
from utils.errors import ConfigError
from utils.opts import opts_to_dict


def check_class_count(opts: Any, dataset: Any) -> None:
    """The model must have an output for every class of the training data; an unset class count
    is taken from the data."""
    classes = getattr(dataset, "num_classes", None)
    task = getattr(opts, "dataset.category")
    key = f"model.{task}.n_classes"
    n_classes = getattr(opts, key)
    if classes is None:
        return
    if n_classes is None:
        setattr(opts, key, classes)
        logger.log(f"{key} set to {classes}, the class count of the training data")
    elif n_classes < classes:
        raise ConfigError(f"{key} ({n_classes}) is smaller than the {classes} classes of "
                          f"{getattr(dataset, 'root', 'the training data')}")


def prepare_model(opts: Any, runtime: Runtime) -> nn.Module:
    model = get_model(opts)
    if runtime.distributed and runtime.device.type != "cuda" and any(
            isinstance(m, nn.SyncBatchNorm) for m in model.modules()):
        logger.warning("sync_batch_norm needs CUDA in a distributed run; using batch_norm instead")
        model = revert_sync_batchnorm(model)
    model = model.to(runtime.device)
    if getattr(opts, "common.channels_last"):
        model = model.to(memory_format=torch.channels_last)
    return model


def _finetune(opts: Any, model: nn.Module, ema: Optional[EMA]) -> None:
    for option, target in (("common.finetune", model), ("common.finetune_ema", ema.ema_model if ema else None)):
        path = getattr(opts, option)
        if not path:
            continue
        if target is None:
            logger.warning(f"{option} is ignored: ema.enable is off")
            continue
        skipped = load_matching(target, state_dict_from(read_checkpoint(path, option), path))
        logger.log(f"{option}: loaded {path}" + (f"; skipped {len(skipped)} keys: {', '.join(skipped[:8])}"
                                                + (" ..." if len(skipped) > 8 else "") if skipped else ""))


def _resume_path(opts: Any, exp_dir: Path) -> Optional[Path]:
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


def train(opts: Any) -> Path:
    """Train as ``opts`` describe; returns the experiment folder."""
    runtime = setup_runtime(opts)
    try:
        exp_dir = experiment_dir(opts)
        if runtime.is_main:
            exp_dir.mkdir(parents=True, exist_ok=True)
            dump_yaml(opts_to_dict(opts), exp_dir / "config.yaml")
            logger.log(f"Resolved configuration saved to {exp_dir / 'config.yaml'}")
        train_loader, val_loader, train_sampler = create_train_val_loaders(opts)
        check_class_count(opts, train_loader.dataset)
        batch_mixing = None
        if getattr(opts, "dataset.category") == "classification":
            batch_mixing = build_batch_mixing(opts, getattr(opts, "model.classification.n_classes"))
            if batch_mixing is not None:
                logger.log(f"Training batches: {batch_mixing}")
        model = prepare_model(opts, runtime)
        ema = EMA(model, float(getattr(opts, "ema.momentum"))) if getattr(opts, "ema.enable") else None
        _finetune(opts, model, ema)
        criterion = build_loss(opts).to(runtime.device)
        optimizer = build_optimizer(model, opts)
        scheduler = build_scheduler(opts)
        scaler = torch.amp.GradScaler("cuda", enabled=runtime.amp_dtype == torch.float16)
        state = dict(start_epoch=0, start_iteration=0, best_metric=None, ema_best_metric=None)
        resume = _resume_path(opts, exp_dir)
        if resume is not None:
            checkpoint = CheckpointManager.load_resume(resume)
            model.load_state_dict(checkpoint["model_state_dict"])
            optimizer.load_state_dict(checkpoint["optim_state_dict"])
            if checkpoint.get("gradient_scalar_state_dict"):
                scaler.load_state_dict(checkpoint["gradient_scalar_state_dict"])
            if ema is not None and "ema_state_dict" in checkpoint:
                ema.load_state_dict(checkpoint["ema_state_dict"])
            state = dict(start_epoch=int(checkpoint["epoch"]) + 1, start_iteration=int(checkpoint["iterations"]),
                         best_metric=float(checkpoint["best_metric"]),
                         ema_best_metric=checkpoint.get("ema_best_metric"))
            logger.log(f"Resumed from {resume}: epoch {state['start_epoch']}, iteration {state['start_iteration']}")
        if runtime.distributed:
            device_ids = [runtime.local_rank] if runtime.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=device_ids,
                find_unused_parameters=bool(getattr(opts, "ddp.find_unused_parameters")))
        trainer = Trainer(opts, runtime, model, criterion, optimizer, scheduler, train_loader, val_loader,
                          train_sampler, exp_dir, ema=ema, scaler=scaler, batch_mixing=batch_mixing, **state)
        trainer.run()
        return exp_dir
    finally:
        cleanup(runtime)
