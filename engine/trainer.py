"""The training loop, shared by every task: the model, loss and metrics carry the task."""
from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from tqdm import tqdm

from cvnets import EMA
from engine.checkpoints import CheckpointManager
from engine.evaluation import evaluate
from engine.utils import detach_float, format_duration, to_device
from metrics import Statistics
from optim import BaseScheduler
from utils import logger
from utils.distributed import Runtime, unwrap
from utils.errors import TrainingError


def metric_names(opts: Any) -> List[str]:
    names = list(getattr(opts, "stats.name") or ["loss"])
    for required in ("loss", getattr(opts, "stats.checkpoint_metric")):
        if required not in names:
            names.append(required)
    return names


class Trainer:
    def __init__(self, opts: Any, runtime: Runtime, model: nn.Module, criterion: nn.Module,
                 optimizer: torch.optim.Optimizer, scheduler: BaseScheduler, train_loader: Any, val_loader: Any,
                 train_sampler: Any, exp_dir: Path, ema: Optional[EMA] = None,
                 scaler: Optional[torch.amp.GradScaler] = None, start_epoch: int = 0, start_iteration: int = 0,
                 best_metric: Optional[float] = None, ema_best_metric: Optional[float] = None,
                 batch_mixing: Optional[Callable[[Tensor, Tensor], Tuple[Tensor, Tensor]]] = None) -> None:
        self.opts, self.runtime = opts, runtime
        self.batch_mixing = batch_mixing  # MixUp / CutMix of training batches (soft targets)
        self.model, self.criterion, self.optimizer, self.scheduler = model, criterion, optimizer, scheduler
        self.train_loader, self.val_loader, self.train_sampler = train_loader, val_loader, train_sampler
        self.ema = ema
        self.scaler = scaler or torch.amp.GradScaler("cuda", enabled=False)
        self.exp_dir = Path(exp_dir)
        self.metric_names = metric_names(opts)
        self.ckpt_metric = getattr(opts, "stats.checkpoint_metric")
        self.checkpoints = CheckpointManager(self.exp_dir, int(getattr(opts, "common.k_best_checkpoints")),
                                             bool(getattr(opts, "stats.checkpoint_metric_max")))
        self.best_metric = self.checkpoints.initial_best() if best_metric is None else best_metric
        self.ema_best_metric = self.checkpoints.initial_best() if ema_best_metric is None else ema_best_metric
        self.start_epoch, self.iterations = start_epoch, start_iteration
        self.max_epochs = int(getattr(opts, "scheduler.max_epochs") or 10 ** 9)
        self.iteration_based = bool(getattr(opts, "scheduler.is_iteration_based"))
        self.max_iterations = getattr(opts, "scheduler.max_iterations")
        self.log_freq = max(1, int(getattr(opts, "common.log_freq")))
        self.grad_clip = getattr(opts, "common.grad_clip")
        self.channels_last = bool(getattr(opts, "common.channels_last"))
        self.writer = self._tensorboard() if runtime.is_main else None

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional at run time
            logger.warning("tensorboard is not installed: no TensorBoard logs are written")
            return None
        return SummaryWriter(log_dir=str(self.exp_dir / "tb_logs"))

    def _scalars(self, prefix: str, values: Dict[str, float], step: int) -> None:
        if self.writer is not None:
            for name, value in values.items():
                if not math.isnan(value):
                    self.writer.add_scalar(f"{prefix}/{name}", value, step)

    def _accumulation(self, epoch: int) -> int:
        accum = int(getattr(self.opts, "common.accum_freq"))
        return max(1, accum) if epoch > int(getattr(self.opts, "common.accum_after_epoch")) else 1

    def _done(self) -> bool:
        return self.iteration_based and self.max_iterations is not None and self.iterations >= self.max_iterations

    def train_epoch(self, epoch: int) -> Dict[str, float]:
        self.model.train()
        self.criterion.train()
        stats = Statistics(self.metric_names, self.opts)
        accum = self._accumulation(epoch)
        self.optimizer.zero_grad(set_to_none=True)
        start, seen = time.perf_counter(), 0
        progress = tqdm(self.train_loader, desc=f"epoch {epoch}", disable=not self.runtime.is_main,
                        dynamic_ncols=True, leave=False)
        for step, batch in enumerate(progress):
            if self._done():
                break
            if batch is None:
                continue
            images = batch["image"].to(self.runtime.device, non_blocking=True)
            target = to_device(batch["label"], self.runtime.device)
            if self.batch_mixing is not None:
                images, target = self.batch_mixing(images, target)
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            lr = self.scheduler.update_lr(self.optimizer, epoch, self.iterations)
            sync_now = (step + 1) % accum == 0
            context = self.model.no_sync() if (not sync_now and hasattr(self.model, "no_sync")) else nullcontext()
            with context:
                with self.runtime.autocast():
                    prediction = self.model(images)
                    loss = self.criterion(prediction, target)
                if not torch.isfinite(loss.detach()):
                    raise TrainingError(
                        f"the training loss became {loss.item()} at epoch {epoch}, iteration {self.iterations}; "
                        f"training stopped (the last good checkpoint is {self.checkpoints.resume_path}); "
                        f"try a lower learning rate or gradient clipping (--common.grad-clip)")
                self.scaler.scale(loss).backward()
            if sync_now:
                if self.grad_clip:
                    self.scaler.unscale_(self.optimizer)
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm=float(self.grad_clip))
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
                if self.ema is not None:
                    self.ema.update(self.model)
            n = images.shape[0]
            seen += n
            stats.update(detach_float(prediction), target, loss.detach(), n)
            self.iterations += 1
            if self.runtime.is_main:
                progress.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.2e}")
                if step % self.log_freq == 0:
                    rate = seen * self.runtime.world_size / max(time.perf_counter() - start, 1e-9)
                    logger.log(f"epoch {epoch} [{step + 1}/{len(self.train_loader)}] {stats.summary()} | "
                               f"lr {lr:.3e} | {rate:.1f} img/s | elapsed {format_duration(time.perf_counter() - start)}")
                    self._scalars("train_iter", {"loss": float(loss.detach()), "lr": lr}, self.iterations)
        return stats.sync().values()

    def validate(self, model: nn.Module, epoch: int, tag: str) -> Dict[str, float]:
        stats = evaluate(model, self.val_loader, self.criterion, self.metric_names, self.runtime,
                         description=f"{tag} {epoch}", opts=self.opts, channels_last=self.channels_last)
        return stats.values()

    def run(self) -> None:
        copy_at_epoch = int(getattr(self.opts, "ema.copy_at_epoch"))
        started = time.perf_counter()
        if self.runtime.is_main and self.start_epoch == 0:
            (self.exp_dir / "metrics.jsonl").unlink(missing_ok=True)
        logger.log(f"Training epochs {self.start_epoch}..{self.max_epochs - 1}; results in {self.exp_dir}")
        try:
            for epoch in range(self.start_epoch, self.max_epochs):
                if self._done():
                    break
                self.train_sampler.set_epoch(epoch)
                self.train_sampler.update_scales(epoch)
                train_values = self.train_epoch(epoch)
                val_values = self.validate(self.model, epoch, "validation")
                logger.log(f"epoch {epoch} training: {_fmt(train_values)}")
                logger.log(f"epoch {epoch} validation: {_fmt(val_values)}")
                if epoch == copy_at_epoch and self.ema is not None:
                    unwrap(self.model).load_state_dict(self.ema.state_dict())
                    logger.log(f"epoch {epoch}: copied the EMA weights into the model")
                    val_values = self.validate(self.model, epoch, "validation")
                ema_values = None
                if self.ema is not None:
                    ema_values = self.validate(self.ema.ema_model, epoch, "validation (EMA)")
                    logger.log(f"epoch {epoch} validation (EMA): {_fmt(ema_values)}")
                self._end_epoch(epoch, train_values, val_values, ema_values)
        finally:
            if self.writer is not None:
                self.writer.close()
        logger.log(f"Training took {format_duration(time.perf_counter() - started)}; best "
                   f"{self.ckpt_metric}: {self.best_metric:.4f}")

    def _end_epoch(self, epoch: int, train_values: Dict[str, float], val_values: Dict[str, float],
                   ema_values: Optional[Dict[str, float]]) -> None:
        score = val_values[self.ckpt_metric]
        is_best = self.checkpoints.is_better(score, self.best_metric)
        if is_best:
            self.best_metric = score
        ema_score, is_ema_best = None, False
        if ema_values is not None:
            ema_score = ema_values[self.ckpt_metric]
            is_ema_best = self.checkpoints.is_better(ema_score, self.ema_best_metric)
            if is_ema_best:
                self.ema_best_metric = ema_score
        if self.runtime.is_main:
            self.checkpoints.save_epoch(
                epoch=epoch, iterations=self.iterations, model_state=unwrap(self.model).state_dict(),
                optimizer_state=self.optimizer.state_dict(), scaler_state=self.scaler.state_dict(), score=score,
                best_metric=self.best_metric, is_best=is_best,
                ema_state=self.ema.state_dict() if self.ema is not None else None, ema_score=ema_score,
                ema_best_metric=self.ema_best_metric, is_ema_best=is_ema_best)
            logger.log(f"epoch {epoch}: checkpoints saved in {self.exp_dir}"
                       + (" (new best)" if is_best else ""))
            self._scalars("train", train_values, epoch)
            self._scalars("val", val_values, epoch)
            if ema_values is not None:
                self._scalars("val_ema", ema_values, epoch)
            self._scalars("lr", {f"group_{i}": lr for i, lr in
                                 enumerate(BaseScheduler.current_lrs(self.optimizer))}, epoch)
            record = {"epoch": epoch, "iterations": self.iterations, "train": train_values, "val": val_values}
            if ema_values is not None:
                record["val_ema"] = ema_values
            with open(self.exp_dir / "metrics.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


def _fmt(values: Dict[str, float]) -> str:
    return ", ".join(f"{k}: {v:.4f}" for k, v in values.items())
