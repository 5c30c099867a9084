"""Timing exported files for ``main_benchmark.py``: an export given with ``--inference.model``, or the
configs' models exported on the spot for ``--benchmark.backend executorch`` and, with
``--export.quantize int8``, in float32 and INT8 side by side (paired and interleaved, as every
timing of the project: :func:`engine.benchmark.paired_times`).

On-the-spot INT8 exports are calibrated on ``export.calibration_images`` images of the config's
training set when ``dataset.root_train`` is there, else on random images (the latency does not
depend on the calibration, the agreement printed then means little).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Dict, Sequence, Tuple

import torch
from torch import Tensor, nn

from cvnets.misc.fuse import fuse_for_inference
from deploy.deployed import open_file, read_sidecar
from engine import export
from engine.benchmark import Run, paired_times, summarise
from utils.errors import ConfigError

SUFFIX = {"onnxruntime": ".onnx", "executorch": ".pte"}


def _calibration(opts: Any, size: Sequence[int]) -> Tensor:
    from deploy.calibration import calibration_images

    count = int(getattr(opts, "export.calibration_images"))
    root = getattr(opts, "dataset.root_train")
    if root and Path(root).is_dir():
        return calibration_images(opts, count, size)
    print(f"INT8 calibrated on {count} random images (dataset.root_train {root} is not there): for timing only")
    return torch.rand(count, 3, *size, generator=torch.Generator().manual_seed(0))


def export_for_timing(model: nn.Module, task: str, x: Tensor, backend: str, images: Any, folder: Path) -> Run:
    """Export ``model`` for ``backend`` (INT8 when ``images`` are given), check it and return a run on ``x``."""
    size = tuple(x.shape[-2:])
    path = folder / f"{id(model)}_{'int8' if images is not None else 'float32'}{SUFFIX[backend]}"
    reference = export.deployable(model, task, size)
    with export.onnx_implementation():
        if backend == "executorch":
            from deploy.executorch_export import export_executorch

            checked = export_executorch(reference, x[:1], path, task, images)
        else:
            float_path = path.with_name("float32_" + path.name)
            export.export_module(export.deployable(fuse_for_inference(model, size), task, size), x[:1], "onnx",
                                 float_path, task)
            checked = None
            if images is not None:
                from deploy.quantize_onnx import quantize_onnx

                checked = quantize_onnx(float_path, path, images, task, 1, export.INPUT_NAME,
                                        lambda file: export.load_runner(file, "onnx"))
            else:
                path = float_path
    run = open_file(path, "executorch" if backend == "executorch" else "onnx", backend)
    if checked is None:
        error = export.check_parity(run, reference, x[:1])
        print(f"  {backend} float32 export within {error:.1e} of eager PyTorch")
    else:
        print(f"  {backend} int8 export: kept float32: {', '.join(checked[0]['kept_float32']) or 'none'}")
    array = x[:1].numpy()
    return lambda: run(array)


def time_files(opts: Any, models: Dict[str, Tuple[nn.Module, str, bool]], size: Sequence[int]) -> Dict[str, Any]:
    """Time exports on ``benchmark.backend`` (batch 1): the ``inference.model`` file, or the models of
    ``models`` (name -> (model, task, fold)) exported now, in float32 and, with ``export.quantize
    int8``, INT8; print and return the medians, the INT8 speed-ups and the ratio of the first
    model to the second."""
    backend, int8 = getattr(opts, "benchmark.backend"), getattr(opts, "export.quantize") == "int8"
    if backend not in SUFFIX:
        raise ConfigError(f"benchmark.backend {backend}: exported files are timed on {' or '.join(SUFFIX)}")
    if int(getattr(opts, "benchmark.batch_size")) != 1 or getattr(opts, "benchmark.train"):
        raise ConfigError("exported files are timed on inference at batch 1 (benchmark.batch_size 1, no "
                          "benchmark.train)")
    warmup, repeats = int(getattr(opts, "benchmark.warmup")), int(getattr(opts, "benchmark.repeats"))
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    folder = tempfile.TemporaryDirectory(prefix="parc_benchmark_")
    runs: Dict[Tuple[str, str], Run] = {}  # (model, precision) -> run
    given = getattr(opts, "inference.model")
    if given:
        path = Path(given)
        metadata = read_sidecar(path)
        run = open_file(path, metadata["format"], backend)
        array = torch.rand(1, 3, *metadata["input_size"], generator=torch.Generator().manual_seed(0)).numpy()
        runs[(path.name, (metadata.get("quantization") or {}).get("dtype", "float32"))] = lambda: run(array)
        models = dict(list(models.items())[1:])  # the file stands for this config's model
    images = _calibration(opts, size) if int8 else None
    for name, (model, task, _) in models.items():
        print(f"{name}: exporting for {backend}")
        runs[(name, "float32")] = export_for_timing(model, task, x, backend, None, Path(folder.name))
        if int8:
            runs[(name, "int8")] = export_for_timing(model, task, x, backend, images, Path(folder.name))
    times = paired_times({f"{m} {p}": run for (m, p), run in runs.items()}, warmup, repeats)
    print(f"inference on {backend}, batch 1, {size[0]}x{size[1]}, {torch.get_num_threads()} torch threads, "
          f"{repeats} interleaved rounds:")
    result: Dict[str, Any] = {"backend": backend, "batch_size": 1, "threads": torch.get_num_threads(), "files": {}}
    for name, series in times.items():
        result["files"][name] = {"latency_ms": summarise({name: series}, 1, False)[name]["latency_ms"]}
        print(f"  {name}: {result['files'][name]['latency_ms']:.2f} ms")
    for model_name, precision in runs:
        if precision == "int8" and (model_name, "float32") in runs:
            speedup = ratio(times[f"{model_name} float32"], times[f"{model_name} int8"])
            result["files"][f"{model_name} int8"]["speedup_over_float32"] = speedup
            print(f"  int8 speed-up of {model_name} (float32 / int8 per round, median): {speedup:.3f}")
    first_model, first_precision = next(iter(runs))
    others = [m for m, p in runs if m != first_model and p == first_precision]
    if others:
        first, other = f"{first_model} {first_precision}", f"{others[0]} {first_precision}"
        result["latency_ratio"] = {"of": first, "to": other, "ratio": ratio(times[first], times[other])}
        print(f"  latency ratio {first} / {other}: {result['latency_ratio']['ratio']:.3f} (median of per-round ratios)")
    result["latency_ms"] = next(iter(result["files"].values()))["latency_ms"]
    return result


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The median of the per-round ratios of two paired series of times."""
    return round(summarise({"a": list(numerator), "b": list(denominator)}, 1, False)["ratio"], 4)
