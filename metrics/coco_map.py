"""COCO average precision with pycocotools' COCOeval."""
from __future__ import annotations

import contextlib
import io
from typing import Any, Dict, List, Sequence

import numpy as np

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def coco_results(image_id: int, boxes: np.ndarray, labels: Sequence[int], scores: Sequence[float],
                 label_to_category: Dict[int, int]) -> List[Dict[str, Any]]:
    """COCO result entries of one image; ``boxes`` in corner form, in pixels."""
    return [{"image_id": int(image_id), "category_id": int(label_to_category[int(label)]),
             "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])], "score": float(score)}
            for b, label, score in zip(boxes, labels, scores)]


def coco_ap(coco_gt: Any, results: List[Dict[str, Any]], image_ids: Sequence[int]) -> Dict[str, Any]:
    """Box AP of ``results`` on ``image_ids``: the twelve COCO statistics by name in percent
    (``AP``, ``AP50``, ... ``ARl``; ``None`` where the split has no object of that size), and
    ``coco_stats``, COCOeval's twelve numbers as it prints them (fractions, -1 when undefined)."""
    from pycocotools.cocoeval import COCOeval

    if not results:  # COCOeval cannot load an empty result list; no detection at all scores zero
        stats = [0.0] * len(STAT_NAMES)
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(results)
            evaluator = COCOeval(coco_gt, coco_dt, "bbox")
            evaluator.params.imgIds = list(image_ids)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        stats = [float(s) for s in evaluator.stats]
    metrics: Dict[str, Any] = {name: (100.0 * value if value >= 0 else None) for name, value in zip(STAT_NAMES, stats)}
    metrics["coco_stats"] = stats
    return metrics
