"""Labels matched by name between training and evaluation for every dataset, COCO annotation files
checked before they are indexed, class names from what is known (a guess said so), and the
augmentations of a config built by their registered names."""
import json
import re

import cv2
import numpy as np
import pytest

from conftest import training_opts
from data.datasets import COCODetection
from utils.errors import DataError


def coco_file(root, split, categories, images=((1, "a.jpg"), (2, "b.jpg")), annotations=None):
    """``root/annotations/instances_<split>2017.json`` and its images; by default one box of each
    category on image 1, in category order."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "images" / f"{split}2017").mkdir(parents=True, exist_ok=True)
    for _, name in images:
        cv2.imwrite(str(root / "images" / f"{split}2017" / name), np.zeros((30, 40, 3), np.uint8))
    if annotations is None:
        annotations = [{"id": n, "image_id": 1, "category_id": c, "bbox": [n, n, 5, 5], "area": 25, "iscrowd": 0}
                       for n, (c, _) in enumerate(categories, start=1)]
    document = {"images": [{"id": i, "file_name": name, "width": 40, "height": 30} for i, name in images],
                "annotations": annotations, "categories": [{"id": c, "name": name} for c, name in categories]}
    path = root / "annotations" / f"instances_{split}2017.json"
    path.write_text(json.dumps(document))
    return path


def coco_opts(*args):
    return training_opts(["--dataset.name", "coco", "--dataset.category", "detection", *args])


TRAINING = [(1, "cat"), (2, "dog"), (3, "eel")]


def test_coco_validation_categories_take_the_training_labels_by_name(tmp_path):
    coco_file(tmp_path, "train", TRAINING)
    coco_file(tmp_path, "val", [(1, "dog"), (2, "eel")])  # no cat, and the ids renumbered
    opts = coco_opts("--dataset.root-train", str(tmp_path), "--dataset.root-val", str(tmp_path))
    train, val = COCODetection(opts, is_training=True), COCODetection(opts, is_training=False)
    assert train.classes == val.classes == ["background", "cat", "dog", "eel"] and val.num_classes == 4
    assert val._annotations[1][1].tolist() == [2, 3]  # dog and eel, as in training
    assert val.label_to_coco == {2: 1, 3: 2}


def test_without_the_training_set_the_class_list_beside_the_weights_is_used(tmp_path):
    coco_file(tmp_path, "val", [(7, "eel"), (9, "dog")])
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "classes.json").write_text(json.dumps(["background", "cat", "dog", "eel"]))
    opts = coco_opts("--dataset.root-val", str(tmp_path), "--model.detection.pretrained",
                     str(tmp_path / "run" / "checkpoint_ema_avg.pt"))
    val = COCODetection(opts, is_training=False)
    assert val.coco_to_label == {7: 3, 9: 2} and val.class_names[3] == "eel"


def test_a_validation_category_the_training_set_lacks_is_named(tmp_path):
    coco_file(tmp_path, "train", TRAINING)
    path = coco_file(tmp_path, "val", [(1, "cat"), (2, "fox")])
    opts = coco_opts("--dataset.root-train", str(tmp_path), "--dataset.root-val", str(tmp_path))
    with pytest.raises(DataError) as caught:
        COCODetection(opts, is_training=False)
    assert str(caught.value) == f"{path} has classes the training set lacks: fox"


@pytest.mark.parametrize("change, message", [
    (lambda d: d["images"].append({"id": 1, "file_name": "b.jpg"}),
     "image id 1 is given 2 times; each image needs its own"),
    (lambda d: d["annotations"].append(dict(d["annotations"][0])), "annotation id 1 is given 2 times"),
    (lambda d: d["categories"].append({"id": 8, "name": "cat"}), "category name 'cat' is given 2 times"),
    (lambda d: d.pop("annotations"), "has no 'annotations' list (a COCO annotation file needs 'images', "
                                     "'annotations' and 'categories')"),
    (lambda d: d.pop("categories"), "has no 'categories' list"),
    (lambda d: d["images"][0].pop("file_name"), "images[0] has no 'file_name'"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), "annotation 1 has the bbox [1, 2, 3]; a bbox is"),
])
def test_coco_files_that_pycocotools_would_mangle_are_refused_in_one_line(tmp_path, change, message):
    path = coco_file(tmp_path, "val", TRAINING)
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match=re.escape(str(path)) + ":? " + re.escape(message)):
        COCODetection(coco_opts("--dataset.root-val", str(tmp_path)), is_training=False)


def test_detections_of_classes_the_split_lacks_are_not_scored():
    from metrics.coco_map import coco_mask_results, coco_results

    boxes = np.array([[0, 0, 4, 4], [1, 1, 5, 5]], np.float32)
    results = coco_results(3, boxes, [1, 2], [0.9, 0.8], {2: 17})
    assert [(r["category_id"], r["score"]) for r in results] == [(17, 0.8)]
    masks = np.zeros((2, 6, 6), np.uint8)
    assert [r["category_id"] for r in coco_mask_results(3, masks, [1, 2], [0.9, 0.8], {2: 17})] == [17]


def test_coco_in_voc_classes_are_matched_by_name_whatever_their_ids(tmp_path):
    from data.datasets.coco_annotations import load_coco
    from data.prepare.coco_voc import voc_labels

    path = coco_file(tmp_path, "train", [(1, "couch"), (40, "person"), (41, "giraffe"), (90, "tv")])
    assert voc_labels(load_coco(path), path) == {1: 18, 40: 15, 90: 20}  # sofa, person, tv_monitor
    path = coco_file(tmp_path, "train", [(1, "giraffe")])
    with pytest.raises(DataError, match="none of its categories is a VOC class"):
        voc_labels(load_coco(path), path)


def test_a_guessed_class_list_is_said_to_be_a_guess(tmp_path, capsys):
    from data.class_names import COCO_CLASSES, classification_class_names, detection_class_names, imagenet_class_names

    assert classification_class_names(training_opts(["--dataset.root-val", str(tmp_path)]), 1000) == \
        imagenet_class_names()
    assert detection_class_names(coco_opts(), 81) == COCO_CLASSES
    out = capsys.readouterr().out
    assert "no classes.json beside model.classification.pretrained); guessing ImageNet-1k's names from the " \
           "class count" in out
    assert "no classes.json beside model.detection.pretrained); guessing COCO's names" in out
    coco_file(tmp_path, "train", TRAINING)
    assert detection_class_names(coco_opts("--dataset.root-train", str(tmp_path)), 4) == \
        ["background", "cat", "dog", "eel"]
    (tmp_path / "classes.json").write_text(json.dumps([f"c{i}" for i in range(81)]))
    named = coco_opts("--model.detection.pretrained", str(tmp_path / "weights.pt"))
    assert detection_class_names(named, 81)[80] == "c80" and "guessing" not in capsys.readouterr().out


def test_segmentation_names_come_from_the_dataset_or_the_saved_list(tmp_path):
    from data.class_names import segmentation_class_names

    pascal = training_opts(["--dataset.name", "pascal", "--dataset.category", "segmentation"])
    assert segmentation_class_names(pascal, 21)[8] == "cat"
    ade = training_opts(["--dataset.name", "ade20k", "--dataset.category", "segmentation"])
    assert segmentation_class_names(ade, 21) == [str(i) for i in range(21)]  # not VOC's: the dataset is ADE20K
    (tmp_path / "classes.json").write_text(json.dumps(["sky", "road"]))
    saved = training_opts(["--dataset.name", "ade20k", "--dataset.category", "segmentation",
                           "--model.segmentation.pretrained", str(tmp_path / "weights.pt")])
    assert segmentation_class_names(saved, 2) == ["sky", "road"]


def test_optional_augmentations_are_built_by_their_registered_names(monkeypatch):
    from data.transforms import OPTIONAL_AUGMENTATIONS, TRANSFORM_REGISTRY, augmentation_transforms

    assert all(name in TRANSFORM_REGISTRY for name in OPTIONAL_AUGMENTATIONS)

    class Replacement:
        def __init__(self, opts):
            self.opts = opts

    opts = training_opts(["--image-augmentation.random-blur.enable",
                          "--image-augmentation.random-vertical-flip.enable"])
    monkeypatch.setitem(TRANSFORM_REGISTRY._entries, "random_blur", Replacement)
    chain = augmentation_transforms(opts)
    assert [type(t).__name__ for t in chain] == ["Replacement", "RandomVerticalFlip"]
