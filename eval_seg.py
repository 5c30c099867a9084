"""Evaluate a semantic segmentation model.

    python eval_seg.py --common.config-file config/segmentation/edgeformer/deeplabv3_edgeformer_s.yaml \\
        --model.segmentation.pretrained checkpoint_ema_avg.pt --evaluation.segmentation.mode validation_set \\
        --evaluation.segmentation.resize-input-images --dataset.root-val VOC_ROOT

Modes (``--evaluation.segmentation.mode``):
  validation_set  mIoU, mean class accuracy and pixel accuracy over the val list of
                  ``dataset.root_val``, written to ``<common.results_loc>/<common.run_label>/eval_metrics.json``;
  single_image    the predicted mask of ``--evaluation.segmentation.path``;
  image_folder    the masks of every image in that folder.
Predictions are resized (nearest) to each image's own size. ``--evaluation.segmentation.save-masks``
writes label PNGs (predictions_no_cmap/), ``apply-color-map`` colour PNGs (predictions_cmap/) and
``save-overlay-rgb-pred`` the colours blended over the image (predictions_overlay/); the image
modes write the colour PNGs when none is asked for.

``--inference.model FILE --inference.backend onnxruntime|mnn|executorch|pytorch`` evaluates an export
of main_export.py (its ``FILE.json`` gives task, input size and outputs) instead of the config's
PyTorch model, with the same data and the same metrics code (deploy/deployed.py); inputs of another
size are resized to the export's.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.entry import run_entry


def segment(model: nn.Module, images: torch.Tensor, multiple: int) -> torch.Tensor:
    """The model's logits for a batch. An input whose sides are not multiples of ``multiple`` (the
    output stride) is resized down to them first, as the original evaluation does."""
    from engine.eval_setup import fit_to_multiple

    logits = model(fit_to_multiple(images, multiple))
    return logits[0] if isinstance(logits, (tuple, list)) else logits


def label_map(logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The label map (``height x width``) of one image's logits, resized (nearest) to its size."""
    logits = logits.float()
    if logits.shape[-2:] != (height, width):
        logits = F.interpolate(logits, size=(height, width), mode="nearest")
    return logits.argmax(1)[0].cpu()


def predict_mask(model: nn.Module, image: torch.Tensor, runtime: Any, height: int, width: int,
                 multiple: int) -> torch.Tensor:
    """Label map (``height x width``) of one ``1 x 3 x h x w`` image."""
    with runtime.autocast():
        logits = segment(model, image.to(runtime.device), multiple)
    return label_map(logits, height, width)


class MaskWriter:
    """Saves predicted masks as the evaluation options ask."""

    def __init__(self, opts: Any, out_dir: Any, n_classes: int, default_color: bool = False) -> None:
        from data.class_names import segmentation_class_names
        from utils.drawing import color_palette

        key = "evaluation.segmentation"
        self.save_masks = bool(getattr(opts, f"{key}.save_masks"))
        self.color = bool(getattr(opts, f"{key}.apply_color_map"))
        self.overlay = bool(getattr(opts, f"{key}.save_overlay_rgb_pred"))
        if default_color and not (self.save_masks or self.color or self.overlay):
            self.color = True
        self.weight = float(getattr(opts, f"{key}.overlay_mask_weight"))
        self.out_dir = out_dir
        self.bgr = np.array(color_palette(max(n_classes, 256)), dtype=np.uint8)
        self.names = segmentation_class_names(opts, n_classes)

    def name(self, label: int) -> str:
        name = self.names[label] if label < len(self.names) else str(label)
        return f"class {name}" if name.isdigit() else name  # a data set without class names

    def __call__(self, mask: np.ndarray, name: str, image: Optional[np.ndarray] = None) -> None:
        import cv2
        from PIL import Image

        from utils.drawing import draw_legend

        stem = Path(name).stem + ".png"
        if self.save_masks:
            self.out_dir.label_masks.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(self.out_dir.label_masks / stem), mask.astype(np.uint8))
        if self.color:
            self.out_dir.colour_masks.mkdir(parents=True, exist_ok=True)
            picture = Image.fromarray(mask.astype(np.uint8), mode="P")
            picture.putpalette(self.bgr[:, ::-1].flatten().tolist())
            picture.save(self.out_dir.colour_masks / stem)
        if self.overlay and image is not None:
            self.out_dir.overlay_masks.mkdir(parents=True, exist_ok=True)
            blended = cv2.addWeighted(image, 1.0 - self.weight, self.bgr[mask], self.weight, 0)
            blended = draw_legend(blended, [(self.name(c), self.bgr[c]) for c in np.unique(mask)])
            cv2.imwrite(str(self.out_dir.overlay_masks / stem), blended)


def output_multiple(opts: Any) -> int:
    stride = getattr(opts, "model.segmentation.output_stride")
    return 32 if stride in (None, 1) else int(stride)


def evaluate_validation_set(opts: Any, model: nn.Module, runtime: Any, out_dir: Any) -> dict:
    from data.datasets import read_image
    from data.loaders import create_eval_loader
    from engine.evaluation import evaluate
    from metrics.confusion import confusion_matrix, segmentation_scores

    setattr(opts, "dataset.eval_batch_size0", 1)  # masks keep their own sizes
    loader = create_eval_loader(opts)
    n_classes = int(getattr(opts, "model.segmentation.n_classes"))
    writer = MaskWriter(opts, out_dir, n_classes)
    matrix = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    images = 0

    def collect(batch: dict, logits: torch.Tensor) -> None:
        nonlocal matrix, images
        prediction = label_map(logits, int(batch["im_height"][0]), int(batch["im_width"][0]))
        matrix += confusion_matrix(prediction, batch["label"][0], n_classes)
        images += 1
        if writer.save_masks or writer.color or writer.overlay:
            original = read_image(batch["image_path"][0]) if writer.overlay else None
            writer(prediction.numpy(), batch["file_name"][0], original)

    multiple = output_multiple(opts)
    evaluate(model, loader, None, [], runtime, description="evaluation", opts=opts, on_batch=collect,
             forward=lambda net, x: segment(net, x, multiple))
    scores = segmentation_scores(matrix)
    scores["num_images"] = images
    return scores


def predict_images(opts: Any, model: nn.Module, runtime: Any, paths: Sequence[Path], out_dir: Any) -> None:
    from data.transforms import Compose, Resize, ToTensor
    from engine.eval_setup import evaluation_size, readable_images

    transform = Compose([Resize(opts, evaluation_size(opts)), ToTensor(opts)])  # always, as the original does
    writer = MaskWriter(opts, out_dir, int(getattr(opts, "model.segmentation.n_classes")), default_color=True)
    model.eval()
    with torch.no_grad():
        for path, image, tensor in readable_images(paths, transform):
            mask = predict_mask(model, tensor, runtime, image.shape[0], image.shape[1], output_multiple(opts))
            writer(mask.numpy(), path.name, image)
            present = ", ".join(writer.name(int(v)) for v in mask.unique())
            print(f"{path}: classes found: {present} -> {out_dir}")


def main(args: Optional[Sequence[str]] = None) -> None:
    from deploy.deployed import load_deployed
    from engine.eval_setup import evaluation_images, prepare_evaluation
    from options import get_eval_arguments
    from utils.io import write_json

    opts = get_eval_arguments(args)
    runtime, model, mode, out_dir = prepare_evaluation(opts, "segmentation", load_deployed(opts, "segmentation"))
    if mode == "validation_set":
        scores = evaluate_validation_set(opts, model, runtime, out_dir)
        path = write_json(scores, out_dir.eval_metrics)
        print(f"mIoU: {scores['mIoU']:.2f}  mAcc: {scores['mAcc']:.2f}  aAcc: {scores['aAcc']:.2f}  "
              f"images: {scores['num_images']}  ({path})")
        return
    predict_images(opts, model, runtime, evaluation_images(opts, "segmentation", mode), out_dir)


def cli() -> int:
    """The ``parcnet-eval-seg`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
