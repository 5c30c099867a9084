"""Evaluating an image classifier: top-1 / top-5 accuracy and loss over the validation set, or the
top classes of single images (``evaluation.classification.mode``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import torch
from torch import nn

from data import create_eval_loader
from data.class_names import classification_class_names
from data.samplers import crop_size
from data.transforms.presets import classification_eval_transform
from engine.eval_setup import Evaluation, evaluation_images, readable_images
from engine.evaluation import evaluate
from engine.run_folder import RunFolder
from loss_fn import build_loss
from utils.io import shown, write_json
from utils.runtime import Runtime


def evaluate_validation_set(opts: Any, model: nn.Module, runtime: Runtime) -> Dict[str, Any]:
    """Top-1 and top-5 accuracy (%), mean loss and sample count over ``dataset.root_val``."""
    loader = create_eval_loader(opts)
    criterion = build_loss(opts).to(runtime.device)
    stats = evaluate(model, loader, criterion, ["loss", "top1", "top5"], runtime, description="evaluation",
                     opts=opts, channels_last=bool(getattr(opts, "common.channels_last")))
    values = stats.values()
    return {"top1": values["top1"], "top5": values["top5"], "loss": values["loss"],
            "num_samples": int(stats.metrics["top1"].state[1])}


def predict_images(opts: Any, model: nn.Module, runtime: Runtime, paths: Sequence[Path], top_k: int) -> List[Dict]:
    """The ``top_k`` classes of each readable image of ``paths`` (printed, one line per image)."""
    transform = classification_eval_transform(opts, min(crop_size(opts)))
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
        results.append({"image": shown(path), "top_k": top})
        print(f"{shown(path)}: " + ", ".join(f"{t['class_name']} ({t['probability']:.3f})" for t in top))
    return results


def evaluate_classification(opts: Any, runtime: Runtime, model: nn.Module, mode: str, run: RunFolder) -> Evaluation:
    """The ``mode`` of ``eval_cls.py``: ``validation_set`` writes ``eval_metrics.json``; the image
    modes write the top classes of each image to ``predictions.json``."""
    if mode == "validation_set":
        metrics = evaluate_validation_set(opts, model, runtime)
        path = write_json(metrics, run.eval_metrics)
        return Evaluation(f"top1: {metrics['top1']:.3f}  top5: {metrics['top5']:.3f}  loss: {metrics['loss']:.4f}  "
                          f"samples: {metrics['num_samples']}  ({shown(path)})", [path])
    paths = evaluation_images(opts, "classification", mode)
    results = predict_images(opts, model, runtime, paths, int(getattr(opts, "evaluation.classification.top_k")))
    return Evaluation(None, [write_json(results, run.predictions)])
