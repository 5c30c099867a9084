"""Bad inputs as a new user meets them, through ``python main_train.py``: every file read or skipped
with its name (never a crash), hidden folders ignored, a validation set without a usable sample
stopping the run, and one-line errors for bad configs and COCO annotation files."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from helpers_training import DEMO_CONFIG, write_small_digits

SEG_CONFIG = "config/segmentation/demo/deeplabv3_parcnet_digits.yaml"
SSD_CONFIG = "config/detection/demo/ssd_parcnet_digits.yaml"


def main_train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main_train.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The message of a run that stopped with a user error: exit status 2, no traceback."""
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    return last[len("error: "):]


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    """One epoch on 2 digits per class, with in the training folder: a valid PNG whose name is not
    UTF-8, a truncated JPEG, a hidden folder of images and a hidden non-image file; the config's
    class count (12) exceeds the class folders, as ImageNet configs do for smaller sets."""
    root = tmp_path_factory.mktemp("faulty")
    data = write_small_digits(root / "data", per_class_train=2, per_class_val=1, size=24)
    train = data / "training"
    example = sorted((train / "3").iterdir())[0]
    shutil.copy(example, os.path.join(os.fsencode(train / "3"), b"bad\xff\xfe.png"))
    jpeg = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8))[1].tobytes()
    (train / "4" / "cut.jpg").write_bytes(jpeg[:len(jpeg) // 2])
    (train / ".ipynb_checkpoints").mkdir()
    shutil.copy(example, train / ".ipynb_checkpoints" / "0-checkpoint.png")
    (train / "5" / "._0001.png").write_bytes(b"\x00\x05\x16\x07 a resource fork")
    result = main_train(
        "--common.config-file", DEMO_CONFIG, "--dataset.root-train", str(train), "--dataset.root-val",
        str(data / "validation"), "--common.results-loc", str(root / "results"), "--common.run-label", "run",
        "--scheduler.max-epochs", "1", "--dataset.workers", "0", "--sampler.name", "batch_sampler",
        "--sampler.bs.crop-size-width", "24", "--sampler.bs.crop-size-height", "24",
        "--dataset.train-batch-size0", "11", "--dataset.val-batch-size0", "10", "--scheduler.warmup-iterations", "1",
        "--common.device", "cpu", "--model.classification.n-classes", "12")
    return result, root / "results" / "run", train


def test_a_file_name_that_is_not_utf8_is_trained_on(faulty_run):
    result, run, train = faulty_run
    assert result.returncode == 0, result.stderr[-2000:]  # not 139, a segmentation fault
    log = (run / "train.log").read_text()
    assert f"ImageNetDataset(root={train}, split=train, samples=22)" in log  # 20 digits, the PNG and the JPEG
    assert "bad\\xff\\xfe" not in log  # read, not skipped


def test_a_truncated_jpeg_is_skipped_and_named(faulty_run):
    result, run, train = faulty_run
    skipped = [line for line in (run / "train.log").read_text().splitlines() if "skipping" in line]
    assert len(skipped) == 1
    assert skipped[0].endswith(f": cannot read image {train}/4/cut.jpg: not a readable image (its JPEG data is "
                               "truncated or corrupt)")
    assert "JPEG" not in result.stderr  # nothing from the decoder without the file's name


def test_hidden_folders_and_files_are_not_classes(faulty_run):
    _, run, _ = faulty_run
    assert json.loads((run / "classes.json").read_text()) == [str(d) for d in range(10)]
    assert "._0001" not in (run / "train.log").read_text()


def test_a_validation_set_of_colour_masks_stops_the_run(tmp_path):
    from data.demo.segmentation import write_segmentation_set

    write_segmentation_set(tmp_path / "voc", n_train=4, n_val=2, size=32, min_side=12, max_side=20)
    for line in (tmp_path / "voc" / "VOC2012" / "list" / "val.txt").read_text().split():
        if line.endswith(".png"):  # the palette masks saved as colours, as an image editor may
            mask = tmp_path / "voc" / "VOC2012" / line
            Image.open(mask).convert("RGB").save(mask)
    result = main_train(
        "--common.config-file", SEG_CONFIG, "--dataset.root-train", str(tmp_path / "voc"), "--dataset.root-val",
        str(tmp_path / "voc"), "--common.results-loc", str(tmp_path / "results"), "--common.run-label", "seg",
        "--scheduler.max-epochs", "1", "--dataset.workers", "0", "--sampler.bs.crop-size-width", "32",
        "--sampler.bs.crop-size-height", "32", "--dataset.train-batch-size0", "4", "--common.device", "cpu",
        "--image-augmentation.random-resize.min-size", "28", "--image-augmentation.random-resize.max-size", "40")
    assert one_line_error(result) == ("validation 0: no usable sample, every one was skipped as unreadable (the "
                                      "warnings above name the files)")
    mask = tmp_path / "voc" / "VOC2012" / "SegmentationClass" / "val_00001.png"
    assert (f"cannot use mask {mask}: an image of mode RGB; a mask must hold one class index per pixel"
            in (tmp_path / "results" / "seg" / "train.log").read_text())
    assert not list((tmp_path / "results" / "seg").glob("checkpoint*.pt"))


def coco_set(root: Path, split: str, categories, image_ids=(1, 2)) -> Path:
    folder = root / "images" / f"{split}2017"
    folder.mkdir(parents=True)
    (root / "annotations").mkdir(exist_ok=True)
    for image_id in set(image_ids):
        cv2.imwrite(str(folder / f"{image_id}.jpg"), np.zeros((64, 64, 3), np.uint8))
    document = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 64, "height": 64} for i in image_ids],
                "annotations": [{"id": n, "image_id": image_ids[0], "category_id": c, "bbox": [4 * n, 4, 20, 20],
                                 "area": 400, "iscrowd": 0} for n, (c, _) in enumerate(categories, start=1)],
                "categories": [{"id": c, "name": name} for c, name in categories]}
    path = root / "annotations" / f"instances_{split}2017.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("fault", ["a category the training set lacks", "an image id given twice",
                                   "no annotations list"])
def test_bad_coco_validation_files_stop_with_one_line(tmp_path, fault):
    coco_set(tmp_path, "train", [(1, "cat"), (2, "dog"), (3, "eel")])
    val = coco_set(tmp_path, "val", [(1, "cat"), (2, "fox")] if fault.startswith("a category") else [(1, "dog")],
                   image_ids=(1, 2, 1) if fault.startswith("an image id") else (1, 2))
    if fault == "no annotations list":
        document = json.loads(val.read_text())
        del document["annotations"]
        val.write_text(json.dumps(document))
    result = main_train("--common.config-file", SSD_CONFIG, "--dataset.root-train", str(tmp_path),
                        "--dataset.root-val", str(tmp_path), "--common.results-loc", str(tmp_path / "results"),
                        "--common.device", "cpu", "--dataset.workers", "0")
    expected = {"a category the training set lacks": f"{val} has classes the training set lacks: fox",
                "an image id given twice": f"{val}: image id 1 is given 2 times; each image needs its own",
                "no annotations list": f"{val} has no 'annotations' list (a COCO annotation file needs 'images', "
                                       "'annotations' and 'categories')"}
    assert one_line_error(result) == expected[fault]


def test_a_latin1_config_and_a_config_folder_are_one_line_errors(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes("common:\n  run_label: caf\u00e9\n".encode("latin-1"))
    result = main_train("--common.config-file", str(tmp_path / "latin1.yaml"))
    assert one_line_error(result) == (f"config file {tmp_path / 'latin1.yaml'} is not UTF-8 text: byte 0xe9 on "
                                      "line 2 cannot be decoded; save the file as UTF-8")
    result = main_train("--common.config-file", str(tmp_path))
    assert one_line_error(result) == f"config file {tmp_path} is a folder, not a YAML file"
