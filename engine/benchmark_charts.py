"""The paper's result charts, from numbers measured here: accuracy (published) against
parameters, multiply-adds and latency (measured) for the named models, one chart per task."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from torch import nn

from cvnets.misc.profiler import profile_model
from cvnets.models.published import PUBLISHED
from utils.zoo import MODEL_ZOO, zoo_entry
from utils import logger
from utils.charts import plot_tradeoffs
from utils.errors import ConfigError
from utils.io import write_json

TASK_METRICS = {"classification": ("top1", "ImageNet-1k top-1 (%)"),
                "detection": ("AP", "COCO box AP (SSD)"),
                "segmentation": ("mIoU", "PASCAL VOC mIoU (DeepLabV3)")}


def config_input_size(opts: Any) -> Tuple[int, int]:
    """``(height, width)`` of a config's base crop (the variable batch sampler's, when it is used)."""
    prefix = "sampler.vbs" if str(getattr(opts, "sampler.name")).startswith("variable") else "sampler.bs"
    return int(getattr(opts, f"{prefix}.crop_size_height")), int(getattr(opts, f"{prefix}.crop_size_width"))


def chart_models(opts: Any) -> List[str]:
    """``benchmark.plot_models``, or every named model with a published result."""
    names = getattr(opts, "benchmark.plot_models") or [n for n in MODEL_ZOO if n in PUBLISHED]
    for name in names:
        zoo_entry(name)
    return list(names)


def interleaved_latency(models: Dict[str, Tuple[nn.Module, torch.Tensor]], warmup: int, repeats: int) -> Dict[str, float]:
    """Median milliseconds of one forward pass of each model, timed in rounds that visit every
    model once, so that all of them see the same changes of machine load."""
    times: Dict[str, List[float]] = {name: [] for name in models}
    with torch.no_grad():
        for round_index in range(warmup + repeats):
            for name, (model, x) in models.items():
                start = time.perf_counter()
                model(x)
                if round_index >= warmup:
                    times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def measure_models(names: Sequence[str], build: Callable[[str], nn.Module], input_size: Any,
                   warmup: int, repeats: int) -> List[Dict[str, Any]]:
    """Parameters, MACs and CPU latency of each model at ``input_size`` ((h, w), or ``None`` for
    its config's size); ``build(name)`` makes a model as :func:`parcnet.create_model` does."""
    rows, inputs = [], {}
    for name in names:
        model = build(name).eval()
        h, w = input_size or config_input_size(model.opts)
        x = torch.rand(1, 3, h, w)
        profile = profile_model(model, torch.zeros(1, 3, h, w), model.profile_stages(), model.profile_convention)
        entry = zoo_entry(name)
        rows.append({"model": name, "title": entry.title, "task": entry.task, "baseline": entry.baseline,
                     "input_size": [h, w], "params": int(profile.params), "macs": int(round(profile.macs))})
        inputs[name] = (model, x)
    latency = interleaved_latency(inputs, warmup, repeats)
    for row in rows:
        row["latency_ms"] = round(latency[row["model"]], 2)
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
    and the charts; returns the chart files."""
    out_dir = Path(getattr(opts, "benchmark.plot"))
    out_dir.mkdir(parents=True, exist_ok=True)
    size = getattr(opts, "benchmark.input_size")
    if size and len(size) not in (1, 2):
        raise ConfigError(f"benchmark.input_size takes one or two values, got {size}")
    fixed = None if not size else (size[0], size[-1])
    names = chart_models(opts)
    logger.log(f"Measuring {len(names)} models: {', '.join(names)}")
    rows = measure_models(names, build, fixed, int(getattr(opts, "benchmark.warmup")),
                          max(1, int(getattr(opts, "benchmark.repeats"))))
    threads = torch.get_num_threads()
    write_json({"threads": threads, "models": rows}, out_dir / "benchmark.json")
    written = draw_charts(rows, out_dir, threads)
    for row in rows:
        print(f"{row['model']:24s} params {row['params'] / 1e6:6.2f} M  MACs {row['macs'] / 1e9:6.2f} G  "
              f"latency {row['latency_ms']:8.2f} ms  published {row.get('published_metric', '-')} "
              f"{row.get('published_value', '-')}")
    print(f"charts: {', '.join(str(p) for p in written)}  ({out_dir / 'benchmark.json'})")
    return written
