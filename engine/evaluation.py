"""The evaluation loop shared by validation during training and by the evaluation scripts."""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, List, Optional

import torch
import torch.distributed as dist
from torch import Tensor, nn

from engine.compilation import GRAPHS, compile_model
from engine.loop_helpers import BatchInputs, detach_float, format_duration, forward_model, to_device
from engine.progress import ProgressClock, progress_bar
from metrics import Statistics
from utils import logger
from utils.errors import DataError
from utils.runtime import Runtime

@torch.no_grad()
def evaluate(model: nn.Module, loader: Any, criterion: Optional[nn.Module], metric_names: List[str],
             runtime: Runtime, description: str = "validation", opts: Any = None,
             channels_last: bool = False, on_batch: Optional[Callable[[dict, Any], None]] = None,
             forward: Optional[Callable[[nn.Module, Tensor], Any]] = None) -> Statistics:
    """Run ``forward(model, images)`` (by default the model itself, given the targets when it takes
    them) over ``loader`` and return the metrics, summed over all ranks.

    ``criterion`` (when given, and the batches carry labels) gives the loss. ``on_batch(batch,
    prediction)`` lets a caller collect predictions (COCO detections, confusion matrices, masks).
    A pass in which no rank got a single readable sample is a :class:`DataError`: its metrics would
    mean nothing.

    The loaders' uint8 images are normalised on the device by ``opts``' input convention; with
    ``runtime.compile``, ``model`` is compiled (in place) first. A progress line is logged at least
    every 30 seconds.
    """
    was_training = model.training
    model.eval()
    if criterion is not None:
        criterion.eval()
    if runtime.compile is not None:  # unless training compiled it: images of their own sizes share a graph
        compile_model(model, runtime.compile, dynamic=None)
    inputs = BatchInputs(opts, channels_last)
    stats = Statistics(metric_names, opts)
    zero = torch.zeros(())
    seen, clock, batches = 0, ProgressClock(), len(loader) if hasattr(loader, "__len__") else "?"
    try:
        for index, batch in enumerate(progress_bar(loader, description, runtime.is_main)):
            if runtime.is_main and clock.due():
                logger.log(f"{description}: batch {index + 1} of {batches}, {seen} images, elapsed "
                           f"{format_duration(clock.elapsed())}")
            if batch is None:
                continue
            images = inputs.layout(inputs(batch, runtime.device))
            target = to_device(batch.get("label"), runtime.device)
            watch = GRAPHS.watch(model, images, "evaluation") if runtime.compile is not None else nullcontext()
            with watch, runtime.autocast():
                prediction = forward(model, images) if forward is not None else forward_model(model, images, target)
                loss = criterion(prediction, target) if criterion is not None and target is not None else zero
            prediction = detach_float(prediction)
            stats.update(prediction, target, loss, len(images))
            seen += len(images)
            if on_batch is not None:
                on_batch(batch, prediction)
    finally:
        model.train(was_training)
    if _summed(seen, runtime) == 0:
        raise DataError(f"{description}: no usable sample, every one was skipped as unreadable (the warnings "
                        f"above name the files)")
    return stats.sync()


def _summed(count: int, runtime: Runtime) -> int:
    """``count`` summed over the ranks of a distributed run."""
    if not (runtime.distributed and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return count
    total = torch.tensor([count], dtype=torch.int64, device=runtime.device)
    dist.all_reduce(total)
    return int(total.item())
