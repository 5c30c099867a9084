"""The run's folder: checked writable, never silently overwritten, cleaned of stale partial files.

A run writes into ``<common.results_loc>/<common.run_label>/``. When that folder already holds an
earlier run's checkpoints or metrics, a new run resumes it (``--common.auto-resume`` or
``--common.resume``), replaces it only when asked (``--common.overwrite``), or stops and says so.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List

from utils import logger
from utils.config_file import dump_yaml
from utils.errors import ConfigError

# what a training run writes (the patterns --common.overwrite removes)
RUN_OUTPUTS = ("checkpoint*.pt", "metrics.jsonl", "config*.yaml", "train.log", "classes.json", "curves.png",
               "tb_logs")
_PARTIAL = re.compile(r"^\..+\.tmp(\d+)$")


def earlier_results(folder: Path) -> List[str]:
    """Names of the checkpoints and metrics an earlier run left in ``folder``."""
    names = sorted(p.name for p in folder.glob("checkpoint*.pt"))
    metrics = folder / "metrics.jsonl"
    if metrics.is_file() and metrics.stat().st_size:
        names.append(metrics.name)
    return names


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_partial_files(folder: Path) -> List[str]:
    """Delete the temporary files (``.<name>.tmp<pid>``) that a killed writer left behind."""
    removed = []
    for path in folder.iterdir():
        match = _PARTIAL.match(path.name)
        if match and path.is_file() and not _alive(int(match.group(1))):
            path.unlink()
            removed.append(path.name)
    return removed


def check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test.tmp{os.getpid()}"
        probe.write_bytes(b"0")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"results folder {folder} is not writable ({exc.strerror or exc}); choose another "
                          f"with --common.results-loc") from None


def refuse_overwrite(folder: Path) -> None:
    """Stop a run that would overwrite the results of an earlier one, saying the ways on."""
    found = earlier_results(folder)
    if found:
        listed = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
        raise ConfigError(f"{folder} holds the results of an earlier run ({listed}); to continue it add "
                          f"--common.auto-resume, to keep it choose another --common.run-label, to replace it add "
                          f"--common.overwrite")


def claim(folder: Path, resuming: bool, overwrite: bool) -> None:
    """Make ``folder`` ready for a run: writable, without stale partial files, and holding no
    earlier results unless the run resumes them or ``overwrite`` asks to remove them."""
    check_writable(folder)
    removed = remove_partial_files(folder)
    if removed:
        logger.log(f"Removed {len(removed)} partial files an interrupted run left in {folder}: {', '.join(removed)}")
    if resuming or not earlier_results(folder):
        return
    if not overwrite:
        refuse_overwrite(folder)
    for pattern in RUN_OUTPUTS:
        for path in folder.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    logger.warning(f"--common.overwrite: removed the earlier run's results from {folder}")


def save_config(folder: Path, options: Dict[str, Any], resumed_epoch: int = -1) -> Path:
    """Write the resolved options as ``config.yaml``; a resumed run whose options differ from the
    earlier run's keeps that file and writes ``config_resumed_<epoch>.yaml`` beside it."""
    path = folder / "config.yaml"
    text = dump_yaml(options)
    if resumed_epoch >= 0 and path.is_file():
        if path.read_text(encoding="utf-8") == text:
            return path
        path = folder / f"config_resumed_{resumed_epoch}.yaml"
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
