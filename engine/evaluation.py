"""The evaluation loop shared by validation during training and by the evaluation scripts."""
from __future__ import annotations

from typing import Any, Callable, List, Optional

import torch
import torch.distributed as dist
from torch import Tensor, nn

from engine.loop_helpers import detach_float, forward_model, to_device
from engine.progress import progress_bar
from metrics import Statistics
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
    """
    was_training = model.training
    model.eval()
    if criterion is not None:
        criterion.eval()
    stats = Statistics(metric_names, opts)
    zero = torch.zeros(())
    seen = 0
    try:
        for batch in progress_bar(loader, description, runtime.is_main):
            if batch is None:
                continue
            images = to_device(batch["image"], runtime.device)
            if channels_last and isinstance(images, torch.Tensor):
                images = images.contiguous(memory_format=torch.channels_last)
            target = to_device(batch.get("label"), runtime.device)
            with runtime.autocast():
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
