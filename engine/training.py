"""Set-up of a training run from its options: run folder, data, model, EMA, loss, optimizer,
schedule, resuming or fine-tuning, distributed wrapping; then the :class:`Trainer`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from cvnets import EMA, get_model
from data import create_train_val_loaders
from data.loaders import close_loaders
from data.transforms import build_batch_mixing
from engine.compilation import compile_model
from engine.resume_checkpoint import ResumeState, load_checkpoint, restore
from engine.run_folder import RunFolder
from engine.run_start import RunStart, run_start
from engine.trainer import Trainer
from loss_fn import build_loss
from optim import BaseScheduler, build_optimizer, build_scheduler
from utils import logger
from utils.charts import write_training_curves
from utils.distributed import cleanup, revert_sync_batchnorm
from utils.errors import ConfigError
from utils.io import write_json
from utils.opts import opts_to_dict
from utils.runtime import Runtime, setup_runtime
from utils.weight_files import load_matching, read_checkpoint, state_dict_from


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
        if not skipped:
            logger.log(f"{option}: loaded {path}")
            continue
        own = len(target.state_dict())
        listed = ", ".join(skipped[:8]) + (" ..." if len(skipped) > 8 else "")
        message = f"{option}: loaded {path}; skipped {len(skipped)} keys: {listed}"
        if len(skipped) > own / 2:
            logger.warning(message + f" (most of the model's {own} entries: is it the same architecture?)")
        else:
            logger.log(message)


def describe_run(opts: Any, runtime: Runtime, scheduler: BaseScheduler) -> str:
    """One line: processes, backend, batch sizes and learning rate of the run."""
    import torch.distributed as dist

    backend = dist.get_backend() if runtime.distributed else "none (one process)"
    per_process = int(getattr(opts, "dataset.train_batch_size0"))
    accum = int(getattr(opts, "common.accum_freq"))
    peak = scheduler.get_lr(0, scheduler.warmup_iterations)
    effective = f" ({per_process * runtime.world_size * accum} with gradient accumulation)" if accum > 1 else ""
    return (f"Run: world size {runtime.world_size}, backend {backend}, device {runtime.device}; batch size "
            f"{per_process} per process, global batch size {per_process * runtime.world_size}{effective}; "
            f"learning rate {peak:.3g} after {scheduler.warmup_iterations} warm-up iterations from "
            f"{scheduler.warmup_init_lr:.3g} ({type(scheduler).__name__})")


def _save_run_description(opts: Any, run: RunFolder, dataset: Any, resumed_at: int) -> None:
    """``config.yaml`` (see :meth:`RunFolder.save_config`) and, when the training data name their
    classes (class folders, COCO categories, VOC), the class names in label order (``classes.json``)."""
    path = run.save_config(opts_to_dict(opts), resumed_at)
    logger.log(f"Resolved configuration saved to {path}")
    classes = getattr(dataset, "classes", None)
    if classes:
        write_json(list(classes), run.classes)


def _batch_mixing(opts: Any) -> Optional[Any]:
    """MixUp / CutMix of the training batches, when a classification config enables them."""
    if getattr(opts, "dataset.category") != "classification":
        return None
    mixing = build_batch_mixing(opts, getattr(opts, "model.classification.n_classes"))
    if mixing is not None:
        logger.log(f"Training batches: {mixing}")
    return mixing


def _train(opts: Any, runtime: Runtime, run: RunFolder, start: RunStart, scheduler: BaseScheduler,
           handle_signals: bool) -> None:
    """Build the run's data, model, EMA, loss and optimizer, restore ``start``'s checkpoint, and train."""
    checkpoint = load_checkpoint(start.resume_path) if start.resume_path is not None else None
    if runtime.is_main:
        logger.add_file(run.train_log)
    logger.log(describe_run(opts, runtime, scheduler))
    train_loader, val_loader, train_sampler = create_train_val_loaders(opts)
    try:
        check_class_count(opts, train_loader.dataset)
        batch_mixing = _batch_mixing(opts)
        model = prepare_model(opts, runtime)
        ema = EMA(model, float(getattr(opts, "ema.momentum"))) if getattr(opts, "ema.enable") else None
        _finetune(opts, model, ema)
        criterion = build_loss(opts).to(runtime.device)
        optimizer = build_optimizer(model, opts)
        scaler = torch.amp.GradScaler("cuda", enabled=runtime.amp_dtype == torch.float16)
        state = ResumeState()
        if checkpoint is not None:
            state = restore(checkpoint, start.resume_path, runtime, model, optimizer, scaler, ema, criterion)
            del checkpoint  # its states are in the model, optimizer and EMA now: no second copy for the run
        if runtime.is_main:
            _save_run_description(opts, run, train_loader.dataset, state.start_epoch if start.resume else -1)
        if runtime.compile is not None:  # in place, after the EMA's copy: the EMA model is compiled when validated
            compile_model(model, runtime.compile)
            logger.log(f"torch.compile: the model is compiled ({runtime.compile}) at its first step of each shape")
        if runtime.distributed:
            device_ids = [runtime.local_rank] if runtime.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=device_ids, find_unused_parameters=bool(getattr(opts, "ddp.find_unused_parameters")))
        Trainer(opts, runtime, model, criterion, optimizer, scheduler, train_loader, val_loader, train_sampler, run,
                ema=ema, scaler=scaler, state=state, batch_mixing=batch_mixing, handle_signals=handle_signals).run()
    finally:
        close_loaders(train_loader, val_loader)
    if runtime.is_main:
        write_training_curves(run.metrics, run.curves)


def train(opts: Any, handle_signals: bool = False) -> Path:
    """Train as ``opts`` describe, in the run folder (see :mod:`engine.run_start` for how the run
    begins there); returns the folder.

    Args:
        opts: the run's options.
        handle_signals: stop at the next iteration on SIGTERM / SIGUSR1, saving a checkpoint to
            resume from (:mod:`engine.preemption`); the training program asks for it, other Python
            code (tests, notebooks) keeps its own handling of the signals.
    """
    run = RunFolder.from_options(opts)  # a label or a setting that cannot train stops before anything starts
    scheduler = build_scheduler(opts)
    runtime = setup_runtime(opts, autotune=True)
    try:
        with run_start(opts, run, runtime) as start:
            if start.complete:
                logger.log(start.complete)
            else:
                _train(opts, runtime, run, start, scheduler, handle_signals)
        return run.path
    finally:
        logger.remove_file()
        cleanup(runtime)
