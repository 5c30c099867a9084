"""Evaluating a semantic segmentation model: mIoU, mean class accuracy and pixel accuracy over the
validation set, or the masks of single images (``evaluation.segmentation.mode``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from data.datasets import read_image
from data.loaders import create_eval_loader
from data.samplers import crop_size
from data.transforms import Compose, Resize, ToTensor
from engine.eval_setup import Evaluation, evaluation_images, fit_to_multiple, readable_images
from engine.evaluation import evaluate
from engine.mask_writer import MaskWriter
from engine.run_folder import RunFolder
from metrics.confusion import confusion_matrix, segmentation_scores
from utils.io import shown, write_json
from utils.runtime import Runtime


def segment(model: nn.Module, images: torch.Tensor, multiple: int) -> torch.Tensor:
    """The model's logits for a batch. An input whose sides are not multiples of ``multiple`` (the
    output stride) is resized down to them first, as the original evaluation does."""
    logits = model(fit_to_multiple(images, multiple))
    return logits[0] if isinstance(logits, (tuple, list)) else logits


def label_map(logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The label map (``height x width``) of one image's logits, resized (nearest) to its size."""
    logits = logits.float()
    if logits.shape[-2:] != (height, width):
        logits = F.interpolate(logits, size=(height, width), mode="nearest")
    return logits.argmax(1)[0].cpu()


def predict_mask(model: nn.Module, image: torch.Tensor, runtime: Runtime, height: int, width: int,
                 multiple: int) -> torch.Tensor:
    """Label map (``height x width``) of one ``1 x 3 x h x w`` image."""
    with runtime.autocast():
        logits = segment(model, image.to(runtime.device), multiple)
    return label_map(logits, height, width)


def output_multiple(opts: Any) -> int:
    """What the input sides must be multiples of: the output stride (32 when it is not set)."""
    stride = getattr(opts, "model.segmentation.output_stride")
    return 32 if stride in (None, 1) else int(stride)


def evaluate_validation_set(opts: Any, model: nn.Module, runtime: Runtime, run: RunFolder,
                            written: List[Path]) -> Dict[str, Any]:
    """mIoU, mAcc, aAcc (%) and per-class IoU over ``dataset.root_val``; the masks are saved as
    asked (:class:`~engine.mask_writer.MaskWriter`), each file added to ``written``."""
    setattr(opts, "dataset.eval_batch_size0", 1)  # masks keep their own sizes
    loader = create_eval_loader(opts)
    n_classes = int(getattr(opts, "model.segmentation.n_classes"))
    writer = MaskWriter(opts, run, n_classes)
    matrix = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    images = 0

    def collect(batch: dict, logits: torch.Tensor) -> None:
        nonlocal matrix, images
        prediction = label_map(logits, int(batch["im_height"][0]), int(batch["im_width"][0]))
        matrix += confusion_matrix(prediction, batch["label"][0], n_classes)
        images += 1
        if writer.writes:
            original = read_image(batch["image_path"][0]) if writer.overlay else None
            writer(prediction.numpy(), batch["file_name"][0], original)

    multiple = output_multiple(opts)
    evaluate(model, loader, None, [], runtime, description="evaluation", opts=opts, on_batch=collect,
             forward=lambda net, x: segment(net, x, multiple))
    scores = segmentation_scores(matrix)
    scores["num_images"] = images
    written.extend(writer.written)
    return scores


def predict_images(opts: Any, model: nn.Module, runtime: Runtime, paths: Sequence[Path], run: RunFolder,
                   written: List[Path]) -> None:
    """The mask of each readable image of ``paths``, saved (colour PNGs unless other files are asked
    for; each file added to ``written``), with a line per image naming the classes found."""
    transform = Compose([Resize(opts, crop_size(opts)), ToTensor(opts)])  # always, as the original does
    writer = MaskWriter(opts, run, int(getattr(opts, "model.segmentation.n_classes")), default_color=True)
    model.eval()
    with torch.no_grad():
        for path, image, tensor in readable_images(paths, transform):
            mask = predict_mask(model, tensor, runtime, image.shape[0], image.shape[1], output_multiple(opts))
            writer(mask.numpy(), path.name, image)
            present = ", ".join(writer.name(int(v)) for v in mask.unique())
            print(f"{shown(path)}: classes found: {present} -> {shown(run.path)}")
    written.extend(writer.written)


def evaluate_segmentation(opts: Any, runtime: Runtime, model: nn.Module, mode: str, run: RunFolder) -> Evaluation:
    """The ``mode`` of ``eval_seg.py``: ``validation_set`` writes ``eval_metrics.json`` (and the masks
    asked for); the image modes save each image's mask."""
    written: List[Path] = []
    if mode == "validation_set":
        scores = evaluate_validation_set(opts, model, runtime, run, written)
        path = write_json(scores, run.eval_metrics)
        return Evaluation(f"mIoU: {scores['mIoU']:.2f}  mAcc: {scores['mAcc']:.2f}  aAcc: {scores['aAcc']:.2f}  "
                          f"images: {scores['num_images']}  ({shown(path)})", written + [path])
    predict_images(opts, model, runtime, evaluation_images(opts, "segmentation", mode), run, written)
    return Evaluation(None, written)
