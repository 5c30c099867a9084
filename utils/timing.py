"""The one timing routine of the project, and the spread of paired ratios.

Every measurement (``--benchmark.latency``, the comparisons, the ParC implementations, the charts,
the training data loading and training step benchmarks of ``engine``) goes through
:func:`paired_times`: rounds that time each candidate once, in alternating order, so that all of
them see the same state of a shared machine. Each timed run follows an untimed run of the same
candidate, so that the caches hold its own weights, as in a deployment that runs the same model
frame after frame. A candidate must not leave work behind that slows the next one: onnxruntime's
worker threads spin for a while after a run unless told to stop (:func:`deploy.export.load_runner`
tells them); spinning, ParC-Net-S took 36 ms a run after MobileViT-S and 19 ms after itself (two
cores).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Tuple

Run = Callable[[], Any]


def paired_times(runs: Dict[str, Run], warmup: int, repeats: int, lead_in: int = 1) -> Dict[str, List[float]]:
    """Seconds of each run in each of ``repeats`` rounds, after ``warmup`` untimed rounds.

    Args:
        runs: name -> a function doing the work once.
        warmup: untimed rounds first.
        repeats: timed rounds; round ``i`` runs the candidates in their order for even ``i``,
            in reverse for odd ``i``.
        lead_in: untimed runs of a candidate right before each of its timed runs.

    Returns:
        name -> the seconds of its run in each timed round.
    """
    names = list(runs)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for _ in range(warmup):
        for name in names:
            runs[name]()
    for round_index in range(repeats):
        for name in (names if round_index % 2 == 0 else names[::-1]):
            for _ in range(lead_in):
                runs[name]()
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return times


def paired_clocks(runs: Dict[str, Run], warmup: int, repeats: int, clock: Callable[[], Any],
                  lead_in: int = 1) -> Tuple[Dict[str, List[float]], Dict[str, List[Any]]]:
    """:func:`paired_times`, also reading a second clock around each timed run (CPU seconds, say).

    Args:
        runs, warmup, repeats, lead_in: as for :func:`paired_times`.
        clock: seconds of what to read (``time.thread_time``; or several readings at once, a numpy
            array such as the CPU seconds of this process and of its children).

    Returns:
        ``(wall, clocked)``: name -> the seconds of its run in each timed round, by the wall clock
        and by ``clock``.
    """
    clocked: Dict[str, List[float]] = {name: [] for name in runs}

    def reading(name: str) -> Run:
        def run() -> None:
            start = clock()
            runs[name]()
            clocked[name].append(clock() - start)
        return run

    wall = paired_times({name: reading(name) for name in runs}, warmup, repeats, lead_in)
    # after the warmup, each round reads a candidate's lead-in runs, then its timed run
    return wall, {name: seconds[warmup:][lead_in::lead_in + 1] for name, seconds in clocked.items()}


@dataclass(frozen=True)
class Spread:
    """The median of a sample with its quartiles (``q1``, ``q3``) and extremes (``low``, ``high``)."""
    median: float
    q1: float
    q3: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        values = sorted(values)
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
        return cls(statistics.median(values), q1, q3, values[0], values[-1])

    def rounded(self, digits: int = 4) -> Dict[str, Any]:
        """``{"median", "iqr": [q1, q3], "range": [low, high]}``, rounded."""
        return {"median": round(self.median, digits), "iqr": [round(self.q1, digits), round(self.q3, digits)],
                "range": [round(self.low, digits), round(self.high, digits)]}

    def __str__(self) -> str:
        return (f"{self.median:.3f} (interquartile range {self.q1:.3f} to {self.q3:.3f}, "
                f"min {self.low:.3f}, max {self.high:.3f})")


def spread_text(rounded: Dict[str, Any]) -> str:
    """A :meth:`Spread.rounded` dict in short: ``median 1.02, IQR 0.98-1.05, range 0.91-1.10``."""
    return (f"median {rounded['median']:.2f}, IQR {rounded['iqr'][0]:.2f}-{rounded['iqr'][1]:.2f}, "
            f"range {rounded['range'][0]:.2f}-{rounded['range'][1]:.2f}")


def ratio_spread(numerator: Sequence[float], denominator: Sequence[float]) -> Spread:
    """The :class:`Spread` of the per-round ratios of two paired series."""
    return Spread.of([a / b for a, b in zip(numerator, denominator)])


def median_ms(seconds: Sequence[float]) -> float:
    """The median of ``seconds``, in milliseconds."""
    return statistics.median(seconds) * 1e3
