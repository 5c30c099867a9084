"""Charts drawn with matplotlib (no display needed): a run's training curves, and accuracy
against cost (parameters, multiply-adds, latency) for a set of models."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from utils.errors import DataError
from utils.io import atomic_write

SERIES = (("train", "training", "-"), ("val", "validation", "--"), ("val_ema", "validation (EMA)", ":"))


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # a Figure of its own: no pyplot state, no display

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(figure: Any, out_file: Path) -> Path:
    """Write ``figure`` to ``out_file`` atomically, in the format its suffix names (PNG without one)."""
    return atomic_write(out_file, lambda handle: figure.savefig(handle, format=out_file.suffix[1:] or "png"))


def read_metrics(path: Path) -> List[Dict[str, Any]]:
    """The records of a run's ``metrics.jsonl`` (one JSON object per epoch)."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, line {number}: not JSON ({exc.msg})") from None
    return records


def _values(records: Sequence[Dict[str, Any]], part: str, metric: str) -> Tuple[List[int], List[float]]:
    pairs = [(r["epoch"], r[part][metric]) for r in records
             if isinstance(r.get(part), dict) and r[part].get(metric) is not None
             and not math.isnan(r[part][metric])]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_training_curves(metrics_file: Path, out_file: Path) -> Optional[Path]:
    """Draw loss, the other validation metrics (top-1, top-5, IoU, ...) and the learning rate per
    epoch from ``metrics_file``; returns ``out_file``, or ``None`` when there is no epoch yet."""
    records = read_metrics(metrics_file)
    if not records:
        return None
    metrics = sorted({m for r in records for m in r.get("val", {}) if m != "loss"})
    panels = [("loss", ["loss"])] + ([("metric", metrics)] if metrics else []) + \
             ([("learning rate", [])] if any("lr" in r for r in records) else [])
    figure = _figure(4.2 * len(panels), 3.2)
    for axis, (title, names) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        if title == "learning rate":
            axis.plot([r["epoch"] for r in records if "lr" in r], [r["lr"] for r in records if "lr" in r], "-o",
                      markersize=3)
        for name in names:
            for part, label, style in SERIES:
                epochs, values = _values(records, part, name)
                if epochs:
                    axis.plot(epochs, values, style, marker="o", markersize=3,
                              label=f"{name} {label}" if len(names) > 1 else label)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if names:
            axis.legend(fontsize=7)
    return _save(figure, Path(out_file))


def plot_tradeoffs(points: Sequence[Dict[str, Any]], metric: str, metric_label: str, axes: Sequence[Tuple[str, str]],
                   title: str, out_file: Path) -> Path:
    """One panel per ``(key, axis label)`` of ``axes``: ``point[metric]`` against ``point[key]``
    for every point that has both. A point is a dict with ``title`` (its label), the metric, the
    cost keys, ``parc`` (ParC models are drawn as red diamonds, the others as blue circles) and
    optionally ``model`` and ``baseline`` (a dotted line joins a point to its baseline's)."""
    figure = _figure(4.8 * len(axes), 4.2)
    for axis, (key, label) in zip(figure.subplots(1, len(axes), squeeze=False)[0], axes):
        shown = [p for p in points if p.get(key) is not None and p.get(metric) is not None]
        by_model = {p.get("model"): p for p in shown}
        for point in shown:
            base = by_model.get(point.get("baseline"))
            if base is not None:  # a ParC model and the model it modifies
                axis.plot([base[key], point[key]], [base[metric], point[metric]], ":", color="grey", zorder=2)
        for point in shown:
            parc = bool(point.get("parc"))
            axis.scatter(point[key], point[metric], s=60, marker="D" if parc else "o",
                         color="tab:red" if parc else "tab:blue", alpha=0.8, zorder=3)
            axis.annotate(point["title"], (point[key], point[metric]), textcoords="offset points",
                          xytext=(-4, 6) if parc else (5, -11), ha="right" if parc else "left", fontsize=7,
                          color="tab:red" if parc else "black")
        if shown and max(p[key] for p in shown) > 20 * min(p[key] for p in shown):
            axis.set_xscale("log")
        axis.set_xlabel(label)
        axis.set_ylabel(metric_label)
        axis.grid(alpha=0.3)
        axis.margins(0.2)
    figure.suptitle(title, fontsize=10)
    return _save(figure, Path(out_file))


def write_training_curves(metrics_file: Path, out_file: Path) -> Optional[Path]:
    """``out_file`` drawn from a run's ``metrics_file`` at its end. A failure to draw is logged, not
    raised: the run's results are already saved."""
    from utils import logger

    if not Path(metrics_file).is_file():
        return None
    try:
        path = plot_training_curves(metrics_file, out_file)
    except (ImportError, OSError, ValueError, KeyError, DataError) as exc:
        logger.warning(f"training curves not drawn: {exc}")
        return None
    if path is not None:
        logger.log(f"Training curves drawn in {path}")
    return path
