"""One training iteration, as the trainer runs it and the step benchmark times it."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor, nn

from cvnets import EMA
from engine.compilation import GRAPHS
from engine.epoch_timing import EpochTimer
from engine.loop_helpers import BatchInputs, forward_model, to_device
from utils.runtime import Runtime

Mixing = Callable[[Tensor, Tensor], Tuple[Tensor, Tensor]]


class TrainingStep:
    """A batch's model inputs (:class:`BatchInputs`), MixUp / CutMix, forward pass and loss under
    autocast, the scaled backward pass and, when a gradient accumulation is complete, gradient
    clipping, the optimizer step and the EMA update. The learning rate is the caller's to set.

    Args:
        model: the model (DDP-wrapped in a distributed run; compiled or not).
        criterion: the loss.
        optimizer: its optimizer.
        runtime: device, autocast dtype, compile settings.
        inputs: makes the model inputs of a batch.
        scaler: the gradient scaler (float16 mixed precision).
        batch_mixing: MixUp / CutMix of the batch (soft targets), if any.
        grad_clip: the maximal gradient norm, if any.
        ema: the EMA of the weights, updated after each optimizer step, if any.
        check_loss: called with the detached loss before the backward pass (to stop on a non-finite one).
    """

    def __init__(self, model: nn.Module, criterion: nn.Module, optimizer: torch.optim.Optimizer, runtime: Runtime,
                 inputs: BatchInputs, scaler: Optional[torch.amp.GradScaler] = None,
                 batch_mixing: Optional[Mixing] = None, grad_clip: Optional[float] = None, ema: Optional[EMA] = None,
                 check_loss: Optional[Callable[[Tensor], None]] = None) -> None:
        self.model, self.criterion, self.optimizer, self.runtime = model, criterion, optimizer, runtime
        self.inputs, self.batch_mixing, self.grad_clip, self.ema = inputs, batch_mixing, grad_clip, ema
        self.scaler = scaler or torch.amp.GradScaler("cuda", enabled=False)
        self.check_loss = check_loss
        self.timer = EpochTimer()

    def __call__(self, batch: Dict[str, Any], sync_now: bool = True) -> Tuple[Any, Any, Tensor, int]:
        """Train on ``batch``; with ``sync_now``, also step the optimizer. Returns ``(prediction,
        target, detached loss, batch size)``."""
        timer = self.timer
        with timer.section("inputs"):
            images = self.inputs(batch, self.runtime.device)
            target = to_device(batch["label"], self.runtime.device)
            if self.batch_mixing is not None:
                images, target = self.batch_mixing(images, target)
            images = self.inputs.layout(images)
        watch = GRAPHS.watch(self.model, images, "training") if self.runtime.compile is not None else nullcontext()
        no_sync = not sync_now and hasattr(self.model, "no_sync")
        with self.model.no_sync() if no_sync else nullcontext():
            with timer.section("forward"):
                with watch, self.runtime.autocast():
                    prediction = forward_model(self.model, images, target)
                    loss = self.criterion(prediction, target)
                if self.check_loss is not None:
                    self.check_loss(loss.detach())
            with timer.section("backward"):
                self.scaler.scale(loss).backward()
        if sync_now:
            with timer.section("optimizer"):
                self.optimizer_step()
            if self.ema is not None:
                with timer.section("ema"):
                    self.ema.update(self.model)
        return prediction, target, loss.detach(), len(images)

    def optimizer_step(self) -> None:
        """Clip the gradients (when asked), step the optimizer through the scaler, clear the gradients."""
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm=float(self.grad_clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
