"""Evaluate an image classifier.

    python eval_cls.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml \\
        --model.classification.pretrained checkpoint_ema_avg.pt --dataset.root-val IMAGENET/validation

Modes (``--evaluation.classification.mode``):
  validation_set  top-1 / top-5 accuracy and loss over ``dataset.root_val``, written to
                  ``<common.results_loc>/<common.run_label>/eval_metrics.json``;
  single_image    the top-5 classes of ``--evaluation.classification.path``;
  image_folder    the top-5 classes of every image in that folder.
The image modes name the classes (the dataset's class folders, ImageNet's names for a 1000-class
model, else the indices) and also save them in ``<results>/<run>/predictions.json``. Every file
written is listed at the end.

``--inference.model FILE --inference.backend onnxruntime|mnn|executorch|pytorch`` evaluates an export
of main_export.py (its ``FILE.json`` gives task, input size and outputs) instead of the config's
PyTorch model, with the same data and the same metrics code (deploy/deployed.py); inputs of another
size are resized to the export's.

An earlier evaluation's results in the run folder (the files above, or an image folder) stop the
command before the model is built; ``--evaluation.overwrite`` replaces them (engine/eval_outputs.py).
"""
from __future__ import annotations

import sys
from typing import Optional, Sequence

from utils.entry import run_entry


def main(args: Optional[Sequence[str]] = None) -> None:
    from options import get_eval_arguments

    opts = get_eval_arguments(args, task="classification")  # --help and bad options answer before the engine is imported
    from deploy.deployed import load_deployed
    from engine.eval_outputs import check_evaluation_outputs
    from engine.eval_tasks import run_evaluation

    check_evaluation_outputs(opts, "classification")
    run_evaluation(opts, "classification", load_deployed(opts, "classification")).report()


def cli() -> int:
    """The ``parcnet-eval-cls`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
