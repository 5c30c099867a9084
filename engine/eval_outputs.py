"""What an evaluation writes into its run folder, checked before it starts: the results of an
earlier evaluation are replaced only with ``evaluation.overwrite``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List

from engine.mask_writer import mask_folders
from engine.run_folder import RunFolder
from utils.outputs import refuse_to_replace


def evaluation_outputs(opts: Any, task: str, run: RunFolder) -> List[Path]:
    """The files and image folders the ``evaluation.<task>.mode`` of ``task`` writes into ``run``.

    Args:
        opts: the evaluation options.
        task: ``classification``, ``detection`` or ``segmentation``.
        run: the run folder.

    Returns:
        The paths (a detection evaluation's ``segmentations.json`` included: a Mask R-CNN writes
        it, and another model's results must not sit beside an earlier one's masks).
    """
    validation = getattr(opts, f"evaluation.{task}.mode") == "validation_set"
    if task == "classification":
        return [run.eval_metrics if validation else run.predictions]
    if task == "detection":
        if not validation:
            return [run.predictions, run.detection_images]
        overlays = [run.validation_overlays] if getattr(opts, "evaluation.detection.save_overlay_boxes") else []
        return [run.eval_metrics, run.detections, run.segmentations, *overlays]
    return ([run.eval_metrics] if validation else []) + mask_folders(opts, run, default_color=not validation)


def check_evaluation_outputs(opts: Any, task: str) -> None:
    """Stop, before the model is built, when the evaluation would replace an earlier one's results
    and ``evaluation.overwrite`` is not given (an :class:`~utils.errors.OutputExistsError` naming them)."""
    if not getattr(opts, "evaluation.overwrite"):
        refuse_to_replace(evaluation_outputs(opts, task, RunFolder.from_options(opts)), "evaluation.overwrite",
                          ", or choose another --common.run-label")
