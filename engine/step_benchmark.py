"""Training images per second of a config's model in variants of the training step, paired.

    python -m engine.step_benchmark --config config/classification/edgeformer/edgeformer_s.yaml \\
        --batch 16 --size 256 [--channels-last] [--bf16] [--device cuda]        # eager against compiled
    python -m engine.step_benchmark --config ... --variants fp32 bf16 channels_last bf16+channels_last [--compile]

Every variant starts from the same weights and runs the training step of the engine
(:class:`~engine.training_step.TrainingStep`: uint8 batch normalised on the device, forward and
loss under autocast, backward, optimizer step) on one fixed batch. A variant is eager or compiled
(``torch.compile``), float32 (``fp32``) or under bfloat16 autocast (``bf16``), in the contiguous or
the ``channels_last`` memory format. Without ``--variants`` the step runs eager against compiled
(both with ``--channels-last`` and ``--bf16`` as given); ``--variants`` names the variants (parts
joined by ``+``), each compiled with ``--compile``. After a first step each (a compiled variant's
compiles its graph; its time is reported), they run in alternation, the order switching every round
(:func:`utils.timing.paired_times`); a round's ratio is a variant's images/s over the first
variant's, reported as median, interquartile range and range.

What bfloat16 costs numerically (:func:`engine.step_variants.bf16_differences`): for each bf16 variant, one eager step
from the initial weights on the batch, against float32 in the same memory format.

Training selects the variants with ``--common.mixed-precision true --common.mixed-precision-dtype
bfloat16`` (bf16 autocast on the CPU), ``--common.channels-last true`` and ``--common.compile true``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from engine.step_variants import PARTS, Variant, bf16_differences, build_step, eager_and_compiled, fixed_batch, \
    parse_variants, synchronize
from utils.compile_settings import CompileSettings
from utils.errors import ConfigError
from utils.timing import paired_times, ratio_spread, spread_text

def _steps(step: Any, batch: Dict[str, torch.Tensor], steps: int, device: torch.device) -> Callable[[], None]:
    def run() -> None:
        for _ in range(steps):
            step(batch)
        synchronize(device)
    return run


def compare(opts: Any, variants: Sequence[Variant], batch_size: int, size: Tuple[int, int], steps: int,
            rounds: int, warmup: int = 0, device: str = "cpu",
            settings: Optional[CompileSettings] = None) -> Dict[str, Any]:
    """The training steps of ``variants`` of the options' model, paired (see the module's docstring).

    Args:
        opts: the training options (model, loss, optimizer, input convention).
        variants: the variants; the first is the reference of the ratios.
        batch_size, size: the fixed batch (height, width).
        steps: training steps per round and variant.
        rounds: timed rounds; ``warmup``: untimed rounds after the first step.
        device: where the steps run.
        settings: how compiled variants compile (default: inductor, default mode).

    Returns:
        the settings, ``first_step_seconds`` and ``images_per_second`` (median) of each variant,
        ``ratios`` (each variant after the first against the first: median, IQR, range) and
        ``bf16_differences`` (:func:`engine.step_variants.bf16_differences`, for each bf16 variant).
    """
    from cvnets import get_model

    if getattr(opts, "dataset.category") != "classification":
        raise ConfigError(f"{getattr(opts, 'common.config_file')}: the step benchmark times classification training "
                          f"steps, not dataset.category {getattr(opts, 'dataset.category')}")
    where = torch.device(device)
    torch.manual_seed(0)
    initial = get_model(opts).to(where)
    batch = fixed_batch(opts, batch_size, size)
    built = {v.name: build_step(opts, initial, v, where, settings) for v in variants}
    first = {}
    for name, step in built.items():
        started = time.perf_counter()
        _steps(step, batch, 1, where)()
        first[name] = time.perf_counter() - started
    seconds = paired_times({name: _steps(step, batch, steps, where) for name, step in built.items()}, warmup, rounds)
    rates = {name: [steps * batch_size / s for s in values] for name, values in seconds.items()}
    reference = variants[0].name
    return {"batch": batch_size, "size": list(size), "steps": steps, "rounds": rounds, "device": device,
            "threads": torch.get_num_threads(), "compile": str(settings or CompileSettings()),
            "variants": [vars(v) for v in variants], "first_step_seconds": first,
            "images_per_second": {name: float(np.median(values)) for name, values in rates.items()},
            "ratios": {v.name: ratio_spread(rates[v.name], rates[reference]).rounded() for v in variants[1:]},
            "bf16_differences": {v.name: bf16_differences(opts, initial, batch, v, where) for v in variants if v.bf16}}


def report(name: str, result: Dict[str, Any]) -> str:
    """The lines of :func:`compare`'s result for the config ``name``."""
    variants = result["variants"]
    reference = variants[0]["name"]
    kinds = ", ".join(f"{v['name']} ({'compiled' if v['compiled'] else 'eager'}, "
                      f"{'bf16 autocast' if v['bf16'] else 'float32'}"
                      f"{', channels_last' if v['channels_last'] else ''})" for v in variants)
    lines = [f"{name}: training steps, batch {result['batch']}, {result['size'][0]}x{result['size'][1]}, "
             f"{result['device']}, {result['threads']} threads, {result['rounds']} rounds of {result['steps']} steps",
             f"  variants: {kinds}" + (f"; torch.compile {result['compile']}" if any(v["compiled"] for v in variants)
                                       else ""),
             "  first step: " + ", ".join(f"{k} {s:.2f} s" for k, s in result["first_step_seconds"].items()),
             "  training images/s: " + ", ".join(f"{k} {r:.1f}" for k, r in result["images_per_second"].items())
             + " (medians)"]
    lines += [f"  {k} / {reference}: {spread_text(ratio)}" for k, ratio in result["ratios"].items()]
    for k, diff in result["bf16_differences"].items():
        lines.append(f"  {k} against float32 (same memory format), one eager step from the same weights on the "
                     f"same batch: loss {diff['loss']:.1e} relative difference, gradients {diff['gradients']:.1e} "
                     f"(largest difference relative to the largest gradient)")
    return "\n".join(lines)


def benchmark_command(opts: Any, size: Tuple[int, int], warmup: int, repeats: int) -> Dict[str, Any]:
    """``main_benchmark.py --benchmark.train`` with ``--benchmark.backend compile`` (the step eager
    against compiled, as the config trains: ``common.channels_last``, bf16 autocast when
    ``common.mixed_precision`` asks for bfloat16) or ``--benchmark.variants`` (compiled on the
    compile backend): one step per round, ``benchmark.batch_size`` images of ``size``; prints the report.

    Returns:
        ``{"training_steps": the result of compare}``.
    """
    from utils.device_defaults import amp_dtype_name

    compiled = getattr(opts, "benchmark.backend") == "compile"
    names = getattr(opts, "benchmark.variants")
    bf16 = amp_dtype_name("cpu", bool(getattr(opts, "common.mixed_precision")),
                          getattr(opts, "common.mixed_precision_dtype")) == "bfloat16"
    variants = (parse_variants(names, compiled) if names
                else eager_and_compiled(bf16, bool(getattr(opts, "common.channels_last"))))
    settings = CompileSettings(getattr(opts, "common.compile_mode"), getattr(opts, "common.compile_backend"))
    result = compare(opts, variants, int(getattr(opts, "benchmark.batch_size")), size, 1, repeats, warmup,
                     settings=settings)
    print(report(Path(getattr(opts, "common.config_file") or "model").stem, result), flush=True)
    return {"training_steps": result}


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the comparison, print the report (or JSON); returns the result.

    Args:
        argv: command-line arguments (see ``--help``); ``None``: ``sys.argv``.

    Returns:
        the result of :func:`compare`.
    """
    from options import get_training_arguments
    from utils.compile_settings import COMPILE_BACKENDS, COMPILE_MODES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="config/classification/edgeformer/edgeformer_s.yaml")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5, help="training steps per round and variant")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="inductor", choices=COMPILE_BACKENDS)
    parser.add_argument("--mode", default="default", choices=COMPILE_MODES)
    parser.add_argument("--channels-last", action="store_true", help="without --variants: both in channels_last")
    parser.add_argument("--bf16", action="store_true", help="without --variants: both under bfloat16 autocast")
    parser.add_argument("--variants", nargs="+", metavar="VARIANT",
                        help=f"variants to pair ({', '.join(PARTS)}, joined by +), the first the reference")
    parser.add_argument("--compile", action="store_true", help="with --variants: compile every variant")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args(argv)
    if args.variants and (args.channels_last or args.bf16):
        parser.error("with --variants, name channels_last and bf16 in the variants")
    variants = parse_variants(args.variants, args.compile) if args.variants else eager_and_compiled(args.bf16,
                                                                                                     args.channels_last)
    opts = get_training_arguments(["--common.config-file", args.config])
    result = compare(opts, variants, args.batch, (args.size, args.size), args.steps, args.rounds, device=args.device,
                     settings=CompileSettings(args.mode, args.backend))
    print(json.dumps(result) if args.json else report(args.config, result), flush=True)
    return result


if __name__ == "__main__":
    from utils.entry import run_entry

    raise SystemExit(run_entry(main))
