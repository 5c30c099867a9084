"""Timing exported files for ``main_benchmark.py`` (batch 1): an export given with
``--inference.model``, and with ``--export.quantize int8`` the configs' models in float32 and INT8
side by side, on ``--benchmark.backend`` (onnxruntime or executorch). The float32 models run on the
registered backend after its parity check (:class:`deploy.prepared.PreparedModel`); every series is
timed by the one timing routine (:func:`utils.timing.paired_times`).

On-the-spot INT8 exports are calibrated on ``export.calibration_images`` images of the config's
training set when ``dataset.root_train`` is there, else on random images (the latency does not
depend on the calibration; the agreement printed then means little).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Dict, Sequence, Tuple

import torch
from torch import Tensor, nn

from cvnets.misc.fuse import fuse_for_inference
from deploy import export
from deploy.benchmark import summarise
from deploy.deployed import open_file, read_sidecar
from deploy.prepared import PreparedModel
from utils.timing import Run, paired_times, ratio_spread
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


def int8_for_timing(model: nn.Module, task: str, x: Tensor, backend: str, images: Tensor, folder: Path) -> Run:
    """Export ``model`` in INT8 for ``backend``, calibrated on ``images``, and return a run on ``x``."""
    size = tuple(x.shape[-2:])
    path = folder / f"{id(model)}_int8{SUFFIX[backend]}"
    with export.exported_implementation(int8=backend == "onnxruntime"):
        folded = export.deployed(fuse_for_inference(model, size), size)
        if backend == "executorch":
            from deploy.executorch_export import export_executorch

            record, _ = export_executorch(folded, x[:1], path, task, images)
        else:
            from deploy.quantize_onnx import quantize_onnx

            float_path = path.with_name("float32_" + path.name)
            export.export_module(folded, x[:1], "onnx", float_path, model.output_names)
            record, _ = quantize_onnx(float_path, path, images, task, 1, export.INPUT_NAME,
                                      lambda file: export.load_runner(file, "onnx"))
    print(f"  {backend} int8 export: kept float32: {', '.join(record['kept_float32']) or 'none'}")
    run, array = open_file(path, "executorch" if backend == "executorch" else "onnx", backend,
                           list(model.output_names)), x[:1].numpy()
    return lambda: run(array)


def time_files(opts: Any, models: Dict[str, Tuple[nn.Module, bool]], size: Sequence[int]) -> Dict[str, Any]:
    """Time on ``benchmark.backend`` (batch 1) the ``inference.model`` file, which stands for the
    first model, and the models of ``models`` (name -> (model, fold it)) in float32 and, with
    ``export.quantize int8``, INT8; print and return the medians, the INT8 speed-ups (float32 /
    INT8, the median of the per-round ratios) and the latency ratios of the first model to the
    second, in each precision (``latency_ratio``: the first of them)."""
    backend, int8 = getattr(opts, "benchmark.backend"), getattr(opts, "export.quantize") == "int8"
    if backend not in SUFFIX:
        raise ConfigError(f"benchmark.backend {backend}: exported files are timed on {' or '.join(SUFFIX)}")
    if int(getattr(opts, "benchmark.batch_size")) != 1 or getattr(opts, "benchmark.train"):
        raise ConfigError("exported files are timed on inference at batch 1 (benchmark.batch_size 1, no "
                          "benchmark.train)")
    warmup, repeats = int(getattr(opts, "benchmark.warmup")), int(getattr(opts, "benchmark.repeats"))
    task = getattr(opts, "dataset.category")
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0))
    folder = tempfile.TemporaryDirectory(prefix="parc_benchmark_")
    runs: Dict[Tuple[str, str], Run] = {}  # (model, precision) -> run
    kept = []  # the prepared backends, whose temporary files their runs need
    given = getattr(opts, "inference.model")
    if given:
        path = Path(given)
        metadata = read_sidecar(path)
        run = open_file(path, metadata["format"], backend, list(metadata.get("outputs") or ()))
        array = torch.rand(1, 3, *metadata["input_size"], generator=torch.Generator().manual_seed(0)).numpy()
        runs[(path.name, (metadata.get("quantization") or {}).get("dtype", "float32"))] = lambda: run(array)
        models = dict(list(models.items())[1:])  # the file stands for this config's model
    images = _calibration(opts, size) if int8 else None
    for name, (model, fuse) in models.items():
        prepared = PreparedModel(model, backend, x, fuse=fuse)
        print(f"{name}: {backend} float32 outputs within {prepared.error:.1e} of eager PyTorch")
        kept.append(prepared)
        runs[(name, "float32")] = prepared.run
        if int8:
            runs[(name, "int8")] = int8_for_timing(model, task, x, backend, images, Path(folder.name))
    times = paired_times({f"{m} {p}": run for (m, p), run in runs.items()}, warmup, repeats)
    print(f"inference on {backend}, batch 1, {size[0]}x{size[1]}, {torch.get_num_threads()} torch threads, "
          f"{repeats} interleaved rounds:")
    result: Dict[str, Any] = {"backend": backend, "batch_size": 1, "threads": torch.get_num_threads(), "files": {}}
    for name, series in times.items():
        result["files"][name] = summarise({name: series}, 1, False)[name]
        print(f"  {name}: {result['files'][name]['latency_ms']:.2f} ms")
    for model_name, precision in runs:
        if precision == "int8" and (model_name, "float32") in runs:
            spread = ratio_spread(times[f"{model_name} float32"], times[f"{model_name} int8"])
            result["files"][f"{model_name} int8"]["speedup_over_float32"] = round(spread.median, 4)
            print(f"  int8 speed-up of {model_name} (float32 / int8 per round): {spread}")
    first_model = next(iter(runs))[0]
    for precision in dict.fromkeys(p for m, p in runs if m == first_model):
        others = [m for m, p in runs if m != first_model and p == precision]
        if others:
            first, other = f"{first_model} {precision}", f"{others[0]} {precision}"
            spread = ratio_spread(times[first], times[other])
            result.setdefault("latency_ratio", {"of": first, "to": other, "ratio": round(spread.median, 4)})
            result.setdefault("latency_ratios", []).append({"of": first, "to": other, **spread.rounded()})
            print(f"  latency ratio {first} / {other}: {spread}")
    result["latency_ms"] = next(iter(result["files"].values()))["latency_ms"]
    return result
