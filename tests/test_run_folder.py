"""The run folder owns its file names and its lock; ``checkpoint.pt`` has one format, versioned;
files are replaced atomically."""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
import torch

from conftest import ROOT, training_opts
from helpers_training import tiny_args, write_small_digits
from utils.errors import CheckpointError, ConfigError

SOURCE_DIRS = ("cvnets", "data", "engine", "loss_fn", "metrics", "optim", "options", "utils")


def run_file_names() -> set:
    from engine.run_folder import WEIGHT_KINDS, RunFolder

    run = RunFolder("x")
    named = [run.checkpoint, run.metrics, run.train_log, run.config, run.classes, run.curves, run.tb_logs, run.lock,
             run.eval_metrics, run.predictions, run.detections, run.segmentations, run.validation_overlays,
             run.detection_images, run.label_masks, run.colour_masks, run.overlay_masks,
             *(run.weights(kind) for kind in WEIGHT_KINDS)]
    return {path.name for path in named}


def string_constants(path: Path):
    """``(line, text)`` of the string literals of a source file, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant):
            docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_module_but_the_run_folder_names_a_file_of_a_run():
    names = run_file_names()
    assert {"checkpoint.pt", "checkpoint_ema_avg.pt", "metrics.jsonl", "train.log", "tb_logs", "classes.json",
            "eval_metrics.json", "detection_results", "predictions_overlay"} <= names
    sources = [p for folder in SOURCE_DIRS for p in sorted((ROOT / folder).rglob("*.py"))] + sorted(ROOT.glob("*.py"))
    found = [f"{path.relative_to(ROOT)} {text!r}" for path in sources
             if path.relative_to(ROOT).as_posix() != "engine/run_folder.py"
             for line, text in string_constants(path) if text in names]
    # the class list is read beside released weights too: the label module declares the name
    assert found == ["data/datasets/labels.py 'classes.json'"]


@pytest.mark.parametrize("label, accepted", [("run_1", True), ("exp/seed_0", True), ("v1.2", True), ("", False),
                                             (".", False), ("..", False), ("../x", False), ("a/../../x", False),
                                             ("/abs", False), ("a/./b", False)])
def test_a_run_label_must_name_a_folder_inside_the_results_folder(tmp_path, label, accepted):
    from engine.run_folder import RunFolder

    opts = training_opts(["--common.results-loc", str(tmp_path), "--common.run-label", label])
    if accepted:
        assert RunFolder.from_options(opts).path == tmp_path / label
    else:
        with pytest.raises(ConfigError, match=r"common.run_label .* is refused: a run label names a folder inside "):
            RunFolder.from_options(opts)


def test_the_lock_refuses_a_second_holder_and_is_taken_over_after_its_holder_died(tmp_path, capsys):
    from engine.run_lock import RunLock

    path = tmp_path / ".run.lock"
    with RunLock(path, tmp_path):
        holder = json.loads(path.read_text())
        assert holder["pid"] == os.getpid() and holder["command"]
        with pytest.raises(ConfigError, match=rf"{tmp_path} is in use by another run \(pid {os.getpid()} on "):
            RunLock(path, tmp_path).acquire()
    assert not path.exists()
    path.write_text(json.dumps({"pid": 999999999, "host": "gone", "started": "then", "command": "python x"}))
    with RunLock(path, tmp_path):  # the file of a holder that was killed: nobody holds its lock
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert "Took over the lock of a run that ended without releasing it (pid 999999999 on gone" in \
        capsys.readouterr().out


def test_a_failed_write_keeps_the_earlier_file_and_leaves_no_partial_one(tmp_path, monkeypatch):
    from utils import io

    target = io.write_text("first\n", tmp_path / "config.yaml")

    def no_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", no_disk)
    with pytest.raises(OSError):
        io.write_text("second\n", target)
    assert target.read_text() == "first\n" and [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_checkpoints_carry_a_format_version_and_those_without_one_resume_as_version_1(tmp_path):
    from engine.resume_checkpoint import FORMAT_VERSION, load_checkpoint
    from engine.training import train
    from utils.io import atomic_save

    data = write_small_digits(tmp_path / "digits", per_class_train=2, per_class_val=1, size=24)
    args = tiny_args(data, tmp_path / "results", "run", epochs=1)
    folder = train(training_opts(args))
    checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert checkpoint["format_version"] == FORMAT_VERSION == 2
    del checkpoint["format_version"]
    atomic_save(checkpoint, folder / "checkpoint.pt")
    train(training_opts([*args, "--scheduler.max-epochs", "2", "--common.auto-resume"]))
    resumed = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert resumed["epoch"] == 1 and resumed["format_version"] == 2
    resumed["format_version"] = 3
    atomic_save(resumed, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match=r"has checkpoint format 3, newer than this code reads \(2\)"):
        load_checkpoint(tmp_path / "future.pt")
