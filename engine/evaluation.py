"""The evaluation loop shared by validation during training and by the evaluation scripts."""
from __future__ import annotations

from typing import Any, Callable, List, Optional

import torch
from torch import nn
from tqdm import tqdm

from engine.utils import detach_float, to_device
from metrics import Statistics
from utils.distributed import Runtime


@torch.no_grad()
def evaluate(model: nn.Module, loader: Any, criterion: Optional[nn.Module], metric_names: List[str],
             runtime: Runtime, description: str = "validation", opts: Any = None,
             channels_last: bool = False,
             on_batch: Optional[Callable[[dict, Any], None]] = None) -> Statistics:
    """Run ``model`` over ``loader`` and return the metrics, summed over all ranks.

    ``on_batch(batch, prediction)`` lets a caller collect predictions (e.g. for COCO AP).
    """
    was_training = model.training
    model.eval()
    if criterion is not None:
        criterion.eval()
    stats = Statistics(metric_names, opts)
    zero = torch.zeros(())
    try:
        for batch in tqdm(loader, desc=description, disable=not runtime.is_main, dynamic_ncols=True, leave=False):
            if batch is None:
                continue
            images = batch["image"].to(runtime.device, non_blocking=True)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            target = to_device(batch.get("label"), runtime.device)
            with runtime.autocast():
                prediction = model(images)
                loss = criterion(prediction, target) if criterion is not None and target is not None else zero
            prediction = detach_float(prediction)
            stats.update(prediction, target, loss, images.shape[0])
            if on_batch is not None:
                on_batch(batch, prediction)
    finally:
        model.train(was_training)
    return stats.sync()
