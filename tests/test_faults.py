"""Faults and bad inputs: no earlier run is lost, no number is silently wrong, and every failure is
a skip or a one-line error."""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import zlib
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import NO_TRAINING_SET, ROOT, training_opts
from engine.training import train
from helpers_training import tiny_args, write_small_digits
from utils.errors import CheckpointError, ConfigError, DataError


@pytest.fixture(scope="module")
def tiny_digits(tmp_path_factory):
    return write_small_digits(tmp_path_factory.mktemp("tiny_digits"), per_class_train=6, per_class_val=2, size=24)


@pytest.fixture(scope="module")
def earlier_run(tiny_digits, tmp_path_factory):
    """A finished one-epoch run (its folder is only read by the tests that use it)."""
    results = tmp_path_factory.mktemp("earlier")
    return train(training_opts(tiny_args(tiny_digits, results, "run", epochs=1)))


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_rerun_without_resume_stops_and_leaves_the_earlier_run_untouched(tiny_digits, earlier_run):
    before = snapshot(earlier_run)
    with pytest.raises(ConfigError) as caught:
        train(training_opts(tiny_args(tiny_digits, earlier_run.parent, "run", epochs=1)))
    message = str(caught.value)
    assert str(earlier_run) in message and "--common.auto-resume" in message
    assert "--common.run-label" in message and "--common.overwrite" in message
    assert snapshot(earlier_run) == before  # config.yaml and metrics.jsonl included


def test_overwrite_replaces_the_earlier_run(tiny_digits, tmp_path):
    first = train(training_opts(tiny_args(tiny_digits, tmp_path, "run", epochs=1)))
    (first / "checkpoint_epoch_7_score_1.0000.pt").write_bytes(b"stale")
    train(training_opts(tiny_args(tiny_digits, tmp_path, "run", epochs=1, extra=["--common.overwrite"])))
    assert not (first / "checkpoint_epoch_7_score_1.0000.pt").exists()
    assert len((first / "metrics.jsonl").read_text().splitlines()) == 1


def test_an_epoch_whose_metrics_line_was_lost_is_restored_on_resume(tiny_digits, tmp_path, monkeypatch):
    from engine import trainer

    original = trainer.Trainer._write_metrics_file

    def die_after_the_checkpoint(self):
        if self.history:  # the end of epoch 0: checkpoint.pt is written, metrics.jsonl not yet
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(trainer.Trainer, "_write_metrics_file", die_after_the_checkpoint)
    args = tiny_args(tiny_digits, tmp_path, "run", epochs=2)
    with pytest.raises(KeyboardInterrupt):
        train(training_opts(args))
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == ""
    monkeypatch.setattr(trainer.Trainer, "_write_metrics_file", original)
    train(training_opts([*args, "--common.auto-resume"]))
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [0, 1]


def write_class_folders(root: Path, classes, per_class: int = 2) -> Path:
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            cv2.imwrite(str(root / name / f"{i}.png"), np.full((8, 8, 3), 10 * i, np.uint8))
    return root


def test_validation_classes_are_mapped_to_the_training_classes_by_name(tmp_path):
    from data.datasets import ImageNetDataset

    train_root = write_class_folders(tmp_path / "train", ["ant", "bee", "cat", "dog"])
    val_root = write_class_folders(tmp_path / "val", ["ant", "cat", "dog"])  # no bee
    opts = training_opts(["--dataset.root-train", str(train_root), "--dataset.root-val", str(val_root)])
    dataset = ImageNetDataset(opts, is_training=False)
    labels = {Path(path).parent.name: label for path, label in dataset.samples}
    assert labels == {"ant": 0, "cat": 2, "dog": 3} and dataset.num_classes == 4
    write_class_folders(val_root, ["eel"])
    with pytest.raises(DataError, match="classes the training set lacks: eel"):
        ImageNetDataset(opts, is_training=False)


def test_evaluation_without_the_training_folder_uses_the_saved_class_list(tmp_path):
    from data.datasets import ImageNetDataset

    val_root = write_class_folders(tmp_path / "val", ["cat", "dog"])
    weights = tmp_path / "run" / "checkpoint_ema_avg.pt"
    weights.parent.mkdir()
    (weights.parent / "classes.json").write_text(json.dumps(["ant", "bee", "cat", "dog"]))
    opts = training_opts(["--dataset.root-val", str(val_root), "--model.classification.pretrained", str(weights)])
    dataset = ImageNetDataset(opts, is_training=False)
    assert sorted({label for _, label in dataset.samples}) == [2, 3]


def test_training_writes_the_class_list_beside_its_checkpoints(earlier_run):
    assert json.loads((earlier_run / "classes.json").read_text()) == [str(i) for i in range(10)]


def test_coco_boxes_reaching_outside_the_image_are_clipped_and_counted(tmp_path, capsys):
    from data.datasets import COCODetectionSSD

    (tmp_path / "images" / "val2017").mkdir(parents=True)
    (tmp_path / "annotations").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "val2017" / "a.jpg"), np.zeros((60, 80, 3), np.uint8))
    boxes = [[-10, 5, 30, 20], [70, 50, 40, 40], [100, 100, 5, 5], [10, 10, 20, 20]]
    document = {"images": [{"id": 1, "file_name": "a.jpg", "width": 80, "height": 60}],
                "categories": [{"id": 1, "name": "cat"}],
                "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": box, "area": box[2] * box[3],
                                 "iscrowd": 0} for i, box in enumerate(boxes)]}
    (tmp_path / "annotations" / "instances_val2017.json").write_text(json.dumps(document))
    opts = training_opts(["--common.config-file", "config/detection/demo/ssd_parcnet_digits.yaml",
                          "--dataset.root-val", str(tmp_path), *NO_TRAINING_SET])
    dataset = COCODetectionSSD(opts, is_training=False)
    kept, _ = dataset._annotations[1]
    assert kept.tolist() == [[0, 5, 20, 25], [70, 50, 80, 60], [10, 10, 30, 30]]
    out = capsys.readouterr().out
    assert "2 boxes reaching outside their image clipped to it" in out
    assert "1 boxes entirely outside their image left out" in out


def test_a_key_given_twice_in_a_config_is_an_error_naming_it_and_its_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("optim:\n  name: sgd\n  weight_decay: 0.1\n  name: adamw\n")
    with pytest.raises(ConfigError, match=r"key 'optim.name' is given twice \(lines 2 and 4\)"):
        training_opts(["--common.config-file", str(path)])


def huge_png(path: Path) -> Path:
    """A valid PNG whose header claims 65535 x 65535 pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 65535, 65535, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
                     + chunk(b"IEND", b""))
    return path


def test_an_image_beyond_opencvs_pixel_limit_is_skipped_in_training_and_evaluation(tmp_path, capsys):
    from data.datasets import ImageNetDataset
    from engine.eval_setup import readable_images

    root = write_class_folders(tmp_path / "train", ["a", "b"])
    huge_png(root / "a" / "huge.png")
    dataset = ImageNetDataset(training_opts(["--dataset.root-train", str(root)]), is_training=True)
    index = next(i for i, (path, _) in enumerate(dataset.samples) if path.endswith("huge.png"))
    assert dataset[(8, 8, index)] is None and dataset[(8, 8, index - 1)] is not None
    assert "huge.png" in capsys.readouterr().out
    found = list(readable_images([root / "a" / "huge.png", root / "b" / "0.png"], lambda d: {"image": torch.zeros(1)}))
    assert [path.name for path, _, _ in found] == ["0.png"]
    with pytest.raises(DataError, match="huge.png"):
        list(readable_images([root / "a" / "huge.png"], lambda d: d))


def test_resuming_with_another_architecture_or_optimizer_is_a_one_line_error(tiny_digits, earlier_run, tmp_path):
    resume = ["--common.resume", str(earlier_run / "checkpoint.pt")]
    other_model = tiny_args(tiny_digits, tmp_path, "a", extra=[*resume, "--model.classification.edge.scale",
                                                                "scale_s"])
    with pytest.raises(CheckpointError, match=r"do not match the model; .*shape mismatches"):
        train(training_opts(other_model))
    other_optimizer = tiny_args(tiny_digits, tmp_path, "b", extra=[*resume, "--optim.name", "sgd"])
    with pytest.raises(CheckpointError, match=r"was trained with AdamW, this run uses SGD \(optim.name\)"):
        train(training_opts(other_optimizer))


def test_an_unwritable_results_folder_is_reported_before_training(tiny_digits, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"results folder .*a_file/run is not writable"):
        train(training_opts(tiny_args(tiny_digits, blocker, "run", epochs=1)))


def limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # no file may grow beyond 1 MiB


def test_a_full_disk_stops_training_with_one_line_and_keeps_the_last_checkpoint(tiny_digits, tmp_path):
    args = tiny_args(tiny_digits, tmp_path, "run", epochs=1)
    train(training_opts(args))
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    result = subprocess.run([sys.executable, "main_train.py", *args, "--scheduler.max-epochs", "2",
                             "--common.auto-resume"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                            preexec_fn=limit_file_size, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: could not write a checkpoint in") and "training stopped" in last
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before
    assert not list((tmp_path / "run").glob(".*.tmp*"))


@pytest.mark.parametrize("extra, message", [
    (["--dataset.train-batch-size0", "0"], "dataset.train_batch_size0 must be at least 1, got 0"),
    (["--scheduler.max-epochs", "0"], "scheduler.max_epochs must be at least 1, got 0"),
])
def test_impossible_sizes_are_one_line_errors(tiny_digits, tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        train(training_opts(tiny_args(tiny_digits, tmp_path, "run", extra=extra)))


def test_stale_partial_files_are_removed_when_a_run_starts(tmp_path):
    from engine.run_folder import RunFolder
    from engine.run_start import claimed

    stale = tmp_path / ".checkpoint.pt.tmp999999999"
    live = tmp_path / f".checkpoint.pt.tmp{os.getpid()}"
    stale.write_bytes(b"partial")
    live.write_bytes(b"being written")
    with claimed(training_opts(["--common.results-loc", str(tmp_path.parent), "--common.run-label", tmp_path.name]),
                 RunFolder(tmp_path)):
        pass
    assert not stale.exists() and live.exists()


def test_a_diverging_run_says_no_checkpoint_was_written_yet(tiny_digits, tmp_path):
    from utils.errors import TrainingError

    args = tiny_args(tiny_digits, tmp_path, "run", extra=["--scheduler.cosine.max-lr", "1e30",
                                                          "--scheduler.warmup-iterations", "0"])
    with pytest.raises(TrainingError, match="no checkpoint was written yet"):
        train(training_opts(args))


def test_unsafe_and_foreign_weight_files_are_refused_with_what_they_are(tmp_path):
    from utils.weight_files import read_checkpoint

    class Payload:
        def __reduce__(self):
            return os.system, ("true",)

    torch.save({"weights": Payload()}, tmp_path / "unsafe.pt")
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(tmp_path / "unsafe.pt", "weights")
    assert "is refused" in str(caught.value) and "system" in str(caught.value)
    assert "weights_only=False" not in str(caught.value)
    (tmp_path / "notes.txt").write_text("these are not weights\n")
    with pytest.raises(CheckpointError, match="not a complete PyTorch checkpoint"):
        read_checkpoint(tmp_path / "notes.txt", "weights")


def test_single_image_evaluation_of_an_unreadable_file_exits_non_zero(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    result = subprocess.run([sys.executable, "eval_cls.py", "--common.config-file",
                             "config/classification/demo/parcnet_digits.yaml", "--common.results-loc", str(tmp_path),
                             "--evaluation.classification.mode", "single_image", "--evaluation.classification.path",
                             str(tmp_path / "broken.jpg"), "--common.device", "cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: cannot read image")


def test_finetuning_from_another_architecture_warns_and_lists_skipped_keys(tiny_digits, tmp_path, capsys):
    from cvnets import get_model

    other = get_model(training_opts(["--common.config-file", "config/classification/mobilevit/mobilevit_x_small.yaml"]))
    torch.save(other.state_dict(), tmp_path / "mobilevit.pt")
    train(training_opts(tiny_args(tiny_digits, tmp_path, "run", epochs=1, extra=[
        "--common.finetune", str(tmp_path / "mobilevit.pt")])))
    out = capsys.readouterr().out
    assert "WARNING" in out and "is it the same architecture?" in out and "skipped" in out
