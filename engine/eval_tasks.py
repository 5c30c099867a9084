"""The evaluation commands (``eval_cls.py``, ``eval_det.py``, ``eval_seg.py``): one per task, each
in its own module, all on the shared loop of :mod:`engine.evaluation`."""
from __future__ import annotations

from typing import Any, Optional

from torch import nn

from engine.eval_classification import evaluate_classification
from engine.eval_detection import evaluate_detection
from engine.eval_segmentation import evaluate_segmentation
from engine.eval_setup import Evaluation, prepare_evaluation

TASKS = {"classification": evaluate_classification, "detection": evaluate_detection,
         "segmentation": evaluate_segmentation}


def run_evaluation(opts: Any, task: str, model: Optional[nn.Module] = None) -> Evaluation:
    """Evaluate the model of ``model.<task>.pretrained`` (or ``model``) in the ``evaluation.<task>.mode``.

    Args:
        opts: the parsed evaluation options.
        task: ``classification``, ``detection`` or ``segmentation``.
        model: a model to evaluate instead of the config's (an exported file run by an inference
            backend: ``deploy.deployed.load_deployed``), or ``None``.

    Returns:
        The metrics line (validation_set mode) and the files written, in the run folder
        ``<common.results_loc>/<common.run_label>``.
    """
    runtime, model, mode, run = prepare_evaluation(opts, task, model)
    return TASKS[task](opts, runtime, model, mode, run)
