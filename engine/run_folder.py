"""The folder of a run, ``<common.results_loc>/<common.run_label>/``: the one place that names its files.

=================================  ===============================================================
``checkpoint.pt``                  everything needed to resume (see :mod:`engine.resume_checkpoint`)
``checkpoint_last.pt``             weights after the last epoch
``checkpoint_best.pt``             weights of the best epoch (``stats.checkpoint_metric``)
``checkpoint_ema.pt``              EMA weights after the last epoch
``checkpoint_ema_best.pt``         EMA weights of the epoch whose EMA validated best
``checkpoint_avg.pt``              average of the ``common.k_best_checkpoints`` best epochs' weights
``checkpoint_ema_avg.pt``          the same for the EMA weights
``checkpoint[_ema]_epoch_<e>_score_<s>.pt``  an epoch's weights while they rank among the k best
``metrics.jsonl``                  one line of training and validation metrics per epoch
``train.log``                      everything the run logged
``config.yaml``                    the resolved options (``config_resumed_<epoch>.yaml``: those of a
                                   resumed run whose options differ)
``classes.json``                   the class names in label order (image folders, COCO, VOC)
``curves.png``                     the training curves; ``tb_logs/``: TensorBoard's logs
``.run.lock``                      held by the run that writes here (see :mod:`engine.run_lock`)
=================================  ===============================================================

The evaluation scripts write beside them: ``eval_metrics.json``, ``predictions.json``,
``detections.json``, ``segmentations.json`` and the image folders ``validation_overlays/``,
``detection_results/``, ``predictions_no_cmap/``, ``predictions_cmap/`` and ``predictions_overlay/``
(an earlier evaluation's are replaced only with ``evaluation.overwrite``: :mod:`engine.eval_outputs`).
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List, Tuple

from data.datasets.labels import CLASS_LIST_FILE
from utils.config_file import dump_yaml
from utils.errors import ConfigError
from utils.io import temporary_path, write_text

WEIGHT_KINDS = ("last", "best", "ema", "ema_best", "avg", "ema_avg")
_SCORED = re.compile(r"_epoch_(\d+)_score_(-?[0-9.]+|nan|inf|-inf)\.pt$")
LABEL_RULE = ("a run label names a folder inside common.results_loc: one or more folder names joined by '/', "
              "none of them '.' or '..', not absolute, not empty")


def check_run_label(label: str) -> None:
    """Refuse a ``common.run_label`` that would put the run outside ``common.results_loc`` or
    straight into it."""
    parts = [part for part in label.split("/") if part]
    if not parts or label.startswith("/") or any(part in (".", "..") for part in parts):
        raise ConfigError(f"common.run_label {label!r} is refused: {LABEL_RULE}")


class RunFolder:
    """The folder of one run and the names of the files in it.

    Args:
        path: the folder (it need not exist yet).
    """

    def __init__(self, path: os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def from_options(cls, opts: Any) -> "RunFolder":
        """``<common.results_loc>/<common.run_label>``, after checking the label (:func:`check_run_label`)."""
        label = str(getattr(opts, "common.run_label") or "")
        check_run_label(label)
        return cls(Path(getattr(opts, "common.results_loc")) / label)

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # the files of a training run
    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    def weights(self, kind: str) -> Path:
        """``checkpoint_<kind>.pt``, ``kind`` one of :data:`WEIGHT_KINDS`."""
        if kind not in WEIGHT_KINDS:
            raise ValueError(f"unknown weights {kind!r}; one of {', '.join(WEIGHT_KINDS)}")
        return self.path / f"checkpoint_{kind}.pt"

    def scored(self, ema: bool, epoch: int, score: float) -> Path:
        """The file of an epoch's (EMA) weights, named by its validation score."""
        return self.path / f"{self._scored_prefix(ema)}_epoch_{epoch}_score_{score:.4f}.pt"

    def scored_files(self, ema: bool) -> List[Tuple[float, int, Path]]:
        """``(score, epoch, path)`` of the epochs' (EMA) weight files present, in no particular order."""
        prefix = self._scored_prefix(ema)
        entries = []
        for path in self.path.glob(f"{prefix}_epoch_*_score_*.pt"):
            match = _SCORED.search(path.name)
            if match and path.name.startswith(f"{prefix}_epoch_"):
                entries.append((float(match.group(2)), int(match.group(1)), path))
        return entries

    @staticmethod
    def _scored_prefix(ema: bool) -> str:
        return "checkpoint_ema" if ema else "checkpoint"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def train_log(self) -> Path:
        return self.path / "train.log"

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    def config_resumed(self, epoch: int) -> Path:
        return self.path / f"config_resumed_{epoch}.yaml"

    @property
    def classes(self) -> Path:
        return self.path / CLASS_LIST_FILE

    @property
    def curves(self) -> Path:
        return self.path / "curves.png"

    @property
    def tb_logs(self) -> Path:
        return self.path / "tb_logs"

    @property
    def lock(self) -> Path:
        return self.path / ".run.lock"

    def training_outputs(self) -> List[Path]:
        """Every file and folder a training run wrote here (what ``--common.overwrite`` removes)."""
        patterns = ("checkpoint*.pt", self.metrics.name, "config*.yaml", self.train_log.name, self.classes.name,
                    self.curves.name, self.tb_logs.name)
        return sorted({path for pattern in patterns for path in self.path.glob(pattern)})

    # what the evaluation scripts write beside them
    @property
    def eval_metrics(self) -> Path:
        return self.path / "eval_metrics.json"

    @property
    def predictions(self) -> Path:
        return self.path / "predictions.json"

    @property
    def detections(self) -> Path:
        return self.path / "detections.json"

    @property
    def segmentations(self) -> Path:
        return self.path / "segmentations.json"

    @property
    def validation_overlays(self) -> Path:
        return self.path / "validation_overlays"

    @property
    def detection_images(self) -> Path:
        return self.path / "detection_results"

    @property
    def label_masks(self) -> Path:
        return self.path / "predictions_no_cmap"

    @property
    def colour_masks(self) -> Path:
        return self.path / "predictions_cmap"

    @property
    def overlay_masks(self) -> Path:
        return self.path / "predictions_overlay"

    # the folder's state
    def earlier_results(self) -> List[str]:
        """Names of the checkpoints and metrics an earlier run left here."""
        names = sorted(p.name for p in self.path.glob("checkpoint*.pt"))
        if self.metrics.is_file() and self.metrics.stat().st_size:
            names.append(self.metrics.name)
        return names

    def remove_training_outputs(self) -> None:
        for path in self.training_outputs():
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    def check_writable(self) -> None:
        """Create the folder and write a probe file in it, or stop with one line."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = temporary_path(self.path / "write-test")
            probe.write_bytes(b"0")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"results folder {self.path} is not writable ({exc.strerror or exc}); choose another "
                              f"with --common.results-loc") from None

    def save_config(self, options: Dict[str, Any], resumed_epoch: int = -1) -> Path:
        """Write the resolved options as ``config.yaml``; a resumed run whose options differ from the
        earlier run's keeps that file and writes ``config_resumed_<epoch>.yaml`` beside it."""
        path, text = self.config, dump_yaml(options)
        if resumed_epoch >= 0 and path.is_file():
            if path.read_text(encoding="utf-8") == text:
                return path
            path = self.config_resumed(resumed_epoch)
        return write_text(text, path)

