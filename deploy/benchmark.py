"""Timing models for ``main_benchmark.py``: latency on an inference backend, or training throughput,
of one model or of two side by side (paired and interleaved, see :mod:`utils.timing`)."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import torch
from torch import nn

from deploy.backends import BACKEND_REGISTRY
from deploy.prepared import PreparedModel, training_step
from utils.timing import Run, median_ms, paired_times, ratio_spread


def summarise(times: Dict[str, List[float]], batch_size: int, train: bool) -> Dict[str, Any]:
    """Medians (ms per batch, or images per second for training) and, for two candidates, the
    ratio of the first to the second (latency ratio, or throughput ratio for training): ``ratio``
    the median of the per-round ratios, ``ratio_spread`` its :class:`~utils.timing.Spread`."""
    names = list(times)
    summary: Dict[str, Any] = {}
    for name in names:
        ms = median_ms(times[name])
        summary[name] = {"images_per_s": round(batch_size * 1e3 / ms, 2)} if train else {"latency_ms": round(ms, 3)}
    if len(names) == 2:
        first, second = times[names[0]], times[names[1]]
        spread = ratio_spread(second, first) if train else ratio_spread(first, second)
        summary["ratio"], summary["ratio_spread"] = round(spread.median, 4), spread
    return summary


def time_models(opts: Any, models: Dict[str, Tuple[nn.Module, bool]], size: Sequence[int]) -> Dict[str, Any]:
    """Time ``models`` (name -> (model, fold it for inference)) paired and interleaved as the
    ``benchmark.*`` options say (inference on ``benchmark.backend``, or training steps with
    ``benchmark.train``), print the results and return them: the first model's, and with two
    models the comparison (its ratio's median, ``<kind>_ratio``, with ``<kind>_ratio_iqr`` and
    ``<kind>_ratio_range`` over the rounds)."""
    backend, train = getattr(opts, "benchmark.backend"), bool(getattr(opts, "benchmark.train"))
    batch_size = int(getattr(opts, "benchmark.batch_size"))
    warmup, repeats = int(getattr(opts, "benchmark.warmup")), int(getattr(opts, "benchmark.repeats"))
    channels_last = bool(getattr(opts, "common.channels_last"))
    x = torch.rand(batch_size, 3, *size, generator=torch.Generator().manual_seed(0))
    runs: Dict[str, Run] = {}
    for name, (model, fuse) in models.items():
        if train:
            runs[name] = training_step(model, x)
        else:
            prepared = PreparedModel(model, backend, x, fuse=fuse, channels_last=channels_last)
            folded = " (folded)" if fuse and prepared.backend.folds else ""
            print(f"{name}: {backend}{folded} outputs within {prepared.error:.1e} of eager PyTorch")
            runs[name] = prepared.run
    summary = summarise(paired_times(runs, warmup, repeats), batch_size, train)
    what = "training (forward + backward)" if train else "inference"
    print(f"{what} on {backend}, batch {batch_size}, {size[0]}x{size[1]}, {torch.get_num_threads()} threads, "
          f"{repeats} interleaved rounds:")
    names = list(models)
    for name in names:
        value = summary[name]
        print(f"  {name}: " + (f"{value['images_per_s']:.2f} images/s" if train else f"{value['latency_ms']:.2f} ms"))
    folds = not train and BACKEND_REGISTRY.get(backend).folds
    result: Dict[str, Any] = {"backend": backend, "batch_size": batch_size, "threads": torch.get_num_threads(),
                              "fused": models[names[0]][1] and folds, "train": train, "rounds": repeats,
                              **summary[names[0]]}
    if len(names) == 2:
        kind, spread = "throughput" if train else "latency", summary["ratio_spread"]
        print(f"  {kind} ratio {names[0]} / {names[1]}: {spread} (per-round ratios over {repeats} rounds)")
        rounded = spread.rounded()
        result["compare"] = {"model": names[1], **summary[names[1]], f"{kind}_ratio": summary["ratio"],
                             f"{kind}_ratio_iqr": rounded["iqr"], f"{kind}_ratio_range": rounded["range"]}
    return result
