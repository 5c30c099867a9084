"""The training loop, shared by every task: the model, loss and metrics carry the task."""
from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from cvnets import EMA
from data.loaders import worker_death
from engine.compilation import EVALUATION_SHAPES, GRAPHS, allow_graphs, compiled_graphs
from engine.epoch_checkpoints import EpochCheckpoints
from engine.epoch_timing import EpochTimer
from engine.evaluation import evaluate
from engine.loop_helpers import BatchInputs, detach_float, format_duration
from engine.preemption import Preemption, signal_name
from engine.progress import TrainingProgress
from engine.resume_checkpoint import ResumeState, make_checkpoint
from engine.run_folder import RunFolder
from engine.training_step import TrainingStep
from metrics import Statistics
from optim import BaseScheduler
from utils import logger
from utils.distributed import all_gather, unwrap
from utils.errors import ParcError, TrainingError, TrainingInterrupted
from utils.io import write_text
from utils.random_state import capture_rng_state, restore_rng_state
from utils.runtime import Runtime, busy_machine

def metric_names(opts: Any) -> List[str]:
    names = list(getattr(opts, "stats.name") or ["loss"])
    for required in ("loss", getattr(opts, "stats.checkpoint_metric")):
        if required not in names:
            names.append(required)
    return names


class Trainer:
    """Runs the epochs of a configured run: training steps, validation (of the EMA too),
    checkpoints and metrics, and where each epoch's time went; with ``handle_signals``, stopping
    cleanly on SIGTERM / SIGUSR1 (see :mod:`engine.preemption`)."""

    def __init__(self, opts: Any, runtime: Runtime, model: nn.Module, criterion: nn.Module,
                 optimizer: torch.optim.Optimizer, scheduler: BaseScheduler, train_loader: Any, val_loader: Any,
                 train_sampler: Any, run: RunFolder, ema: Optional[EMA] = None,
                 scaler: Optional[torch.amp.GradScaler] = None, state: Optional[ResumeState] = None,
                 batch_mixing: Optional[Callable[[Tensor, Tensor], Tuple[Tensor, Tensor]]] = None,
                 handle_signals: bool = False) -> None:
        self.opts, self.runtime = opts, runtime
        self.model, self.criterion, self.optimizer, self.scheduler = model, criterion, optimizer, scheduler
        self.train_loader, self.val_loader, self.train_sampler = train_loader, val_loader, train_sampler
        self.ema = ema
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
        self.channels_last = bool(getattr(opts, "common.channels_last"))
        self.step = TrainingStep(model, criterion, optimizer, runtime, BatchInputs(opts, self.channels_last),
                                 scaler=scaler, batch_mixing=batch_mixing, grad_clip=getattr(opts, "common.grad_clip"),
                                 ema=ema, check_loss=self._check_loss)
        self.scaler = self.step.scaler
        self.stop = Preemption(enabled=handle_signals)
        self.position = "the start"  # where training is, for the message of a stop
        self.epoch = 0
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

    def _check_loss(self, loss: Tensor) -> None:
        """Stop with a message when the training loss is not finite."""
        if not torch.isfinite(loss):
            last = self.run_folder.checkpoint
            where = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was written yet"
            raise TrainingError(f"the training loss became {loss.item()} at epoch {self.epoch}, iteration "
                                f"{self.iterations}; training stopped ({where}); try a lower learning rate "
                                f"or gradient clipping (--common.grad-clip)")

    def train_epoch(self, epoch: int, start_step: int = 0) -> Dict[str, float]:
        self.epoch = epoch
        self.model.train()
        self.criterion.train()
        stats = Statistics(self.metric_names, self.opts)
        if start_step and self.state.epoch_stats:
            stats.load_state_dict(self.state.epoch_stats)
        accum = self._accumulation(epoch)
        self.optimizer.zero_grad(set_to_none=True)
        timer = self.step.timer = EpochTimer()
        progress = TrainingProgress(epoch, start_step, start_step + len(self.train_loader), self.runtime.is_main,
                                    self.log_freq, self.runtime.world_size,
                                    lambda loss, lr: self._scalars("train_iter", {"loss": loss, "lr": lr},
                                                                   self.iterations))
        batches = iter(self.train_loader)
        timer.start_loop()
        try:
            for step in range(start_step, progress.total):
                if self._done():
                    break
                with timer.section("data"):
                    batch = next(batches, StopIteration)
                if batch is StopIteration:
                    break
                self.position = f"epoch {epoch}, step {step + 1} of {progress.total}"
                sync_now = (step + 1) % accum == 0
                if batch is not None:
                    lr = self.scheduler.update_lr(self.optimizer, epoch, self.iterations)
                    prediction, target, loss, n = self.step(batch, sync_now)
                    with timer.section("metrics"):
                        stats.update(detach_float(prediction), target, loss, n)
                    self.iterations += 1
                    with timer.section("logging"):
                        progress.update(step, stats, loss, lr, n)
                if sync_now:
                    signum = self.stop.requested(self.runtime)
                    if signum and step + 1 < progress.total:
                        with timer.section("checkpoint"):
                            self._save_interrupted(epoch, step + 1, stats)
                        raise self._stopped_by(signum, f"epoch {epoch}, step {step + 1} of {progress.total}")
        finally:
            progress.close()  # clears its line, before any message of a stop
        timer.end_loop()
        return stats.sync().values()

    def validate(self, model: nn.Module, epoch: int, tag: str) -> Dict[str, float]:
        self.position = f"the {tag} of epoch {epoch}"
        with self.step.timer.section("validation"):
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
        started = time.perf_counter()
        for epoch in range(self.state.start_epoch):  # resolution growth of the epochs done
            self.train_sampler.update_scales(epoch)
        if self.runtime.is_main:
            self._write_metrics_file()
            busy = busy_machine()
            if busy:
                logger.warning(busy)
        if self.state.rng is not None:
            restore_rng_state(self.state.rng)
        logger.log(f"Training epochs {self.state.start_epoch}..{self.max_epochs - 1}; results in {self.run_folder}")
        try:
            with self.stop:
                for epoch in range(self.state.start_epoch, self.max_epochs):
                    if self._done():
                        break
                    self._epoch(epoch)
                    signum = self.stop.requested(self.runtime)
                    if signum and epoch + 1 < self.max_epochs and not self._done():
                        raise self._stopped_by(signum, f"the end of epoch {epoch}")
        finally:
            if self.writer is not None:
                self.writer.close()
        logger.log(f"Training took {format_duration(time.perf_counter() - started)}; best "
                   f"{self.ckpt_metric}: {self.best_metric:.4f}")

    def _epoch(self, epoch: int) -> None:
        """Train one epoch, validate the model (and its EMA), save the checkpoints, log the times."""
        start_step = self.state.start_step if epoch == self.state.start_epoch else 0
        self.train_sampler.set_epoch(epoch, start_step)
        self.train_sampler.update_scales(epoch)
        if self.runtime.compile is not None:
            shapes = len(getattr(self.train_sampler, "pairs", [None]))
            allow_graphs(compiled_graphs() + shapes + EVALUATION_SHAPES * (2 if self.ema is not None else 1))
        train_values = self.train_epoch(epoch, start_step)
        val_values = self.validate(self.model, epoch, "validation")
        logger.log(f"epoch {epoch} training: {_fmt(train_values)}")
        logger.log(f"epoch {epoch} validation: {_fmt(val_values)}")
        if epoch == int(getattr(self.opts, "ema.copy_at_epoch")) and self.ema is not None:
            unwrap(self.model).load_state_dict(self.ema.state_dict())
            logger.log(f"epoch {epoch}: copied the EMA weights into the model")
            val_values = self.validate(self.model, epoch, "validation")
        ema_values = None
        if self.ema is not None:
            ema_values = self.validate(self.ema.ema_model, epoch, "validation (EMA)")
            logger.log(f"epoch {epoch} validation (EMA): {_fmt(ema_values)}")
        with self.step.timer.section("checkpoints"):
            self._end_epoch(epoch, train_values, val_values, ema_values)
        logger.log(self.step.timer.report(epoch))
        if self.runtime.compile is not None:
            logger.log(GRAPHS.summary())

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
