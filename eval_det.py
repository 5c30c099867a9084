"""Evaluate an object detector.

    python eval_det.py --common.config-file config/detection/edgeformer/ssd_edgeformer_s.yaml \\
        --model.detection.pretrained checkpoint_ema_avg.pt --evaluation.detection.mode validation_set \\
        --evaluation.detection.resize-input-images --dataset.root-val COCO_ROOT

Modes (``--evaluation.detection.mode``):
  validation_set  COCO box AP over the val split of ``dataset.root_val``, written to
                  ``<common.results_loc>/<common.run_label>/eval_metrics.json`` (with the detections
                  in detections.json); ``--evaluation.detection.save-overlay-boxes`` also draws them
                  in validation_overlays/;
  single_image    detections drawn on ``--evaluation.detection.path``, saved under detection_results/,
                  and listed in predictions.json (masks as COCO RLE);
  image_folder    the same for every image of that folder.
Boxes are mapped back to each image's own size. For an instance segmentation model (Mask R-CNN),
the mask AP (``mask_AP``, ``mask_AP50``, ...) joins the box AP, the masks go to segmentations.json
and are drawn with the boxes; such a model resizes its inputs itself, so the images reach it at
their own size.

``--inference.model FILE --inference.backend onnxruntime|mnn|executorch|pytorch`` evaluates an export
of main_export.py (its ``FILE.json`` gives task, input size and outputs) instead of the config's
PyTorch model, with the same data and the same metrics code (deploy/deployed.py); inputs of another
size are resized to the export's.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from utils.entry import run_entry

Found = Tuple[np.ndarray, np.ndarray, np.ndarray]


def predict_boxes(model: nn.Module, images: torch.Tensor, multiple: int = 32) -> list:
    """The model's detections for a batch. Sides that are not multiples of ``multiple`` are first
    resized down to the nearest ones, as the original evaluation does (unless the model resizes
    its inputs itself)."""
    from engine.eval_setup import fit_to_multiple

    if model.resizes_inputs:
        return model.predict(images)
    return model.predict(fit_to_multiple(images, multiple))


def to_pixels(found: Sequence[Any], sizes: Sequence[Tuple[int, int]]) -> List[Found]:
    """``(boxes, labels, scores)`` for each image's detections, the boxes (fractions of the input)
    in pixels of its original ``(height, width)`` of ``sizes``."""
    results = []
    for detections, (height, width) in zip(found, sizes):
        boxes = detections.boxes.float().cpu().numpy().copy()
        boxes[:, 0::2] = np.clip(boxes[:, 0::2] * width, 0, width)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2] * height, 0, height)
        results.append((boxes, detections.labels.cpu().numpy(), detections.scores.float().cpu().numpy()))
    return results


def masks_in_pixels(found: Sequence[Any], sizes: Sequence[Tuple[int, int]]) -> List[Optional[np.ndarray]]:
    """Each image's binary instance masks (``N x height x width``, probabilities resized to its
    original size and thresholded at 0.5), or ``None`` for a detector without masks."""
    results: List[Optional[np.ndarray]] = []
    for detections, (height, width) in zip(found, sizes):
        masks = detections.masks
        if masks is None:
            results.append(None)
            continue
        masks = masks.float()
        if len(masks) and tuple(masks.shape[-2:]) != (height, width):
            masks = torch.nn.functional.interpolate(masks[:, None], size=(height, width), mode="bilinear",
                                                    align_corners=False)[:, 0]
        results.append((masks.reshape(-1, height, width) >= 0.5).cpu().numpy())
    return results


def detect(model: nn.Module, images: torch.Tensor, runtime: Any,
           sizes: Sequence[Tuple[int, int]]) -> Tuple[List[Found], List[Optional[np.ndarray]]]:
    """:func:`predict_boxes` on the runtime's device, then :func:`to_pixels` and :func:`masks_in_pixels`."""
    with runtime.autocast():
        found = predict_boxes(model, images.to(runtime.device))
    return to_pixels(found, sizes), masks_in_pixels(found, sizes)


def evaluate_validation_set(opts: Any, model: nn.Module, runtime: Any, out_dir: Any) -> dict:
    import cv2

    from data.datasets import read_image
    from data.loaders import create_eval_loader
    from engine.evaluation import evaluate
    from metrics.coco_map import coco_ap, coco_mask_results, coco_results
    from utils.drawing import draw_detections
    from utils.io import write_json

    if not getattr(opts, "evaluation.detection.resize_input_images"):
        setattr(opts, "dataset.eval_batch_size0", 1)  # images keep their own sizes
    loader = create_eval_loader(opts)
    dataset = loader.dataset
    overlays = bool(getattr(opts, "evaluation.detection.save_overlay_boxes"))
    results, mask_results, image_ids, with_masks = [], [], [], []

    def collect(batch: dict, found: list) -> None:
        sizes = [(int(h), int(w)) for h, w in zip(batch["im_height"], batch["im_width"])]
        all_masks = masks_in_pixels(found, sizes)
        for i, ((boxes, labels, scores), masks) in enumerate(zip(to_pixels(found, sizes), all_masks)):
            image_id = int(batch["image_id"][i])
            image_ids.append(image_id)
            results.extend(coco_results(image_id, boxes, labels, scores, dataset.label_to_coco))
            if masks is not None:
                with_masks.append(image_id)
                mask_results.extend(coco_mask_results(image_id, masks, labels, scores, dataset.label_to_coco))
            if overlays:
                path = dataset.image_dir / batch["file_name"][i]
                picture = draw_detections(read_image(path), boxes, labels, scores, dataset.class_names, masks)
                out_dir.validation_overlays.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(out_dir.validation_overlays / f"{Path(path).stem}.jpg"), picture)

    evaluate(model, loader, None, [], runtime, description="evaluation", opts=opts, on_batch=collect,
             forward=predict_boxes)
    metrics = coco_ap(dataset.coco, results, image_ids)
    if with_masks:
        masks = coco_ap(dataset.coco, mask_results, image_ids, iou_type="segm")
        metrics.update({f"mask_{name}": value for name, value in masks.items()})
        write_json(mask_results, out_dir.segmentations)
    metrics["num_images"] = len(image_ids)
    write_json(results, out_dir.detections)
    return metrics


def detect_images(opts: Any, model: nn.Module, runtime: Any, paths: Sequence[Path], out_dir: Any) -> List[dict]:
    import cv2

    from data.transforms import Compose, Resize, ToTensor
    from engine.eval_setup import evaluation_size, readable_images
    from data.class_names import detection_class_names
    from metrics.coco_map import coco_mask_results
    from utils.drawing import draw_detections

    # always resized, as the original does, unless the model resizes its inputs itself
    resize = [] if model.resizes_inputs else [Resize(opts, evaluation_size(opts))]
    transform = Compose(resize + [ToTensor(opts)])
    names = detection_class_names(opts, model.n_classes)
    out_dir.detection_images.mkdir(parents=True, exist_ok=True)
    found = []
    model.eval()
    with torch.no_grad():
        for path, image, tensor in readable_images(paths, transform):
            found_boxes, found_masks = detect(model, tensor, runtime, [image.shape[:2]])
            (boxes, labels, scores), masks = found_boxes[0], found_masks[0]
            target = out_dir.detection_images / f"{path.stem}.jpg"
            cv2.imwrite(str(target), draw_detections(image, boxes, labels, scores, names, masks))
            print(f"{path}: {len(labels)} objects -> {target}")
            entries = [{"label": int(l), "class_name": names[int(l)], "score": float(s), "box": [float(v) for v in b]}
                       for b, l, s in zip(boxes, labels, scores)]
            if masks is not None:
                for entry, rle in zip(entries, coco_mask_results(0, masks, labels, scores, {int(l): 0 for l in labels})):
                    entry["mask"] = rle["segmentation"]
            found.append({"image": str(path), "detections": entries})
    return found


def main(args: Optional[Sequence[str]] = None) -> None:
    from deploy.deployed import load_deployed
    from engine.eval_setup import evaluation_images, prepare_evaluation
    from options import get_eval_arguments
    from utils.io import write_json

    opts = get_eval_arguments(args)
    runtime, model, mode, out_dir = prepare_evaluation(opts, "detection", load_deployed(opts, "detection"))
    if mode == "validation_set":
        metrics = evaluate_validation_set(opts, model, runtime, out_dir)
        path = write_json(metrics, out_dir.eval_metrics)
        names = [k for k in ("AP", "AP50", "AP75", "APs", "APm", "APl", "mask_AP", "mask_AP50", "mask_AP75")
                 if k in metrics]
        print("  ".join(f"{k}: {metrics[k]:.2f}" if metrics[k] is not None else f"{k}: -" for k in names)
              + f"  images: {metrics['num_images']}  ({path})")
        return
    paths = evaluation_images(opts, "detection", mode)
    path = write_json(detect_images(opts, model, runtime, paths, out_dir), out_dir.predictions)
    print(f"predictions: {path}")


def cli() -> int:
    """The ``parcnet-eval-det`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
