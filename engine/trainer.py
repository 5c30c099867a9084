"""The training loop, shared by every task: the model, loss and metrics carry the task."""
from __future__ import annotations

import json
import math
import os
import sys
import time
from contextlib import nullcontext
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from cvnets import EMA
from data.loaders import worker_death
from engine.epoch_checkpoints import EpochCheckpoints
from engine.evaluation import evaluate
from engine.loop_helpers import detach_float, format_duration, forward_model, to_device
from engine.preemption import Preemption, signal_name
from engine.progress import progress_bar
from engine.resume_checkpoint import ResumeState, make_checkpoint
from engine.run_folder import RunFolder
from metrics import Statistics
from optim import BaseScheduler
from utils import logger
from utils.distributed import all_gather, unwrap
from utils.errors import ParcError, TrainingError, TrainingInterrupted
from utils.io import write_text
from utils.random_state import capture_rng_state, restore_rng_state
from utils.runtime import Runtime


def metric_names(opts: Any) -> List[str]:
    names = list(getattr(opts, "stats.name") or ["loss"])
    for required in ("loss", getattr(opts, "stats.checkpoint_metric")):
        if required not in names:
            names.append(required)
    return names


class Trainer:
    """Runs the epochs of a configured run: training steps, validation (of the EMA too),
    checkpoints and metrics, stopping cleanly on SIGTERM / SIGUSR1."""

    def __init__(self, opts: Any, runtime: Runtime, model: nn.Module, criterion: nn.Module,
                 optimizer: torch.optim.Optimizer, scheduler: BaseScheduler, train_loader: Any, val_loader: Any,
                 train_sampler: Any, run: RunFolder, ema: Optional[EMA] = None,
                 scaler: Optional[torch.amp.GradScaler] = None, state: Optional[ResumeState] = None,
                 batch_mixing: Optional[Callable[[Tensor, Tensor], Tuple[Tensor, Tensor]]] = None) -> None:
        self.opts, self.runtime = opts, runtime
        self.batch_mixing = batch_mixing  # MixUp / CutMix of training batches (soft targets)
        self.model, self.criterion, self.optimizer, self.scheduler = model, criterion, optimizer, scheduler
        self.train_loader, self.val_loader, self.train_sampler = train_loader, val_loader, train_sampler
        self.ema = ema
        self.scaler = scaler or torch.amp.GradScaler("cuda", enabled=False)
        self.run_folder = run
        self.metric_names = metric_names(opts)
        self.ckpt_metric = getattr(opts, "stats.checkpoint_metric")
        self.checkpoints = EpochCheckpoints(run, int(getattr(opts, "common.k_best_checkpoints")),
                                            bool(getattr(opts, "stats.checkpoint_metric_max")))
        self.state = state or ResumeState()
        initial = self.checkpoints.initial_best()
        self.best_metric = initial if self.state.best_metric is None else self.state.best_metric
        self.ema_best_metric = initial if self.state.ema_best_metric is None else self.state.ema_best_metric
        self.iterations = self.state.iterations
        self.history: List[Dict[str, Any]] = list(self.state.history)
        self.max_epochs = int(getattr(opts, "scheduler.max_epochs") or 10 ** 9)
        self.iteration_based = bool(getattr(opts, "scheduler.is_iteration_based"))
        self.max_iterations = getattr(opts, "scheduler.max_iterations")
        self.log_freq = max(1, int(getattr(opts, "common.log_freq")))
        self.grad_clip = getattr(opts, "common.grad_clip")
        self.channels_last = bool(getattr(opts, "common.channels_last"))
        self.stop = Preemption()
        self.position = "the start"  # where training is, for the message of a stop
        self.writer = self._tensorboard() if runtime.is_main else None

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional at run time
            logger.warning("tensorboard is not installed: no TensorBoard logs are written")
            return None
        return SummaryWriter(log_dir=str(self.run_folder.tb_logs))

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

    def _step(self, batch: Dict[str, Any], epoch: int, sync_now: bool) -> Tuple[Any, Any, torch.Tensor, int, float]:
        """One forward/backward (and, when ``sync_now``, the optimizer step): ``(prediction,
        target, loss, batch size, learning rate)``."""
        images = to_device(batch["image"], self.runtime.device)  # a tensor, or a list of differently sized ones
        target = to_device(batch["label"], self.runtime.device)
        if self.batch_mixing is not None:
            images, target = self.batch_mixing(images, target)
        if self.channels_last and isinstance(images, torch.Tensor):
            images = images.contiguous(memory_format=torch.channels_last)
        lr = self.scheduler.update_lr(self.optimizer, epoch, self.iterations)
        context = self.model.no_sync() if (not sync_now and hasattr(self.model, "no_sync")) else nullcontext()
        with context:
            with self.runtime.autocast():
                prediction = forward_model(self.model, images, target)
                loss = self.criterion(prediction, target)
            if not torch.isfinite(loss.detach()):
                last = self.run_folder.checkpoint
                where = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was written yet"
                raise TrainingError(f"the training loss became {loss.item()} at epoch {epoch}, iteration "
                                    f"{self.iterations}; training stopped ({where}); try a lower learning rate "
                                    f"or gradient clipping (--common.grad-clip)")
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
        return prediction, target, loss.detach(), len(images), lr

    def train_epoch(self, epoch: int, start_step: int = 0) -> Dict[str, float]:
        self.model.train()
        self.criterion.train()
        stats = Statistics(self.metric_names, self.opts)
        if start_step and self.state.epoch_stats:
            stats.load_state_dict(self.state.epoch_stats)
        accum = self._accumulation(epoch)
        self.optimizer.zero_grad(set_to_none=True)
        start, seen, total = time.perf_counter(), 0, start_step + len(self.train_loader)
        progress = progress_bar(self.train_loader, f"epoch {epoch}", self.runtime.is_main, initial=start_step,
                                total=total)
        for step, batch in enumerate(progress, start=start_step):
            if self._done():
                break
            self.position = f"epoch {epoch}, step {step + 1} of {total}"
            sync_now = (step + 1) % accum == 0
            if batch is not None:
                prediction, target, loss, n, lr = self._step(batch, epoch, sync_now)
                seen += n
                stats.update(detach_float(prediction), target, loss, n)
                self.iterations += 1
                if self.runtime.is_main:
                    progress.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.2e}", refresh=False)
                    if step % self.log_freq == 0:
                        rate = seen * self.runtime.world_size / max(time.perf_counter() - start, 1e-9)
                        logger.log(f"epoch {epoch} [{step + 1}/{total}] {stats.summary()} | lr {lr:.3e} | "
                                   f"{rate:.1f} img/s | elapsed {format_duration(time.perf_counter() - start)}")
                        self._scalars("train_iter", {"loss": float(loss), "lr": lr}, self.iterations)
            if sync_now:
                signum = self.stop.requested(self.runtime)
                if signum and step + 1 < total:
                    self._save_interrupted(epoch, step + 1, stats)
                    raise self._stopped_by(signum, f"epoch {epoch}, step {step + 1} of {total}")
        return stats.sync().values()

    def validate(self, model: nn.Module, epoch: int, tag: str) -> Dict[str, float]:
        self.position = f"the {tag} of epoch {epoch}"
        stats = evaluate(model, self.val_loader, self.criterion, self.metric_names, self.runtime,
                         description=f"{tag} {epoch}", opts=self.opts, channels_last=self.channels_last)
        return stats.values()

    def run(self) -> None:
        """Train the epochs left; a data loading process that dies stops the run with one line
        saying how to continue it."""
        try:
            self._run_epochs()
        except RuntimeError as exc:
            death = worker_death(exc)
            if death is None:
                raise
            raise self._stopped(TrainingError, f"because the {death} at {self.position}") from None

    def _run_epochs(self) -> None:
        copy_at_epoch = int(getattr(self.opts, "ema.copy_at_epoch"))
        started = time.perf_counter()
        for epoch in range(self.state.start_epoch):  # resolution growth of the epochs done
            self.train_sampler.update_scales(epoch)
        if self.runtime.is_main:
            self._write_metrics_file()
        if self.state.rng is not None:
            restore_rng_state(self.state.rng)
        logger.log(f"Training epochs {self.state.start_epoch}..{self.max_epochs - 1}; results in {self.run_folder}")
        try:
            with self.stop:
                for epoch in range(self.state.start_epoch, self.max_epochs):
                    if self._done():
                        break
                    start_step = self.state.start_step if epoch == self.state.start_epoch else 0
                    self.train_sampler.set_epoch(epoch, start_step)
                    self.train_sampler.update_scales(epoch)
                    train_values = self.train_epoch(epoch, start_step)
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
                    signum = self.stop.requested(self.runtime)
                    if signum and epoch + 1 < self.max_epochs and not self._done():
                        raise self._stopped_by(signum, f"the end of epoch {epoch}")
        finally:
            if self.writer is not None:
                self.writer.close()
        logger.log(f"Training took {format_duration(time.perf_counter() - started)}; best "
                   f"{self.ckpt_metric}: {self.best_metric:.4f}")

    def _checkpoint(self, last_epoch: int, resume_step: int, stats: Optional[Statistics] = None) -> Dict[str, Any]:
        """Everything a resumed run needs; collective (every rank's generators are gathered)."""
        rank_state: Dict[str, Any] = {"rng": capture_rng_state()}
        if stats is not None:
            rank_state["stats"] = stats.state_dict()
        return make_checkpoint(unwrap(self.model), self.optimizer, self.scaler, self.criterion, last_epoch=last_epoch,
                               resume_step=resume_step, iterations=self.iterations, best_metric=self.best_metric,
                               history=self.history, rank_states=all_gather(self.runtime, rank_state), ema=self.ema,
                               ema_best_metric=self.ema_best_metric)

    def _save_interrupted(self, epoch: int, steps_done: int, stats: Statistics) -> None:
        checkpoint = self._checkpoint(epoch - 1, steps_done, stats)
        if self.runtime.is_main:
            self.checkpoints.save_resume(checkpoint)

    def _stopped_by(self, signum: int, where: str) -> TrainingInterrupted:
        """The stop on ``signum`` at ``where``, after ``checkpoint.pt`` saved the state there."""
        return self._stopped(lambda message: TrainingInterrupted(message, signum),
                             f"by {signal_name(signum)} at {where}", saved_here=True)

    def _stopped(self, error: Callable[[str], ParcError], reason: str, saved_here: bool = False) -> ParcError:
        """Log why training stopped (in ``train.log`` too) and return ``error`` with one line that
        says so, where the state to continue from is and the command that continues the run."""
        logger.log(f"Training stopped {reason}")
        command = " ".join([os.path.basename(sys.executable), *sys.argv])
        if "--common.auto-resume" not in sys.argv:
            command += " --common.auto-resume"
        saved = self.run_folder.checkpoint
        if saved_here:
            state = f"{saved} holds its state"
        elif saved.is_file():
            state = f"{saved} holds the last saved state"
        else:
            state = "no checkpoint was written yet"
        return error(f"training stopped {reason}; {state}; continue with: {command}")

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
        record: Dict[str, Any] = {"epoch": epoch, "iterations": self.iterations, "train": train_values,
                                  "val": val_values, "lr": BaseScheduler.current_lrs(self.optimizer)[0]}
        if ema_values is not None:
            record["val_ema"] = ema_values
        self.history.append(record)
        checkpoint = self._checkpoint(epoch, 0)
        if not self.runtime.is_main:
            return
        self.checkpoints.save_epoch(checkpoint, score, is_best, ema_score, is_ema_best)
        self._write_metrics_file()
        logger.log(f"epoch {epoch}: checkpoints saved in {self.run_folder}" + (" (new best)" if is_best else ""))
        self._scalars("train", train_values, epoch)
        self._scalars("val", val_values, epoch)
        if ema_values is not None:
            self._scalars("val_ema", ema_values, epoch)
        self._scalars("lr", {f"group_{i}": lr for i, lr in enumerate(BaseScheduler.current_lrs(self.optimizer))},
                      epoch)

    def _write_metrics_file(self) -> None:
        """``metrics.jsonl`` from the finished epochs' records (those ``checkpoint.pt`` holds)."""
        write_text("".join(json.dumps(record) + "\n" for record in self.history), self.run_folder.metrics)


def _fmt(values: Dict[str, float]) -> str:
    return ", ".join(f"{k}: {v:.4f}" for k, v in values.items())
