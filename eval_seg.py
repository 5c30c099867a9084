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
modes write the colour PNGs when none is asked for. Every file written is listed at the end.

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

    opts = get_eval_arguments(args, task="segmentation")  # --help and bad options answer before the engine is imported
    from deploy.deployed import load_deployed
    from engine.eval_outputs import check_evaluation_outputs
    from engine.eval_tasks import run_evaluation

    check_evaluation_outputs(opts, "segmentation")
    run_evaluation(opts, "segmentation", load_deployed(opts, "segmentation")).report()


def cli() -> int:
    """The ``parcnet-eval-seg`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
