"""Training images per second of a config's model, eager against ``torch.compile``d, paired.

    python -m engine.step_benchmark --config config/classification/edgeformer/edgeformer_s.yaml \\
        --batch 16 --size 256 [--channels-last] [--bf16] [--device cuda]

Both models start from the same weights and run the training step of the engine
(:class:`~engine.training_step.TrainingStep`: uint8 batch normalised on the device, forward and
loss under autocast, backward, optimizer step) on one fixed batch. After a first step each (the
compiled one's compiles its graph; its time is reported), they run in alternation, the order
switching every round; a round's ratio is compiled images/s over eager images/s, reported as median,
interquartile range and range.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_step(opts: Any, model: torch.nn.Module, runtime: Any, channels_last: bool) -> Any:
    from engine.loop_helpers import BatchInputs
    from engine.training_step import TrainingStep
    from loss_fn import build_loss
    from optim import build_optimizer

    optimizer = build_optimizer(model, opts)
    for group in optimizer.param_groups:
        group["lr"] = 1e-4
    criterion = build_loss(opts).to(runtime.device)
    return TrainingStep(model, criterion, optimizer, runtime, BatchInputs(opts, channels_last))


def images_per_second(step: Any, batch: Dict[str, torch.Tensor], steps: int, device: torch.device) -> float:
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step(batch)
    _synchronize(device)
    return steps * len(batch["label"]) / (time.perf_counter() - started)


def compare(config: str, batch_size: int, size: int, steps: int, rounds: int, device: str = "cpu",
            backend: str = "inductor", mode: str = "default", channels_last: bool = False,
            bf16: bool = False) -> Dict[str, Any]:
    """Eager and compiled training steps of ``config``'s model, paired (see the module's docstring)."""
    from cvnets import get_model
    from engine.compilation import compile_model
    from options import get_training_arguments
    from utils.compile_settings import CompileSettings
    from utils.runtime import Runtime

    opts = get_training_arguments(["--common.config-file", config, "--common.channels-last", str(channels_last)])
    runtime = Runtime(device=torch.device(device), amp_dtype=torch.bfloat16 if bf16 else None)
    torch.manual_seed(0)
    eager = get_model(opts).to(runtime.device)
    if channels_last:
        eager = eager.to(memory_format=torch.channels_last)
    compiled = compile_model(copy.deepcopy(eager), CompileSettings(mode=mode, backend=backend))
    variants = {"eager": build_step(opts, eager, runtime, channels_last),
                "compiled": build_step(opts, compiled, runtime, channels_last)}
    n_classes = int(getattr(opts, "model.classification.n_classes"))
    batch = {"image": torch.randint(0, 256, (batch_size, 3, size, size), dtype=torch.uint8),
             "label": torch.randint(0, n_classes, (batch_size,))}
    first = {}
    for name, step in variants.items():
        started = time.perf_counter()
        images_per_second(step, batch, 1, runtime.device)
        first[name] = time.perf_counter() - started
    rates: Dict[str, List[float]] = {name: [] for name in variants}
    for round_ in range(rounds):
        for name in (("eager", "compiled") if round_ % 2 == 0 else ("compiled", "eager")):
            rates[name].append(images_per_second(variants[name], batch, steps, runtime.device))
    ratios = np.array(rates["compiled"]) / np.array(rates["eager"])
    quartiles = np.percentile(ratios, [25, 50, 75])
    return {"config": config, "batch": batch_size, "size": size, "steps": steps, "rounds": rounds, "device": device,
            "backend": backend, "mode": mode, "channels_last": channels_last, "bf16": bf16,
            "first_step_seconds": first, "images_per_second": {k: float(np.median(v)) for k, v in rates.items()},
            "ratio": {"median": float(quartiles[1]), "iqr": [float(quartiles[0]), float(quartiles[2])],
                      "range": [float(ratios.min()), float(ratios.max())]}}


def report(result: Dict[str, Any]) -> str:
    rate, ratio, first = result["images_per_second"], result["ratio"], result["first_step_seconds"]
    return "\n".join([
        f"{result['config']}: batch {result['batch']}, {result['size']}x{result['size']}, {result['device']}, "
        f"channels_last {result['channels_last']}, bf16 autocast {result['bf16']}; torch.compile backend "
        f"{result['backend']}, mode {result['mode']}; {result['rounds']} rounds of {result['steps']} steps",
        f"  first step: eager {first['eager']:.2f} s, compiled {first['compiled']:.2f} s (compiling)",
        f"  training images/s: eager {rate['eager']:.1f}, compiled {rate['compiled']:.1f} (medians)",
        f"  compiled / eager: median {ratio['median']:.2f}, IQR {ratio['iqr'][0]:.2f}-{ratio['iqr'][1]:.2f}, "
        f"range {ratio['range'][0]:.2f}-{ratio['range'][1]:.2f}"])


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the comparison, print the report (or JSON); returns the result.

    Args:
        argv: command-line arguments (see ``--help``); ``None``: ``sys.argv``.

    Returns:
        the result of :func:`compare`.
    """
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
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args(argv)
    result = compare(args.config, args.batch, args.size, args.steps, args.rounds, args.device, args.backend,
                     args.mode, args.channels_last, args.bf16)
    print(json.dumps(result) if args.json else report(result), flush=True)
    return result


if __name__ == "__main__":
    main()
