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
their own size. Every file written is listed at the end.

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

    opts = get_eval_arguments(args, task="detection")  # --help and bad options answer before the engine is imported
    from deploy.deployed import load_deployed
    from engine.eval_outputs import check_evaluation_outputs
    from engine.eval_tasks import run_evaluation

    check_evaluation_outputs(opts, "detection")
    run_evaluation(opts, "detection", load_deployed(opts, "detection")).report()


def cli() -> int:
    """The ``parcnet-eval-det`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
