"""COCO reading, SSD targets, eval_det.py and a short detection training run."""
import json

import cv2
import numpy as np
import pytest

from conftest import NO_TRAINING_SET, training_opts
from data.datasets import COCODetectionSSD
from data.demo.detection import write_detection_set
from utils.errors import DataError

DET_CONFIG = "config/detection/demo/ssd_parcnet_digits.yaml"


def write_tiny_coco(root):
    (root / "images" / "val2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        cv2.imwrite(str(root / "images" / "val2017" / name), np.full((60, 80, 3), 90, np.uint8))
    (root / "images" / "val2017" / "broken.jpg").write_bytes(b"not an image")
    document = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 80, "height": 60},
                   {"id": 2, "file_name": "b.jpg", "width": 80, "height": 60},
                   {"id": 3, "file_name": "c.jpg", "width": 80, "height": 60},
                   {"id": 4, "file_name": "broken.jpg", "width": 80, "height": 60}],
        "categories": [{"id": 3, "name": "cat"}, {"id": 17, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 17, "bbox": [10, 10, 30, 20], "area": 600, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0, 0, 80, 60], "area": 4800, "iscrowd": 1},
            {"id": 3, "image_id": 2, "category_id": 3, "bbox": [5, 5, 0, 10], "area": 0, "iscrowd": 0},
            {"id": 4, "image_id": 4, "category_id": 3, "bbox": [5, 5, 20, 10], "area": 200, "iscrowd": 0}]}
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(document))
    return root


def opts_for(root):
    return training_opts(["--common.config-file", DET_CONFIG, "--dataset.root-val", str(root), *NO_TRAINING_SET])


def test_coco_annotations_crowd_degenerate_and_empty_images(tmp_path, capsys):
    root = write_tiny_coco(tmp_path)
    dataset = COCODetectionSSD(opts_for(root), is_training=False)
    assert dataset.class_names == ["background", "cat", "dog"] and dataset.label_to_coco == {1: 3, 2: 17}
    assert dataset.ids == [1, 2, 3, 4]  # validation keeps every image
    boxes, labels = dataset._annotations[1]
    assert labels.tolist() == [2] and boxes.tolist() == [[10, 10, 40, 30]]  # crowd box left out
    assert len(dataset._annotations[2][1]) == 0  # the zero-width box is left out
    assert "2 crowd or empty boxes left out" in capsys.readouterr().out
    sample = dataset[(64, 64, 0)]
    labels = sample["label"]["box_labels"]
    # the demo's strides 8, 16, 32 and global at 64 pixels: 8x8x6 + 4x4x6 + 2x2x6 + 1x1x4 anchors
    assert sample["image"].shape == (3, 64, 64) and labels.shape == (384 + 96 + 24 + 4,)
    assert set(labels.unique().tolist()) == {0, 2}
    empty = dataset[(64, 64, 1)]["label"]["box_labels"]
    assert empty.eq(0).all()
    assert dataset[(64, 64, 3)] is None  # unreadable: reported and skipped
    assert "broken.jpg" in capsys.readouterr().out


def test_training_split_uses_images_with_boxes(tmp_path):
    root = write_tiny_coco(tmp_path)
    (root / "images" / "val2017").rename(root / "images" / "train2017")
    (root / "annotations" / "instances_val2017.json").rename(root / "annotations" / "instances_train2017.json")
    dataset = COCODetectionSSD(training_opts(["--common.config-file", DET_CONFIG, "--dataset.root-train",
                                              str(root)]), is_training=True)
    assert dataset.ids == [1, 4]


def test_missing_annotations_are_reported(tmp_path):
    (tmp_path / "images" / "val2017").mkdir(parents=True)
    with pytest.raises(DataError, match="COCO annotations not found: .*instances_val2017.json"):
        COCODetectionSSD(opts_for(tmp_path), is_training=False)


def test_evaluation_samples_keep_the_original_size_unless_resized(tmp_path):
    from options import get_eval_arguments

    root = write_tiny_coco(tmp_path)
    args = ["--common.config-file", DET_CONFIG, "--dataset.root-val", str(root), *NO_TRAINING_SET]
    plain = COCODetectionSSD(get_eval_arguments(args), is_training=False, is_evaluation=True)[(64, 48, 0)]
    assert plain["image"].shape == (3, 60, 80) and (plain["im_height"], plain["im_width"]) == (60, 80)
    resized = COCODetectionSSD(get_eval_arguments(args + ["--evaluation.detection.resize-input-images"]),
                               is_training=False, is_evaluation=True)[(64, 48, 0)]
    assert resized["image"].shape == (3, 64, 48) and resized["image_id"] == 1


@pytest.fixture(scope="module")
def digits_coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits_coco")
    write_detection_set(root, n_train=96, n_val=24, size=64, min_side=16, max_side=28)
    return root


def test_short_detection_training_and_eval_det(digits_coco, tmp_path):
    import eval_det
    from engine.training import train

    common = ["--common.config-file", DET_CONFIG, "--dataset.root-train", str(digits_coco), "--dataset.root-val",
              str(digits_coco), "--common.results-loc", str(tmp_path), "--common.run-label", "det",
              "--sampler.bs.crop-size-width", "64", "--sampler.bs.crop-size-height", "64",
              "--dataset.workers", "0"]
    exp = train(training_opts(common + ["--scheduler.max-epochs", "3", "--dataset.train-batch-size0", "16"]))
    history = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["train"]["loss"] < history[0]["train"]["loss"]
    eval_det.main(common + ["--model.detection.pretrained", str(exp / "checkpoint_ema_avg.pt"),
                            "--evaluation.detection.mode", "validation_set",
                            "--evaluation.detection.resize-input-images", "--evaluation.detection.save-overlay-boxes"])
    metrics = json.loads((exp / "eval_metrics.json").read_text())
    assert metrics["num_images"] == 24 and len(metrics["coco_stats"]) == 12
    assert {"AP", "AP50", "AP75", "APs", "APm", "APl"} <= set(metrics)
    assert len(list((exp / "validation_overlays").glob("*.jpg"))) == 24
    eval_det.main(common + ["--model.detection.pretrained", str(exp / "checkpoint_ema_avg.pt"),
                            "--evaluation.detection.mode", "single_image", "--evaluation.detection.path",
                            str(digits_coco / "images" / "val2017" / "val_00001.jpg")])
    assert (exp / "detection_results" / "val_00001.jpg").is_file()
    saved = json.loads((exp / "predictions.json").read_text())
    assert saved[0]["image"].endswith("val_00001.jpg")
    kept = json.loads((exp / "detections.json").read_text())  # the validation results, not overwritten
    assert kept and all({"image_id", "category_id", "bbox", "score"} == set(d) for d in kept)
