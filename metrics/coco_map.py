"""COCO average precision with pycocotools' COCOeval."""
from __future__ import annotations

import contextlib
import io
from typing import Any, Dict, List, Sequence

import numpy as np

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def coco_results(image_id: int, boxes: np.ndarray, labels: Sequence[int], scores: Sequence[float],
                 label_to_category: Dict[int, int]) -> List[Dict[str, Any]]:
    """COCO result entries of one image; ``boxes`` in corner form, in pixels. Labels without a
    category in ``label_to_category`` (training classes the evaluated split lacks) are left out."""
    return [{"image_id": int(image_id), "category_id": int(label_to_category[int(label)]),
             "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])], "score": float(score)}
            for b, label, score in zip(boxes, labels, scores) if int(label) in label_to_category]


def coco_mask_results(image_id: int, masks: np.ndarray, labels: Sequence[int], scores: Sequence[float],
                      label_to_category: Dict[int, int]) -> List[Dict[str, Any]]:
    """COCO result entries of one image's instance masks (``N x H x W``, binary, at the image's
    size), as compressed RLE; pycocotools derives their boxes and areas."""
    from pycocotools import mask as mask_utils

    rles = mask_utils.encode(np.asfortranarray(masks.astype(np.uint8).transpose(1, 2, 0))) if len(masks) else []
    results = []
    for rle, label, score in zip(rles, labels, scores):
        if int(label) not in label_to_category:  # as in coco_results
            continue
        rle["counts"] = rle["counts"].decode("ascii")
        results.append({"image_id": int(image_id), "category_id": int(label_to_category[int(label)]),
                        "segmentation": rle, "score": float(score)})
    return results


def coco_ap(coco_gt: Any, results: List[Dict[str, Any]], image_ids: Sequence[int],
            iou_type: str = "bbox") -> Dict[str, Any]:
    """Box (``iou_type="bbox"``) or mask (``"segm"``) AP of ``results`` on ``image_ids``: the
    twelve COCO statistics by name in percent (``AP``, ``AP50``, ... ``ARl``; ``None`` where the
    split has no object of that size), and ``coco_stats``, COCOeval's twelve numbers as it prints
    them (fractions, -1 when undefined)."""
    from pycocotools.cocoeval import COCOeval

    if not results:  # COCOeval cannot load an empty result list; no detection at all scores zero
        stats = [0.0] * len(STAT_NAMES)
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes([dict(r) for r in results])  # loadRes adds keys to what it is given
            evaluator = COCOeval(coco_gt, coco_dt, iou_type)
            evaluator.params.imgIds = list(image_ids)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        stats = [float(s) for s in evaluator.stats]
    metrics: Dict[str, Any] = {name: (100.0 * value if value >= 0 else None) for name, value in zip(STAT_NAMES, stats)}
    metrics["coco_stats"] = stats
    return metrics
