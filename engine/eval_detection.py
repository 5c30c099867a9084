"""Evaluating an object detector: COCO box AP (and mask AP for an instance segmentation model) over
the validation set, or the detections of single images drawn and listed
(``evaluation.detection.mode``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import torch
from torch import nn

from data.class_names import detection_class_names
from data.datasets import read_image
from data.loaders import create_eval_loader
from data.samplers import crop_size
from data.transforms import Compose, Resize, ToTensor
from engine.detections import detect, masks_in_pixels, predict_boxes, to_pixels
from engine.eval_setup import Evaluation, evaluation_images, readable_images
from engine.evaluation import evaluate
from engine.run_folder import RunFolder
from metrics.coco_map import coco_ap, coco_mask_results, coco_results
from utils.drawing import draw_detections
from utils.image_files import write_image
from utils.io import shown, write_json
from utils.runtime import Runtime

SUMMARY_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "mask_AP", "mask_AP50", "mask_AP75")


def evaluate_validation_set(opts: Any, model: nn.Module, runtime: Runtime, run: RunFolder,
                            written: List[Path]) -> Dict[str, Any]:
    """COCO AP over the validation split of ``dataset.root_val``; writes the detections (and the
    masks, and with ``evaluation.detection.save_overlay_boxes`` the drawn images), adding each
    file to ``written``."""
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
                written.append(write_image(run.validation_overlays / f"{Path(path).stem}.jpg", picture))

    evaluate(model, loader, None, [], runtime, description="evaluation", opts=opts, on_batch=collect,
             forward=predict_boxes)
    metrics = coco_ap(dataset.coco, results, image_ids)
    if with_masks:
        masks = coco_ap(dataset.coco, mask_results, image_ids, iou_type="segm")
        metrics.update({f"mask_{name}": value for name, value in masks.items()})
        written.append(write_json(mask_results, run.segmentations))
    metrics["num_images"] = len(image_ids)
    written.append(write_json(results, run.detections))
    return metrics


def detect_images(opts: Any, model: nn.Module, runtime: Runtime, paths: Sequence[Path], run: RunFolder,
                  written: List[Path]) -> List[dict]:
    """The detections of each readable image of ``paths``, drawn into ``detection_results/`` (each
    file added to ``written``) and returned as ``predictions.json`` lists them."""
    # always resized, as the original does, unless the model resizes its inputs itself
    resize = [] if model.resizes_inputs else [Resize(opts, crop_size(opts))]
    transform = Compose(resize + [ToTensor(opts)])
    names = detection_class_names(opts, model.n_classes)
    found = []
    model.eval()
    with torch.no_grad():
        for path, image, tensor in readable_images(paths, transform):
            found_boxes, found_masks = detect(model, tensor, runtime, [image.shape[:2]])
            (boxes, labels, scores), masks = found_boxes[0], found_masks[0]
            target = write_image(run.detection_images / f"{path.stem}.jpg",
                                 draw_detections(image, boxes, labels, scores, names, masks))
            written.append(target)
            print(f"{shown(path)}: {len(labels)} objects -> {shown(target)}")
            entries = [{"label": int(l), "class_name": names[int(l)], "score": float(s), "box": [float(v) for v in b]}
                       for b, l, s in zip(boxes, labels, scores)]
            if masks is not None:
                for entry, rle in zip(entries, coco_mask_results(0, masks, labels, scores, {int(l): 0 for l in labels})):
                    entry["mask"] = rle["segmentation"]
            found.append({"image": shown(path), "detections": entries})
    return found


def evaluate_detection(opts: Any, runtime: Runtime, model: nn.Module, mode: str, run: RunFolder) -> Evaluation:
    """The ``mode`` of ``eval_det.py``: ``validation_set`` writes ``eval_metrics.json`` (and the
    detections); the image modes draw each image's detections and list them in ``predictions.json``."""
    written: List[Path] = []
    if mode == "validation_set":
        metrics = evaluate_validation_set(opts, model, runtime, run, written)
        path = write_json(metrics, run.eval_metrics)
        shown_metrics = [k for k in SUMMARY_METRICS if k in metrics]
        summary = ("  ".join(f"{k}: {metrics[k]:.2f}" if metrics[k] is not None else f"{k}: -" for k in shown_metrics)
                   + f"  images: {metrics['num_images']}  ({shown(path)})")
        return Evaluation(summary, written + [path])
    found = detect_images(opts, model, runtime, evaluation_images(opts, "detection", mode), run, written)
    path = write_json(found, run.predictions)
    return Evaluation(f"predictions: {shown(path)}", written + [path])
