"""How closely an INT8 model follows its float32 model on the calibration images: the share of
images whose top-1 class is the same (classifiers) and the relative error of the outputs."""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import numpy as np
from torch import Tensor

Run = Callable[[np.ndarray], List[np.ndarray]]


def run_images(run: Run, images: Tensor, batch: int = 1) -> List[np.ndarray]:
    """The outputs of ``run`` over ``images`` (``N x 3 x H x W``), ``batch`` at a time, concatenated."""
    parts: List[List[np.ndarray]] = []
    for start in range(0, len(images), batch):
        parts.append([np.asarray(o) for o in run(images[start:start + batch].contiguous().numpy())])
    return [np.concatenate(outputs) for outputs in zip(*parts)]


def relative_errors(outputs: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> np.ndarray:
    """Per image, the largest ``max |a - b| / max |b|`` over the outputs."""
    errors = np.zeros(len(references[0]))
    for out, ref in zip(outputs, references):
        out, ref = out.reshape(len(ref), -1).astype(np.float64), ref.reshape(len(ref), -1).astype(np.float64)
        scale = np.maximum(np.abs(ref).max(1), 1e-12)
        errors = np.maximum(errors, np.abs(out - ref).max(1) / scale)
    return errors


def agreement(task: str, outputs: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> Dict[str, float]:
    """How ``outputs`` (the INT8 model's, on the calibration images) follow ``references`` (the float
    model's).

    Args:
        task: ``classification``, ``detection`` or ``segmentation``.
        outputs: the INT8 model's outputs, one array per output, images along the first axis.
        references: the float model's, alike.

    Returns:
        ``mean_relative_error`` and ``max_relative_error`` (per image, the largest ``max |a - b| /
        max |b|`` over the outputs), and for a classifier ``top1_agreement``: the percentage of
        images whose top-1 class is the same.
    """
    errors = relative_errors(outputs, references)
    result = {"mean_relative_error": float(errors.mean()), "max_relative_error": float(errors.max())}
    if task == "classification":
        same = outputs[0].argmax(-1) == references[0].argmax(-1)
        result["top1_agreement"] = float(100.0 * same.mean())
    return result


def describe(task: str, measured: Dict[str, float], count: int) -> str:
    """One line saying how the INT8 model follows the float one on ``count`` calibration images."""
    parts = [f"top-1 agreement {measured['top1_agreement']:.1f}%"] if task == "classification" else []
    parts.append(f"relative error mean {measured['mean_relative_error']:.3g}, max {measured['max_relative_error']:.3g}")
    return f"int8 vs float32 on {count} calibration images: " + ", ".join(parts)
