"""Timing for ``main_benchmark.py``: paired, interleaved latency and training-throughput comparisons
of models on one backend, and the crossover of the ParC implementations.

Paired and interleaved: every round runs each candidate once, in alternating order, so that all
of them see the same state of a shared machine; the reported ratio is the median over rounds of
the per-round ratios, with the medians of each candidate beside it.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from torch import nn

from cvnets.modules import parc

Run = Callable[[], Any]


def paired_times(runs: Dict[str, Run], warmup: int, repeats: int) -> Dict[str, List[float]]:
    """Seconds of each of ``repeats`` rounds for each run, after ``warmup`` untimed rounds."""
    names = list(runs)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for _ in range(warmup):
        for name in names:
            runs[name]()
    for round_index in range(repeats):
        for name in (names if round_index % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return times


def median_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median of the per-round ratios of two paired series."""
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def summarise(times: Dict[str, List[float]], batch_size: int, train: bool) -> Dict[str, Any]:
    """Medians (ms per batch, or images per second for training) and, for two candidates, the
    ratio of the first to the second (latency ratio, or throughput ratio for training)."""
    names = list(times)
    summary: Dict[str, Any] = {}
    for name in names:
        ms = statistics.median(times[name]) * 1e3
        summary[name] = {"images_per_s": round(batch_size * 1e3 / ms, 2)} if train else {"latency_ms": round(ms, 3)}
    if len(names) == 2:
        first, second = times[names[0]], times[names[1]]
        summary["ratio"] = round(median_ratio(second, first) if train else median_ratio(first, second), 4)
    return summary


def parc_crossover(lengths: Sequence[int], channels: int = 96, batch_size: int = 1, repeats: int = 15,
                   implementations: Sequence[str] = ("circulant", "fft", "concat_conv")) -> Dict[int, Dict[str, float]]:
    """Milliseconds of one depth-wise ParC convolution along H and one along W of a ``batch_size x
    channels x L x L`` map, per implementation and length ``L`` (paired, interleaved, no gradients)."""
    table: Dict[int, Dict[str, float]] = {}
    for length in lengths:
        generator = torch.Generator().manual_seed(length)
        x = torch.randn(batch_size, channels, length, length, generator=generator)
        kernel, bias = torch.randn(channels, length, generator=generator), torch.randn(channels, generator=generator)
        prepared = {name: parc.prepare_kernel(kernel, name) for name in implementations}

        def runner(name: str) -> Run:
            def run() -> None:
                with torch.no_grad():
                    for axis in (2, 3):
                        parc.parc_depthwise(x, prepared[name], name, bias, axis)
            return run

        times = paired_times({name: runner(name) for name in implementations}, 3, repeats)
        table[length] = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    return table


def format_crossover(table: Dict[int, Dict[str, float]]) -> str:
    names = list(next(iter(table.values())))
    lines = [f"{'length':>8}" + "".join(f"{n + ' (ms)':>18}" for n in names) + f"{'circulant / fft':>18}"]
    for length, row in table.items():
        ratio = row["circulant"] / row["fft"] if "circulant" in row and "fft" in row else float("nan")
        lines.append(f"{length:>8}" + "".join(f"{row[n]:>18.3f}" for n in names) + f"{ratio:>18.2f}")
    return "\n".join(lines)


def time_models(opts: Any, models: Dict[str, Tuple[nn.Module, str, bool]], size: Sequence[int]) -> Dict[str, Any]:
    """Time ``models`` (name -> (model, task, fold it for inference)) paired and interleaved as the
    ``benchmark.*`` options say (inference on ``benchmark.backend``, or training steps with
    ``benchmark.train``), print the results and return them (the first model's, and the comparison
    when there are two)."""
    from engine.inference_backends import PreparedModel, training_step

    backend, train = getattr(opts, "benchmark.backend"), bool(getattr(opts, "benchmark.train"))
    batch_size = int(getattr(opts, "benchmark.batch_size"))
    warmup, repeats = int(getattr(opts, "benchmark.warmup")), int(getattr(opts, "benchmark.repeats"))
    channels_last = bool(getattr(opts, "common.channels_last"))
    x = torch.rand(batch_size, 3, *size, generator=torch.Generator().manual_seed(0))
    runs: Dict[str, Run] = {}
    for name, (model, task, fuse) in models.items():
        if train:
            runs[name] = training_step(model, x, backend)
        else:
            prepared = PreparedModel(model, task, backend, x, fuse=fuse, channels_last=channels_last)
            folded = " (folded)" if fuse else ""
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
    result: Dict[str, Any] = {"backend": backend, "batch_size": batch_size, "threads": torch.get_num_threads(),
                              "fused": models[names[0]][2] and not train, "train": train, **summary[names[0]]}
    if len(names) == 2:
        kind = "throughput" if train else "latency"
        print(f"  {kind} ratio {names[0]} / {names[1]}: {summary['ratio']:.3f} (median of per-round ratios)")
        result["compare"] = {"model": names[1], **summary[names[1]], f"{kind}_ratio": summary["ratio"]}
    return result
