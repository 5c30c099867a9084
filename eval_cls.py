"""Evaluate an image classifier.

    python eval_cls.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml \\
        --model.classification.pretrained checkpoint_ema_avg.pt --dataset.root-val IMAGENET/validation

Modes (``--evaluation.classification.mode``):
  validation_set  top-1 / top-5 accuracy and loss over ``dataset.root_val``, written to
                  ``<common.results_loc>/<common.run_label>/eval_metrics.json``;
  single_image    the top-5 classes of ``--evaluation.classification.path``;
  image_folder    the top-5 classes of every image in that folder.
The image modes name the classes (the dataset's class folders, ImageNet's names for a 1000-class
model, else the indices) and also save them in ``<results>/<run>/predictions.json``.

``--inference.model FILE --inference.backend onnxruntime|mnn|executorch|pytorch`` evaluates an export
of main_export.py (its ``FILE.json`` gives task, input size and outputs) instead of the config's
PyTorch model, with the same data and the same metrics code (deploy/deployed.py); inputs of another
size are resized to the export's.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn

from utils.entry import run_entry


def evaluate_validation_set(opts: Any, model: nn.Module, runtime: Any) -> Dict[str, Any]:
    from data import create_eval_loader
    from engine.evaluation import evaluate
    from loss_fn import build_loss

    loader = create_eval_loader(opts)
    criterion = build_loss(opts).to(runtime.device)
    stats = evaluate(model, loader, criterion, ["loss", "top1", "top5"], runtime, description="evaluation",
                     opts=opts, channels_last=bool(getattr(opts, "common.channels_last")))
    values = stats.values()
    return {"top1": values["top1"], "top5": values["top5"], "loss": values["loss"],
            "num_samples": int(stats.metrics["top1"].state[1])}


def predict_images(opts: Any, model: nn.Module, runtime: Any, paths: Sequence[Path], top_k: int) -> List[Dict]:
    from data.class_names import classification_class_names
    from data.transforms.presets import classification_eval_transform
    from engine.eval_setup import evaluation_size, readable_images

    transform = classification_eval_transform(opts, min(evaluation_size(opts)))
    names = None
    results = []
    model.eval()
    for path, _, image in readable_images(paths, transform):
        with torch.no_grad(), runtime.autocast():
            probs = model(image.to(runtime.device)).float().softmax(dim=1)[0]
        names = names or classification_class_names(opts, probs.numel())
        scores, indices = probs.topk(min(top_k, probs.numel()))
        top = [{"class_index": int(i), "class_name": names[int(i)], "probability": float(s)}
               for s, i in zip(scores, indices)]
        results.append({"image": str(path), "top_k": top})
        print(f"{path}: " + ", ".join(f"{t['class_name']} ({t['probability']:.3f})" for t in top))
    return results


def main(args: Optional[Sequence[str]] = None) -> None:
    from deploy.deployed import load_deployed
    from engine.eval_setup import evaluation_images, prepare_evaluation
    from options import get_eval_arguments
    from utils.io import write_json

    opts = get_eval_arguments(args)
    runtime, model, mode, out_dir = prepare_evaluation(opts, "classification", load_deployed(opts, "classification"))
    if mode == "validation_set":
        metrics = evaluate_validation_set(opts, model, runtime)
        path = write_json(metrics, out_dir.eval_metrics)
        print(f"top1: {metrics['top1']:.3f}  top5: {metrics['top5']:.3f}  loss: {metrics['loss']:.4f}  "
              f"samples: {metrics['num_samples']}  ({path})")
        return
    paths = evaluation_images(opts, "classification", mode)
    results = predict_images(opts, model, runtime, paths, int(getattr(opts, "evaluation.classification.top_k")))
    write_json(results, out_dir.predictions)


def cli() -> int:
    """The ``parcnet-eval-cls`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
