"""``main_benchmark.py``: count a model's parameters and multiply-adds per stage, time it as the
``benchmark.*`` options say, or draw the result charts of the named models."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import torch
from torch import nn

from cvnets import get_model
from cvnets.misc.profiler import format_profile, profile_model
from data.transforms import image_to_tensor
from deploy.benchmark import time_models
from deploy.charts import benchmark_charts
from deploy.file_benchmark import time_files
from deploy.input_size import input_size
from deploy.options import arguments_benchmark, arguments_quantize
from deploy.parc_timing import compare_parc, crossover_result, format_crossover, parc_crossover
from options import build_parser, parse_options
from utils.errors import ConfigError

CROSSOVER_LENGTHS = (8, 16, 32, 48, 64, 96, 128, 192, 256)


def check_benchmark_options(opts: Any) -> Tuple[int, int]:
    """``(warmup, repeats)``, after refusing the ``benchmark.*`` values that cannot work."""
    warmup, repeats = int(getattr(opts, "benchmark.warmup")), int(getattr(opts, "benchmark.repeats"))
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"benchmark.repeats must be at least 1 and benchmark.warmup at least 0, "
                          f"got {repeats} and {warmup}")
    if getattr(opts, "benchmark.compare_fuse") and (getattr(opts, "benchmark.compare") or getattr(opts, "benchmark.train")):
        raise ConfigError("benchmark.compare_fuse times one model folded and unfolded for inference; it cannot be "
                          "combined with benchmark.compare or benchmark.train")
    backend, train = getattr(opts, "benchmark.backend"), getattr(opts, "benchmark.train")
    if train and backend not in ("eager", "compile"):
        raise ConfigError(f"benchmark.train runs on the eager or compile backend, not {backend!r}")
    if getattr(opts, "benchmark.variants") and not train:
        raise ConfigError("benchmark.variants are variants of the training step: add --benchmark.train")
    timed = [key for key in ("train", "latency", "compare", "compare_fuse", "compare_parc", "parc_crossover")
             if getattr(opts, f"benchmark.{key}")]
    if getattr(opts, "benchmark.loader") and timed:
        raise ConfigError(f"benchmark.loader times data loading alone; it cannot be combined with benchmark.{timed[0]}")
    if training_steps(opts) and getattr(opts, "benchmark.compare"):
        raise ConfigError("benchmark.train with benchmark.backend compile or benchmark.variants times this config's "
                          "training step in variants; it cannot be combined with benchmark.compare")
    return warmup, repeats


def training_steps(opts: Any) -> bool:
    """Whether the options time the engine's training step in variants (compiled against eager, or
    ``benchmark.variants``) rather than forward and backward passes of the models."""
    return bool(getattr(opts, "benchmark.train")) and (getattr(opts, "benchmark.backend") == "compile"
                                                       or bool(getattr(opts, "benchmark.variants")))


def models_to_time(opts: Any, model: nn.Module, name: str) -> Dict[str, Tuple[nn.Module, bool]]:
    """``name -> (model, fold it)``: the model, or the model folded and unfolded
    (``benchmark.compare_fuse``), and the ``benchmark.compare`` config's model."""
    fuse = bool(getattr(opts, "inference.fuse"))
    models = {name: (model, fuse)}
    if getattr(opts, "benchmark.compare_fuse"):
        models = {f"{name} folded": (model, True), f"{name} unfolded": (model, False)}
    other = getattr(opts, "benchmark.compare")
    if other:
        other_opts = parse_options(build_parser("Profile a model.", extra=[arguments_benchmark, arguments_quantize]),
                                   ["--common.config-file", other])
        other_name = Path(getattr(other_opts, "common.config_file")).stem
        models[other_name if other_name != name else f"{other_name} ({other})"] = (get_model(other_opts).eval(), fuse)
    return models


Measure = Callable[..., Dict[str, Any]]


def run_benchmark(opts: Any, build: Callable[[str], nn.Module], loader: Measure,
                  steps: Measure) -> Tuple[Dict[str, Any], List[Path]]:
    """What ``main_benchmark.py`` does with its options.

    Args:
        opts: the parsed options (``benchmark.*`` among them).
        build: makes a named model (:func:`parcnet.create_model`), for the charts.
        loader: times the config's training data loading against timm's (``benchmark.loader``:
            :func:`engine.loader_benchmark.benchmark_command`).
        steps: times the engine's training step in variants (:func:`training_steps`:
            :func:`engine.step_benchmark.benchmark_command`, given the options, the input size,
            warmup and repeats).

    Returns:
        The result (model, params, macs, input_size and what was timed; the config and the
        loaders' measurements for ``benchmark.loader``; empty for the charts) and the files
        written (the charts' folder: ``benchmark.json`` and the charts).
    """
    threads = getattr(opts, "benchmark.threads")
    if threads:
        torch.set_num_threads(threads)
    warmup, repeats = check_benchmark_options(opts)
    if getattr(opts, "benchmark.plot"):
        return {}, benchmark_charts(opts, build)
    if getattr(opts, "benchmark.loader"):
        return loader(opts), []
    model = get_model(opts).eval()
    h, w = input_size(opts, "benchmark.input_size")
    name = Path(getattr(opts, "common.config_file") or "model").stem
    convention = model.profile_convention
    profile = profile_model(model, torch.zeros(1, 3, h, w), model.profile_stages(), convention)
    result: Dict[str, Any] = {"model": name, "params": int(profile.params), "macs": int(round(profile.macs)),
                              "input_size": [h, w]}
    where = f"{h}x{w}"
    if model.resizes_inputs:  # a detector that resizes its inputs itself
        result["resized_input_size"] = list(model.resized_input_size(h, w))
        where += " resized by the model to {}x{}".format(*result["resized_input_size"])
    print(format_profile(profile, f"{name} at {where} (MACs counted as {convention} does)"))
    files = getattr(opts, "inference.model") or getattr(opts, "export.quantize") == "int8"
    if files:  # exported files, or float32 and INT8 exports side by side
        result.update(time_files(opts, models_to_time(opts, model, name), (h, w)))
    elif training_steps(opts):
        result.update(steps(opts, (h, w), warmup, repeats))
    elif any((getattr(opts, "benchmark.latency"), getattr(opts, "benchmark.compare"),
              getattr(opts, "benchmark.compare_fuse"), getattr(opts, "benchmark.train"),
              getattr(opts, "benchmark.backend") != "eager")):
        result.update(time_models(opts, models_to_time(opts, model, name), (h, w)))
    if getattr(opts, "benchmark.parc_crossover"):
        table, ratios = parc_crossover(CROSSOVER_LENGTHS, repeats=max(5, repeats // 2))
        print(format_crossover(table, ratios))
        result.update(crossover_result(table, ratios))
    if getattr(opts, "benchmark.compare_parc"):
        # a random picture in the model's input convention (channel order, normalisation)
        picture = torch.randint(0, 256, (h, w, 3), dtype=torch.uint8).numpy()
        x = image_to_tensor(picture, opts).expand(int(getattr(opts, "benchmark.batch_size")), 3, h, w).contiguous()
        result.update(compare_parc(model, x, warmup, repeats))
    return result, []
