"""Count a model's parameters and multiply-adds per stage, and optionally time it.

    python main_benchmark.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml
    python main_benchmark.py --common.config-file ... --benchmark.input-size 224 --benchmark.latency

    python main_benchmark.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml \\
        --benchmark.compare config/classification/mobilevit/mobilevit_small.yaml --benchmark.backend onnxruntime

MACs follow the reference profiler's conventions (see cvnets/misc/profiler.py). The last line
printed is a JSON object: model, params, macs, input_size [h, w] (and latency_ms or images_per_s,
threads, backend, compare).

Timing (engine/benchmark.py): ``--benchmark.latency`` times inference on ``--benchmark.backend``
(eager, compile, onnxruntime or mnn; the model folded for inference unless ``--inference.fuse
false``); ``--benchmark.compare OTHER_CONFIG`` times another model alongside, paired and
interleaved, and prints the ratio (``--benchmark.compare-fuse``: the model folded against itself
unfolded); ``--benchmark.train`` times forward and backward passes instead (images per second at
``--benchmark.batch-size``). ``--benchmark.compare-parc`` times
the model with each implementation of the ParC convolution; ``--benchmark.parc-crossover`` times
one ParC convolution per implementation on growing feature maps.
Exported files (deploy/file_benchmark.py, batch 1): ``--inference.model FILE`` times an export of
main_export.py on ``--benchmark.backend`` (onnxruntime, executorch); ``--benchmark.backend executorch``
exports the models to ExecuTorch first; ``--export.quantize int8`` times each model's float32 and
INT8 exports side by side and prints the INT8 speed-ups.
``--benchmark.plot DIR`` measures every named model that has a published result and draws the
result charts (accuracy against parameters, MACs and latency per task) into DIR.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from deploy.quantize_options import arguments_quantize
from engine.inference_backends import BACKENDS
from utils.entry import run_entry
from utils.errors import ConfigError
from utils.opts import add_options


def arguments_benchmark(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("Benchmark")
    add_options(group, "--benchmark", [
        ("input-size", None, "input side (one value) or height and width (default: the config's crop size)",
         dict(type=int, nargs="+", metavar="SIDE")),
        ("batch-size", 1, "batch size of the timed runs"),
        ("latency", False, "also time the forward pass"),
        ("compare-parc", False, "time the ParC convolutions' implementations side by side"),
        ("backend", "eager", "how timed inference runs: eager PyTorch, torch.compile, onnxruntime, MNN (optional) or "
                             "ExecuTorch (optional)", dict(choices=BACKENDS + ("executorch",))),
        ("compare", None, "another config to time alongside this one, paired and interleaved (prints the ratio)",
         dict(type=str)),
        ("compare-fuse", False, "time the model folded for inference and unfolded, paired and interleaved"),
        ("train", False, "time training steps (forward and backward) instead of inference: images per second"),
        ("parc-crossover", False, "time one ParC convolution per implementation on square maps of growing size"),
        ("warmup", 5, "untimed runs first"),
        ("repeats", 30, "timed runs (the median is reported)"),
        ("threads", None, "torch CPU threads (default: torch's)", dict(type=int)),
        ("plot", None, "draw the result charts of the named models into this folder (see engine/benchmark_charts.py)",
         dict(type=str)),
        ("plot-models", None, "models of the charts (default: every named model with a published result)",
         dict(type=str, nargs="+")),
    ])
    return parser


def input_size(opts: Any) -> List[int]:
    size = getattr(opts, "benchmark.input_size")
    if size:
        if len(size) not in (1, 2):
            raise ConfigError(f"benchmark.input_size takes one or two values, got {size}")
        return [size[0], size[0]] if len(size) == 1 else list(size)
    prefix = "sampler.vbs" if str(getattr(opts, "sampler.name")).startswith("variable") else "sampler.bs"
    return [int(getattr(opts, f"{prefix}.crop_size_height")), int(getattr(opts, f"{prefix}.crop_size_width"))]


def median_ms(run: Callable[[], Any], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def models_to_time(opts: Any, model: torch.nn.Module, name: str) -> Dict[str, Any]:
    """``name -> (model, task, fold it)``: the model, or the model folded and unfolded
    (``benchmark.compare_fuse``), and the ``benchmark.compare`` config's model."""
    from cvnets import get_model
    from options import build_parser, parse_options

    task, fuse = getattr(opts, "dataset.category"), bool(getattr(opts, "inference.fuse"))
    models = {name: (model, task, fuse)}
    if getattr(opts, "benchmark.compare_fuse"):
        models = {f"{name} folded": (model, task, True), f"{name} unfolded": (model, task, False)}
    other = getattr(opts, "benchmark.compare")
    if other:
        other_opts = parse_options(build_parser("Profile a model.", extra=[arguments_benchmark, arguments_quantize]),
                                   ["--common.config-file", other])
        other_name = Path(getattr(other_opts, "common.config_file")).stem
        models[other_name if other_name != name else f"{other_name} ({other})"] = (
            get_model(other_opts).eval(), getattr(other_opts, "dataset.category"), fuse)
    return models


def main(args: Optional[Sequence[str]] = None) -> None:
    from cvnets import get_model
    from cvnets.misc.profiler import format_profile, profile_model
    from cvnets.modules import parc
    from data.transforms import image_to_tensor
    from options import build_parser, parse_options

    opts = parse_options(build_parser("Profile a model.", extra=[arguments_benchmark, arguments_quantize]), args)
    threads = getattr(opts, "benchmark.threads")
    if threads:
        torch.set_num_threads(threads)
    if getattr(opts, "benchmark.plot"):
        from engine.benchmark_charts import benchmark_charts
        from parcnet import create_model

        benchmark_charts(opts, create_model)
        return
    model = get_model(opts).eval()
    h, w = input_size(opts)
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
    warmup, repeats = int(getattr(opts, "benchmark.warmup")), int(getattr(opts, "benchmark.repeats"))
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"benchmark.repeats must be at least 1 and benchmark.warmup at least 0, "
                          f"got {repeats} and {warmup}")
    combined = getattr(opts, "benchmark.compare") or getattr(opts, "benchmark.train")
    if getattr(opts, "benchmark.compare_fuse") and combined:
        raise ConfigError("benchmark.compare_fuse times one model folded and unfolded for inference; it cannot be "
                          "combined with benchmark.compare or benchmark.train")
    timed = any((getattr(opts, "benchmark.latency"), getattr(opts, "benchmark.compare"),
                 getattr(opts, "benchmark.compare_fuse"), getattr(opts, "benchmark.train"),
                 getattr(opts, "benchmark.backend") != "eager", getattr(opts, "inference.model"),
                 getattr(opts, "export.quantize") == "int8"))
    if timed:
        from engine.benchmark import time_models

        exported = (getattr(opts, "inference.model") or getattr(opts, "export.quantize") == "int8"
                    or getattr(opts, "benchmark.backend") == "executorch")
        if exported:
            from deploy.file_benchmark import time_files

            result.update(time_files(opts, models_to_time(opts, model, name), (h, w)))
        else:
            result.update(time_models(opts, models_to_time(opts, model, name), (h, w)))
    if getattr(opts, "benchmark.parc_crossover"):
        from engine.benchmark import format_crossover, parc_crossover

        table = parc_crossover((8, 16, 32, 48, 64, 96, 128, 192, 256), repeats=max(5, repeats // 2))
        print(format_crossover(table))
        result["parc_crossover_ms"] = {str(k): {n: round(v, 4) for n, v in row.items()} for k, row in table.items()}
        result["threads"] = torch.get_num_threads()
    if getattr(opts, "benchmark.compare_parc"):
        # a random picture in the model's input convention (channel order, normalisation)
        picture = torch.randint(0, 256, (h, w, 3), dtype=torch.uint8).numpy()
        x = image_to_tensor(picture, opts).expand(int(getattr(opts, "benchmark.batch_size")), 3, h, w).contiguous()

        def forward() -> None:
            with torch.no_grad():
                model(x)

        impls = [impl for impl in parc.IMPLEMENTATIONS if impl != "auto"]
        times: Dict[str, List[float]] = {impl: [] for impl in impls}
        for _ in range(max(1, repeats // 5)):  # alternate, so all see the same machine state
            for impl in impls:
                with parc.using_implementation(impl):
                    times[impl].append(median_ms(forward, 2, 5))
        medians = {impl: statistics.median(t) for impl, t in times.items()}
        for impl, ms in medians.items():
            print(f"ParC implementation {impl}: {ms:.3f} ms")
        result["parc_speedup"] = round(medians["concat_conv"] / medians["circulant"], 3)
        result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


def cli() -> int:
    """The ``parcnet-benchmark`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
