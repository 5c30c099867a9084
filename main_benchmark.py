"""Count a model's parameters and multiply-adds per stage, and optionally time it.

    python main_benchmark.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml
    python main_benchmark.py --common.config-file ... --benchmark.input-size 224 --benchmark.latency

    python main_benchmark.py --common.config-file config/classification/edgeformer/edgeformer_s.yaml \\
        --benchmark.compare config/classification/mobilevit/mobilevit_small.yaml --benchmark.backend onnxruntime

MACs follow the reference profiler's conventions (see cvnets/misc/profiler.py). The last line
printed is a JSON object: model, params, macs, input_size [h, w] (and latency_ms or images_per_s,
threads, backend, rounds, compare with the ratio's median, ``*_ratio_iqr`` and ``*_ratio_range``).

Timing (deploy/; every measurement goes through one routine, utils/timing.py): ``--benchmark.latency``
times inference on ``--benchmark.backend`` (a registered backend: eager, compile, onnxruntime, mnn,
executorch; the model folded for inference unless ``--inference.fuse false``); ``--benchmark.compare
OTHER_CONFIG`` times another model alongside, paired and interleaved, and prints the ratio of
their times round by round: its median, interquartile range and extremes
(``--benchmark.compare-fuse``: the model folded against itself unfolded); ``--benchmark.train``
times forward and backward passes instead (images per second at ``--benchmark.batch-size``).
Training (engine/): ``--benchmark.train --benchmark.backend compile`` times the engine's training
step compiled against eager, ``--benchmark.train --benchmark.variants fp32 bf16 channels_last
bf16+channels_last`` in those variants (compiled on the compile backend), paired, with what bf16
changes in the loss and gradients; ``--benchmark.loader FOLDER`` (or ``generated``) times the
config's training data loading against timm's, paired: the sample path by stage and the training
DataLoader (images per CPU-second, loading processes included, and per wall-second).
``--benchmark.compare-parc`` times the model with each implementation of the ParC convolution;
``--benchmark.parc-crossover`` times one ParC convolution per implementation on growing feature
maps. ``--benchmark.plot DIR`` measures every named model that has a published result, draws the
result charts (accuracy against parameters, MACs and latency per task) into DIR and lists the
files written; when one of them exists, it stops before measuring unless ``--benchmark.overwrite``
is given.
Exported files (deploy/file_benchmark.py, batch 1): ``--inference.model FILE`` times an export of
main_export.py on ``--benchmark.backend`` (onnxruntime, executorch) alongside the other models;
``--export.quantize int8`` times each model's float32 and INT8 exports side by side and prints the
INT8 speed-ups.
"""
from __future__ import annotations

import json
import sys
from typing import Optional, Sequence

from utils.entry import run_entry


def main(args: Optional[Sequence[str]] = None) -> None:
    from deploy.options import arguments_benchmark, arguments_quantize
    from options import build_parser, parse_options

    opts = parse_options(build_parser("Profile a model.", extra=[arguments_benchmark, arguments_quantize]), args)
    from deploy.benchmark_command import run_benchmark  # torch and the models, once the options are parsed
    from engine import loader_benchmark, step_benchmark
    from parcnet import create_model
    from utils.io import print_written

    result, files = run_benchmark(opts, create_model, loader_benchmark.benchmark_command,
                                  step_benchmark.benchmark_command)
    print_written(files)
    if result:
        print(json.dumps(result))


def cli() -> int:
    """The ``parcnet-benchmark`` command."""
    return run_entry(main)


if __name__ == "__main__":
    sys.exit(cli())
