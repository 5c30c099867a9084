"""Timing the ParC convolution's implementations: inside a model (``--benchmark.compare-parc``) and
alone on growing feature maps (``--benchmark.parc-crossover``), paired and interleaved."""
from __future__ import annotations

from typing import Any, Dict, Sequence, Tuple

import torch
from torch import Tensor, nn

from cvnets.modules import parc
from utils.timing import Run, Spread, median_ms, paired_times, ratio_spread


def with_implementation(name: str, run: Run) -> Run:
    """``run`` with the ParC convolutions computed by the implementation ``name``."""
    def timed() -> Any:
        with parc.using_implementation(name):
            return run()

    return timed


def compare_parc(model: nn.Module, x: Tensor, warmup: int, repeats: int) -> Dict[str, Any]:
    """Time ``model`` on ``x`` with each implementation of the ParC convolution; print and return
    each one's median milliseconds and the speed-up of ``circulant`` over ``concat_conv``
    (``parc_speedup``: the median of the per-round ratios, with ``parc_speedup_iqr`` and
    ``parc_speedup_range``)."""
    def forward() -> None:
        with torch.no_grad():
            model(x)

    implementations = [name for name in parc.IMPLEMENTATIONS if name != "auto"]
    times = paired_times({name: with_implementation(name, forward) for name in implementations}, warmup, repeats)
    for name, seconds in times.items():
        print(f"ParC implementation {name}: {median_ms(seconds):.3f} ms")
    speedup = ratio_spread(times["concat_conv"], times["circulant"])
    print(f"ParC speed-up of circulant over concat_conv: {speedup} (per-round ratios over {repeats} rounds)")
    rounded = speedup.rounded()
    return {"parc_speedup": rounded["median"], "parc_speedup_iqr": rounded["iqr"],
            "parc_speedup_range": rounded["range"], "threads": torch.get_num_threads()}


def parc_crossover(lengths: Sequence[int], channels: int = 96, batch_size: int = 1, repeats: int = 15,
                   implementations: Sequence[str] = ("circulant", "fft", "concat_conv"),
                   ) -> Tuple[Dict[int, Dict[str, float]], Dict[int, Spread]]:
    """Milliseconds of one depth-wise ParC convolution along H and one along W of a ``batch_size x
    channels x L x L`` map, per length ``L`` and implementation (the median over paired rounds,
    no gradients), and per length the spread of the per-round ratios circulant / fft (when both
    are timed)."""
    table: Dict[int, Dict[str, float]] = {}
    ratios: Dict[int, Spread] = {}
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
        table[length] = {name: median_ms(seconds) for name, seconds in times.items()}
        if "circulant" in times and "fft" in times:
            ratios[length] = ratio_spread(times["circulant"], times["fft"])
    return table, ratios


def format_crossover(table: Dict[int, Dict[str, float]], ratios: Dict[int, Spread]) -> str:
    """The crossover as a table: milliseconds per implementation, and the ratio circulant / fft
    (median, interquartile range and extremes of the per-round ratios)."""
    names = list(next(iter(table.values())))
    lines = [f"{'length':>8}" + "".join(f"{n + ' (ms)':>18}" for n in names)
             + f"  {'circulant / fft: median [interquartile range] (min to max)'}"]
    for length, row in table.items():
        spread = ratios.get(length)
        ratio = (f"{spread.median:.2f} [{spread.q1:.2f}, {spread.q3:.2f}] ({spread.low:.2f} to {spread.high:.2f})"
                 if spread else "-")
        lines.append(f"{length:>8}" + "".join(f"{row[n]:>18.3f}" for n in names) + f"  {ratio}")
    return "\n".join(lines)


def crossover_result(table: Dict[int, Dict[str, float]], ratios: Dict[int, Spread]) -> Dict[str, Any]:
    """The crossover's entries of the benchmark's JSON line."""
    return {"parc_crossover_ms": {str(k): {n: round(v, 4) for n, v in row.items()} for k, row in table.items()},
            "parc_crossover_circulant_over_fft": {str(k): spread.rounded() for k, spread in ratios.items()},
            "threads": torch.get_num_threads()}
