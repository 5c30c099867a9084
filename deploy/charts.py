"""The paper's result charts, from numbers measured here: accuracy (published) against
parameters, multiply-adds and latency (measured) for the named models, one chart per task."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from cvnets.misc.profiler import profile_model
from cvnets.models.published import PUBLISHED
from data.samplers import crop_size
from deploy.input_size import given_size
from deploy.prepared import PreparedModel
from utils.timing import median_ms, paired_times
from utils.zoo import MODEL_ZOO, zoo_entry
from utils import logger
from utils.charts import plot_tradeoffs
from utils.io import write_json
from utils.outputs import refuse_to_replace

TASK_METRICS = {"classification": ("top1", "ImageNet-1k top-1 (%)"),
                "detection": ("AP", "COCO box AP (SSD)"),
                "segmentation": ("mIoU", "PASCAL VOC mIoU (DeepLabV3)")}


def chart_models(opts: Any) -> List[str]:
    """``benchmark.plot_models``, or every named model with a published result."""
    names = getattr(opts, "benchmark.plot_models") or [n for n in MODEL_ZOO if n in PUBLISHED]
    for name in names:
        zoo_entry(name)
    return list(names)


def chart_files(names: Sequence[str], out_dir: Path) -> List[Path]:
    """The files the charts of ``names`` take: ``benchmark.json`` and one chart per task in which one of
    the models has a published result (in the task's metric)."""
    tasks = [task for task, (metric, _) in TASK_METRICS.items()
             if any(zoo_entry(name).task == task and getattr(PUBLISHED.get(name), "metric", None) == metric
                    for name in names)]
    return [out_dir / "benchmark.json"] + [out_dir / f"{task}.png" for task in tasks]


def measure_models(names: Sequence[str], build: Callable[[str], nn.Module], input_size: Optional[Tuple[int, int]],
                   opts: Any) -> List[Dict[str, Any]]:
    """Parameters, MACs and latency of each model at ``input_size`` (``None``: its config's crop
    size); ``build(name)`` makes a model as :func:`parcnet.create_model` does. The latency is what
    ``--benchmark.latency`` measures (batch 1 on ``benchmark.backend``, folded for inference unless
    ``inference.fuse`` is false), the models timed together in paired rounds."""
    rows, runs = [], {}
    backend, fuse = getattr(opts, "benchmark.backend"), bool(getattr(opts, "inference.fuse"))
    for name in names:
        model = build(name).eval()
        h, w = input_size or crop_size(model.opts)
        profile = profile_model(model, torch.zeros(1, 3, h, w), model.profile_stages(), model.profile_convention)
        entry = zoo_entry(name)
        rows.append({"model": name, "title": entry.title, "task": entry.task, "baseline": entry.baseline,
                     "input_size": [h, w], "params": int(profile.params), "macs": int(round(profile.macs))})
        runs[name] = PreparedModel(model, backend, torch.rand(1, 3, h, w), fuse=fuse).run
    times = paired_times(runs, int(getattr(opts, "benchmark.warmup")), max(1, int(getattr(opts, "benchmark.repeats"))))
    for row in rows:
        row["latency_ms"] = round(median_ms(times[row["model"]]), 2)
        published = PUBLISHED.get(row["model"])
        if published is not None:
            row.update(published_metric=published.metric, published_value=published.value,
                       published_source=published.source)
    return rows


def draw_charts(rows: Sequence[Dict[str, Any]], out_dir: Path, threads: int) -> List[Path]:
    """One chart per task that has a model with a published result: the result against
    parameters, MACs and latency."""
    axes = (("params_m", "parameters (M)"), ("macs_g", "multiply-adds (G)"),
            ("latency_ms", f"CPU latency, batch 1, {threads} thread{'' if threads == 1 else 's'} (ms)"))
    written = []
    for task, (metric, label) in TASK_METRICS.items():
        points = [dict(row, params_m=row["params"] / 1e6, macs_g=row["macs"] / 1e9, parc="parc" in row["model"])
                  for row in rows if row["task"] == task and row.get("published_metric") == metric]
        if points:
            title = f"{task}: published results against costs measured here"
            written.append(plot_tradeoffs(points, "published_value", label, axes, title, out_dir / f"{task}.png"))
    return written


def benchmark_charts(opts: Any, build: Callable[[str], nn.Module]) -> List[Path]:
    """``main_benchmark.py --benchmark.plot DIR``: measure the models, write ``DIR/benchmark.json``
    and the charts.

    Args:
        opts: the options (``benchmark.*``).
        build: makes a named model (:func:`parcnet.create_model`).

    Returns:
        The files written: ``benchmark.json`` and the charts. When one of them exists, the command
        stops before measuring (an :class:`~utils.errors.OutputExistsError`) unless
        ``benchmark.overwrite`` is given.
    """
    out_dir = Path(getattr(opts, "benchmark.plot"))
    fixed = given_size(getattr(opts, "benchmark.input_size"), "benchmark.input_size")
    names = chart_models(opts)
    if not getattr(opts, "benchmark.overwrite"):
        refuse_to_replace(chart_files(names, out_dir), "benchmark.overwrite")
    out_dir.mkdir(parents=True, exist_ok=True)
    logger.log(f"Measuring {len(names)} models: {', '.join(names)}")
    rows = measure_models(names, build, fixed, opts)
    threads = torch.get_num_threads()
    measured = write_json({"threads": threads, "models": rows}, out_dir / "benchmark.json")
    written = draw_charts(rows, out_dir, threads)
    for row in rows:
        print(f"{row['model']:24s} params {row['params'] / 1e6:6.2f} M  MACs {row['macs'] / 1e9:6.2f} G  "
              f"latency {row['latency_ms']:8.2f} ms  published {row.get('published_metric', '-')} "
              f"{row.get('published_value', '-')}")
    return [measured, *written]
