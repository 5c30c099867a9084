"""The evaluation loop shared by validation during training and by the evaluation scripts."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

import torch
from torch import nn
from tqdm import tqdm

from engine.utils import detach_float, to_device
from metrics import Statistics
from utils.distributed import Runtime


def prepare_evaluation(args: Optional[Sequence[str]], task: str) -> Tuple[Any, Runtime, nn.Module, str, Path]:
    """For an evaluation script: the options, a single-process runtime, the model in eval mode with
    its ``model.<task>.pretrained`` weights, the ``evaluation.<task>.mode`` and the output folder."""
    from cvnets import get_model
    from engine.training import experiment_dir
    from utils import logger
    from utils.distributed import revert_sync_batchnorm, setup_runtime
    from utils.opts import get_eval_arguments

    opts = get_eval_arguments(args)
    setattr(opts, "ddp.enable", False)
    runtime = setup_runtime(opts)
    if not getattr(opts, f"model.{task}.pretrained", None):
        logger.warning(f"no --model.{task}.pretrained given: evaluating randomly initialised weights")
    model = revert_sync_batchnorm(get_model(opts)).to(runtime.device).eval()
    return opts, runtime, model, getattr(opts, f"evaluation.{task}.mode", "validation_set"), experiment_dir(opts)


def evaluation_images(opts: Any, task: str, mode: str) -> List[Path]:
    """The image (single_image) or the images of the folder (image_folder) of ``evaluation.<task>.path``."""
    from utils.io import image_files, require_path

    option = f"evaluation.{task}.path"
    return image_files(require_path(getattr(opts, option, None), option, mode), option)


def evaluation_size(opts: Any, default: int) -> Tuple[int, int]:
    """``(height, width)`` of the evaluation inputs: the evaluation sampler's crop size."""
    from data.loaders import eval_opts

    sized = eval_opts(opts)
    return (int(getattr(sized, "sampler.bs.crop_size_height", default)),
            int(getattr(sized, "sampler.bs.crop_size_width", default)))


def fit_to_multiple(images: torch.Tensor, multiple: int) -> torch.Tensor:
    """``images`` resized (bilinear) down to the nearest sides that are multiples of ``multiple``
    (at least ``multiple``), as the original evaluation does before a forward pass; unchanged when
    they already are."""
    h, w = images.shape[-2:]
    new_h, new_w = max(multiple, h // multiple * multiple), max(multiple, w // multiple * multiple)
    if (new_h, new_w) == (h, w):
        return images
    return torch.nn.functional.interpolate(images, size=(new_h, new_w), mode="bilinear", align_corners=False)


def readable_images(paths: Sequence[Path], transform: Callable) -> Iterator[Tuple[Path, np.ndarray, torch.Tensor]]:
    """``(path, image, input)`` for every image of ``paths`` that can be read: the BGR picture and
    ``transform({"image": picture})["image"]`` as a batch of one. Unreadable files are skipped with
    a warning that names them."""
    from data.datasets import read_image
    from utils import logger
    from utils.errors import DataError

    for path in paths:
        try:
            image = read_image(path)
        except DataError as exc:
            logger.warning(f"skipping {exc}")
            continue
        yield path, image, transform({"image": image})["image"].unsqueeze(0)


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
