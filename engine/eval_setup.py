"""What the evaluations of every task share: the model to evaluate, the images of the image modes
and their resizing to the model's stride."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from cvnets import get_model
from cvnets.misc.fuse import fuse_for_inference
from data.datasets import read_image
from data.datasets.listing import images_in
from engine.run_folder import RunFolder
from utils import logger
from utils.distributed import revert_sync_batchnorm
from utils.errors import DataError
from utils.io import print_written, shown
from utils.runtime import Runtime, setup_runtime


@dataclass
class Evaluation:
    """What an evaluation reports: its metrics line (``None`` in the image modes, which print a line
    per image as they go) and the files it wrote, in order."""
    summary: Optional[str] = None
    files: List[Path] = field(default_factory=list)

    def report(self) -> None:
        """Print the metrics line, then the files written."""
        if self.summary:
            print(self.summary)
        print_written(self.files)


def prepare_evaluation(opts: Any, task: str,
                       model: Optional[nn.Module] = None) -> Tuple[Runtime, nn.Module, str, RunFolder]:
    """For an evaluation script: a single-process runtime, the model in eval mode with its
    ``model.<task>.pretrained`` weights (folded for inference unless ``inference.fuse`` is false),
    the ``evaluation.<task>.mode`` and the run folder whose files name the outputs. A given
    ``model`` (an exported file run by an inference backend) is evaluated instead of the config's."""
    run = RunFolder.from_options(opts)
    setattr(opts, "ddp.enable", False)
    runtime = setup_runtime(opts)
    if model is not None:
        return runtime, model, getattr(opts, f"evaluation.{task}.mode"), run
    if not getattr(opts, f"model.{task}.pretrained"):
        logger.warning(f"no --model.{task}.pretrained given: evaluating randomly initialised weights")
    model = revert_sync_batchnorm(get_model(opts)).to(runtime.device).eval()
    if getattr(opts, "inference.fuse"):
        model = fuse_for_inference(model, inplace=True)
    return runtime, model, getattr(opts, f"evaluation.{task}.mode"), run


def evaluation_images(opts: Any, task: str, mode: str) -> List[Path]:
    """The file of ``evaluation.<task>.path`` (single_image mode), or the visible images of that
    folder (image_folder mode, sorted by name; hidden files such as macOS's ``._*`` left out)."""
    option = f"evaluation.{task}.path"
    value = getattr(opts, option)
    if not value:
        raise DataError(f"{option} is required in the {mode} mode")
    path = Path(value).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{option}: no such file or folder: {shown(path)}")
    return images_in(path, option)


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
    a warning that names them; when none can be read, that is an error."""
    readable = 0
    for path in paths:
        try:
            image = read_image(path)
        except DataError as exc:
            if len(paths) == 1:
                raise
            logger.warning(f"skipping {exc}")
            continue
        readable += 1
        yield path, image, transform({"image": image})["image"].unsqueeze(0)
    if not readable:
        raise DataError(f"none of the {len(paths)} images could be read")
