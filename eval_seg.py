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


def predict_mask(model: nn.Module, image: torch.Tensor, runtime: Any, height: int, width: int,
                 multiple: int) -> torch.Tensor:
    """Label map (``height x width``) of one ``1 x 3 x h x w`` image. An input whose sides are not
    multiples of ``multiple`` (the output stride) is resized down to them first, and the logits are
    resized (nearest) to the original size, as the original evaluation does."""
    from engine.evaluation import fit_to_multiple

    with runtime.autocast():
        logits = model(fit_to_multiple(image, multiple).to(runtime.device))
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    logits = logits.float()
    if logits.shape[-2:] != (height, width):
        logits = F.interpolate(logits, size=(height, width), mode="nearest")
    return logits.argmax(1)[0].cpu()


class MaskWriter:
    """Saves predicted masks as the evaluation options ask."""

    def __init__(self, opts: Any, out_dir: Path, n_classes: int, default_color: bool = False) -> None:
        from utils.drawing import color_palette

        key = "evaluation.segmentation"
        self.save_masks = bool(getattr(opts, f"{key}.save_masks", False))
        self.color = bool(getattr(opts, f"{key}.apply_color_map", False))
        self.overlay = bool(getattr(opts, f"{key}.save_overlay_rgb_pred", False))
        if default_color and not (self.save_masks or self.color or self.overlay):
            self.color = True
        self.weight = float(getattr(opts, f"{key}.overlay_mask_weight", 0.5))
        self.out_dir = out_dir
        self.bgr = np.array(color_palette(max(n_classes, 256)), dtype=np.uint8)

    def __call__(self, mask: np.ndarray, name: str, image: Optional[np.ndarray] = None) -> None:
        import cv2
        from PIL import Image

        stem = Path(name).stem + ".png"
        if self.save_masks:
            (self.out_dir / "predictions_no_cmap").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(self.out_dir / "predictions_no_cmap" / stem), mask.astype(np.uint8))
        if self.color:
            (self.out_dir / "predictions_cmap").mkdir(parents=True, exist_ok=True)
            picture = Image.fromarray(mask.astype(np.uint8), mode="P")
            picture.putpalette(self.bgr[:, ::-1].flatten().tolist())
            picture.save(self.out_dir / "predictions_cmap" / stem)
        if self.overlay and image is not None:
            (self.out_dir / "predictions_overlay").mkdir(parents=True, exist_ok=True)
            blended = cv2.addWeighted(image, 1.0 - self.weight, self.bgr[mask], self.weight, 0)
            cv2.imwrite(str(self.out_dir / "predictions_overlay" / stem), blended)


def output_multiple(opts: Any) -> int:
    stride = getattr(opts, "model.segmentation.output_stride", None)
    return 32 if stride in (None, 1) else int(stride)


def evaluate_validation_set(opts: Any, model: nn.Module, runtime: Any, out_dir: Path) -> dict:
    import cv2
    from tqdm import tqdm

    from data.loaders import create_eval_loader
    from metrics.confusion import confusion_matrix, segmentation_scores

    setattr(opts, "dataset.eval_batch_size0", 1)  # masks keep their own sizes
    loader = create_eval_loader(opts)
    n_classes = int(getattr(opts, "model.segmentation.n_classes"))
    writer = MaskWriter(opts, out_dir, n_classes)
    matrix = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    images = 0
    model.eval()
    with torch.no_grad():
        for batch in tqdm(loader, desc="evaluation", dynamic_ncols=True):
            if batch is None:
                continue
            height, width = int(batch["im_height"][0]), int(batch["im_width"][0])
            target = batch["label"][0]
            prediction = predict_mask(model, batch["image"][0:1], runtime, height, width, output_multiple(opts))
            matrix += confusion_matrix(prediction, target, n_classes)
            images += 1
            if writer.save_masks or writer.color or writer.overlay:
                original = cv2.imread(batch["image_path"][0]) if writer.overlay else None
                writer(prediction.numpy(), batch["file_name"][0], original)
    scores = segmentation_scores(matrix)
    scores["num_images"] = images
    return scores


def predict_images(opts: Any, model: nn.Module, runtime: Any, paths: Sequence[Path], out_dir: Path) -> None:
    from data.transforms import Compose, Resize, ToTensor
    from engine.evaluation import evaluation_size, readable_images

    transform = Compose([Resize(opts, evaluation_size(opts, 512)), ToTensor()])  # always, as the original does
    writer = MaskWriter(opts, out_dir, int(getattr(opts, "model.segmentation.n_classes")), default_color=True)
    model.eval()
    with torch.no_grad():
        for path, image, tensor in readable_images(paths, transform):
            mask = predict_mask(model, tensor, runtime, image.shape[0], image.shape[1], output_multiple(opts))
            writer(mask.numpy(), path.name, image)
            present = sorted(int(v) for v in mask.unique())
            print(f"{path}: classes {present} -> {out_dir}")


def main(args: Optional[Sequence[str]] = None) -> None:
    from engine.evaluation import evaluation_images, prepare_evaluation
    from utils.io import write_json

    opts, runtime, model, mode, out_dir = prepare_evaluation(args, "segmentation")
    if mode == "validation_set":
        scores = evaluate_validation_set(opts, model, runtime, out_dir)
        path = write_json(scores, out_dir / "eval_metrics.json")
        print(f"mIoU: {scores['mIoU']:.2f}  mAcc: {scores['mAcc']:.2f}  aAcc: {scores['aAcc']:.2f}  "
              f"images: {scores['num_images']}  ({path})")
        return
    predict_images(opts, model, runtime, evaluation_images(opts, "segmentation", mode), out_dir)


if __name__ == "__main__":
    sys.exit(run_entry(main))
