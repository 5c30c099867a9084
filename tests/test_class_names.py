"""Readable predictions: class names of folders, ImageNet, COCO and VOC in the evaluation scripts."""
import json

import numpy as np
import pytest
import torch

import parcnet
import eval_cls
from conftest import training_opts
from data.class_names import (COCO_CLASSES, classification_class_names, detection_class_names, imagenet_class_names,
                              segmentation_class_names)
from helpers_training import DEMO_CONFIG, write_small_digits
from utils.io import atomic_save
from utils.drawing import color_palette, draw_legend


def test_imagenet_names_come_offline_in_index_order():
    names = imagenet_class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby" and names[999] == "toilet tissue"


def test_classification_names_by_folder_imagenet_or_index(tmp_path):
    for name in ("dog", "cat"):
        (tmp_path / "pets" / name).mkdir(parents=True)
    wnids = [f"n{i:08d}" for i in range(1000)]
    for wnid in wnids:
        (tmp_path / "imagenet" / wnid).mkdir(parents=True)
    pets = training_opts(["--dataset.root-val", str(tmp_path / "pets")])
    assert classification_class_names(pets, 2) == ["cat", "dog"]
    assert classification_class_names(pets, 3) == ["0", "1", "2"]
    assert classification_class_names(pets, 1000) == imagenet_class_names()
    imagenet = training_opts(["--dataset.root-val", str(tmp_path / "imagenet")])
    assert classification_class_names(imagenet, 1000) == imagenet_class_names()  # not the WordNet IDs


def test_detection_and_segmentation_names(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text(json.dumps(
        {"images": [], "annotations": [], "categories": [{"id": 18, "name": "dog"}, {"id": 3, "name": "car"}]}))
    opts = training_opts(["--dataset.root-val", str(tmp_path)])
    assert detection_class_names(opts, 3) == ["background", "car", "dog"]
    assert detection_class_names(opts, 81) == COCO_CLASSES and COCO_CLASSES[1] == "person"
    assert detection_class_names(opts, 5) == ["0", "1", "2", "3", "4"]
    pascal = training_opts(["--dataset.name", "pascal", "--dataset.category", "segmentation"])
    assert segmentation_class_names(pascal, 21)[15] == "person"
    assert segmentation_class_names(pascal, 3) == ["0", "1", "2"]


def test_legend_draws_each_class_colour():
    image = np.zeros((60, 120, 3), np.uint8)
    colour = color_palette(21)[15]
    drawn = draw_legend(image, [("person", colour)])
    assert (drawn[8, 8] == colour).all() and drawn[30:, :].sum() == 0 and (image == 0).all()
    assert (drawn[4:16, 20:60] == 0).any() and (drawn[4:16, 20:60] == 255).any()  # dark text on white


@pytest.fixture(scope="module")
def imagenet_sized_classifier(tmp_path_factory):
    root = tmp_path_factory.mktemp("names")
    data = write_small_digits(root / "data", per_class_train=0, per_class_val=1)
    torch.manual_seed(0)
    model = parcnet.create_model(DEMO_CONFIG, num_classes=1000)
    atomic_save(model.state_dict(), root / "weights.pt")
    return root, data


@pytest.mark.parametrize("mode", ["single_image", "image_folder"])
def test_eval_cls_image_modes_print_imagenet_names(imagenet_sized_classifier, mode, capsys):
    root, data = imagenet_sized_classifier
    image = data / "validation" / "7" / next((data / "validation" / "7").iterdir()).name
    path = image if mode == "single_image" else image.parent
    eval_cls.main(["--common.config-file", DEMO_CONFIG, "--model.classification.n-classes", "1000",
                   "--model.classification.pretrained", str(root / "weights.pt"), "--dataset.root-val", str(root),
                   "--common.results-loc", str(root / "results"), "--common.run-label", mode,
                   "--evaluation.classification.mode", mode, "--evaluation.classification.path", str(path)])
    model = parcnet.create_model(DEMO_CONFIG, pretrained=root / "weights.pt", num_classes=1000)
    with torch.no_grad():
        probs, indices = model(parcnet.load_image(image, model)).softmax(1)[0].topk(5)
    names = imagenet_class_names()
    expected = f"{image}: " + ", ".join(f"{names[int(i)]} ({float(p):.3f})" for p, i in zip(probs, indices))
    assert expected in capsys.readouterr().out.splitlines()
    saved = json.loads((root / "results" / mode / "predictions.json").read_text())
    assert [t["class_name"] for t in saved[0]["top_k"]] == [names[int(i)] for i in indices]
