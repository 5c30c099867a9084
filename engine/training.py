"""Set-up of a training run from its options: run folder, data, model, EMA, loss, optimizer,
schedule, resuming or fine-tuning, distributed wrapping; then the :class:`Trainer`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from cvnets import EMA, get_model
from data import create_train_val_loaders
from data.transforms import build_batch_mixing
from engine import run_folder
from engine.resume import ResumeState, load_resume, restore, resume_path
from engine.trainer import Trainer
from engine.utils import experiment_dir
from loss_fn import build_loss
from optim import BaseScheduler, build_optimizer, build_scheduler
from utils import logger
from utils.charts import write_training_curves
from utils.checkpoint import load_matching, read_checkpoint, state_dict_from
from utils.distributed import Runtime, cleanup, on_main, revert_sync_batchnorm, setup_runtime
from utils.errors import ConfigError
from utils.io import write_json
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


def _start_run_folder(opts: Any, runtime: Runtime, exp_dir: Path, resuming: bool,
                      scheduler: BaseScheduler) -> None:
    """Claim the run folder (rank 0; every rank stops when it refuses) and start ``train.log``."""
    on_main(runtime, lambda: run_folder.claim(exp_dir, resuming, bool(getattr(opts, "common.overwrite"))))
    if runtime.is_main:
        logger.add_file(exp_dir / "train.log")
    logger.log(describe_run(opts, runtime, scheduler))


def _save_run_description(opts: Any, exp_dir: Path, dataset: Any, resumed_at: int) -> None:
    """``config.yaml`` (see :func:`run_folder.save_config`) and, for classification folders, the
    class names in label order (``classes.json``)."""
    path = run_folder.save_config(exp_dir, opts_to_dict(opts), resumed_at)
    logger.log(f"Resolved configuration saved to {path}")
    classes = getattr(dataset, "classes", None)
    if classes:
        write_json(list(classes), exp_dir / "classes.json")


def _batch_mixing(opts: Any) -> Optional[Any]:
    """MixUp / CutMix of the training batches, when a classification config enables them."""
    if getattr(opts, "dataset.category") != "classification":
        return None
    mixing = build_batch_mixing(opts, getattr(opts, "model.classification.n_classes"))
    if mixing is not None:
        logger.log(f"Training batches: {mixing}")
    return mixing


def train(opts: Any) -> Path:
    """Train as ``opts`` describe; returns the experiment folder."""
    runtime = setup_runtime(opts, autotune=True)
    try:
        exp_dir = experiment_dir(opts)
        resume = resume_path(opts, exp_dir)
        checkpoint = load_resume(resume) if resume is not None else None
        scheduler = build_scheduler(opts)
        resuming_here = resume is not None and resume.resolve().parent == exp_dir.resolve()
        _start_run_folder(opts, runtime, exp_dir, resuming_here, scheduler)
        train_loader, val_loader, train_sampler = create_train_val_loaders(opts)
        check_class_count(opts, train_loader.dataset)
        batch_mixing = _batch_mixing(opts)
        model = prepare_model(opts, runtime)
        ema = EMA(model, float(getattr(opts, "ema.momentum"))) if getattr(opts, "ema.enable") else None
        _finetune(opts, model, ema)
        criterion = build_loss(opts).to(runtime.device)
        optimizer = build_optimizer(model, opts)
        scaler = torch.amp.GradScaler("cuda", enabled=runtime.amp_dtype == torch.float16)
        state, resumed = ResumeState(), checkpoint is not None
        if resumed:
            state = restore(checkpoint, resume, runtime, model, optimizer, scaler, ema, criterion)
            del checkpoint  # its states are in the model, optimizer and EMA now: no second copy for the run
        if runtime.is_main:
            _save_run_description(opts, exp_dir, train_loader.dataset, state.start_epoch if resumed else -1)
        if runtime.distributed:
            device_ids = [runtime.local_rank] if runtime.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=device_ids, find_unused_parameters=bool(getattr(opts, "ddp.find_unused_parameters")))
        trainer = Trainer(opts, runtime, model, criterion, optimizer, scheduler, train_loader, val_loader,
                          train_sampler, exp_dir, ema=ema, scaler=scaler, state=state, batch_mixing=batch_mixing)
        trainer.run()
        if runtime.is_main:
            write_training_curves(exp_dir)
        return exp_dir
    finally:
        logger.remove_file()
        cleanup(runtime)

