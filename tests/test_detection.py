"""SSD: anchors, box coding, matching, loss, COCO AP, the reference models and the data pipeline."""
import math

import numpy as np
import pytest
import torch

from conftest import (check_against_manifest, golden_input, golden_model, relative_error,
                      training_opts)
from cvnets import get_model
from cvnets.misc.anchors import SSDAnchorGenerator, feature_map_sizes
from cvnets.misc.boxes import center_to_corner, corner_to_center, decode, encode
from cvnets.misc.matcher import SSDMatcher
from loss_fn.detection import hard_negative_mask
from metrics.coco_map import coco_ap, coco_results


def test_anchor_counts_positions_and_sizes():
    generator = SSDAnchorGenerator([16, 32, -1], [[2, 3], [2, 3], [2]], min_ratio=0.1, max_ratio=0.7)
    assert generator.num_anchors_per_location() == [6, 6, 4]
    # scales linspace(0.1, 0.7, 4) = 0.1, 0.3, 0.5, 0.7
    anchors = generator(2, 3, 16)
    assert anchors.shape == (2 * 3 * 6, 4)
    first = anchors[:6]  # cell (row 0, column 0)
    assert torch.allclose(first[:, :2], torch.tensor([[0.5 / 3, 0.25]] * 6))
    expected_wh = [(0.1, 0.1), (math.sqrt(0.03), math.sqrt(0.03)), (0.1 * 2 ** 0.5, 0.1 / 2 ** 0.5),
                   (0.1 / 2 ** 0.5, 0.1 * 2 ** 0.5), (0.1 * 3 ** 0.5, 0.1 / 3 ** 0.5), (0.1 / 3 ** 0.5, 0.1 * 3 ** 0.5)]
    assert torch.allclose(first[:, 2:], torch.tensor(expected_wh), atol=1e-6)
    assert torch.allclose(anchors[6, :2], torch.tensor([1.5 / 3, 0.25]))  # next cell: column 1
    assert torch.allclose(anchors[18, :2], torch.tensor([0.5 / 3, 0.75]))  # second row
    glob = generator(1, 1, -1)
    assert glob.shape == (4, 4) and glob.max() <= 1.0  # clipped: sqrt(0.5 * 0.7) * sqrt(2) > 1
    assert feature_map_sizes(320, 320, [16, 32, 64, 128, 256, -1]) == [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2),
                                                                       (1, 1)]


@pytest.mark.parametrize("ratios, message", [
    ("[[2, 3], [2, 3], [2, 3], [2, 3], [2, 3], [2], [2]]", "6 output strides but 7 aspect-ratio lists"),
    ("[2, 3]", "must be a list of lists of aspect ratios")])
def test_bad_anchor_options_are_named(ratios, message):
    from utils.errors import ConfigError

    opts = training_opts(["--common.config-file", "config/detection/edgeformer/ssd_edgeformer_s.yaml",
                          "--model.detection.ssd.anchors-aspect-ratio", ratios])
    with pytest.raises(ConfigError, match=message):
        get_model(opts)


def test_encode_decode_round_trip_and_forms():
    torch.manual_seed(0)
    anchors = torch.rand(50, 4) * 0.5 + 0.1
    boxes = torch.rand(50, 4) * 0.5 + 0.1
    codes = encode(boxes, anchors, 0.1, 0.2)
    assert torch.allclose(decode(codes, anchors, 0.1, 0.2), boxes, atol=1e-6)
    corner = torch.tensor([[0.1, 0.2, 0.5, 0.6]])
    assert torch.allclose(corner_to_center(corner), torch.tensor([[0.3, 0.4, 0.4, 0.4]]))
    assert torch.allclose(center_to_corner(corner_to_center(corner)), corner)


def test_matcher_on_hand_made_boxes():
    anchors = corner_to_center(torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.0, 1.0, 0.5], [0.0, 0.5, 0.5, 1.0],
                                             [0.5, 0.5, 1.0, 1.0], [0.05, 0.05, 0.45, 0.45]]))
    boxes = torch.tensor([[0.0, 0.0, 0.48, 0.48], [0.6, 0.6, 0.7, 0.7]])
    codes, labels = SSDMatcher(0.1, 0.2, 0.5)(boxes, torch.tensor([3, 7]), anchors)
    # anchors 0 and 4 overlap box 0 by more than 0.5; box 1 overlaps nothing that well but takes
    # its best anchor (3) anyway; anchors 1 and 2 are background
    assert labels.tolist() == [3, 0, 0, 7, 3]
    assert torch.allclose(decode(codes[3], anchors[3], 0.1, 0.2), corner_to_center(boxes[1:2])[0], atol=1e-6)
    codes, labels = SSDMatcher()(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), anchors)
    assert labels.tolist() == [0] * 5 and torch.isfinite(codes).all()


def test_hard_negatives_are_three_per_positive():
    torch.manual_seed(1)
    labels = torch.zeros(2, 100, dtype=torch.long)
    labels[0, :5] = 1
    labels[1, :2] = 4
    background_loss = torch.rand(2, 100)
    mask = hard_negative_mask(background_loss, labels, 3)
    assert mask.sum(1).tolist() == [20, 8]
    negatives = mask[0] & (labels[0] == 0)
    assert background_loss[0][negatives].min() >= background_loss[0][(~mask[0])].max()


def test_ssd_loss_is_finite_without_objects():
    from loss_fn.detection import SSDMultiboxLoss

    loss = SSDMultiboxLoss(training_opts([]))
    confidences, locations = torch.randn(2, 30, 5), torch.randn(2, 30, 4)
    target = {"box_labels": torch.zeros(2, 30, dtype=torch.long), "box_coordinates": torch.zeros(2, 30, 4)}
    assert torch.isfinite(loss((confidences, locations), target))


def coco_ground_truth():
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = {"images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
                    "categories": [{"id": 5, "name": "a"}, {"id": 9, "name": "b"}],
                    "annotations": [{"id": 1, "image_id": 1, "category_id": 5, "bbox": [10, 10, 40, 40],
                                     "area": 1600, "iscrowd": 0},
                                    {"id": 2, "image_id": 2, "category_id": 9, "bbox": [50, 20, 30, 60],
                                     "area": 1800, "iscrowd": 0}]}
    coco.createIndex()
    return coco


def test_coco_ap_of_perfect_and_shifted_predictions():
    coco = coco_ground_truth()
    to_category = {1: 5, 2: 9}
    perfect = (coco_results(1, np.array([[10, 10, 50, 50]]), [1], [0.9], to_category)
               + coco_results(2, np.array([[50, 20, 80, 80]]), [2], [0.8], to_category))
    metrics = coco_ap(coco, perfect, [1, 2])
    assert metrics["AP"] == pytest.approx(100.0) and metrics["AP50"] == pytest.approx(100.0)
    assert metrics["APs"] is None and len(metrics["coco_stats"]) == 12
    # boxes shifted by 10 pixels: IoU 0.6 (first) and 0.5 (second) pass 0.5 but not 0.75
    shifted = (coco_results(1, np.array([[20, 10, 60, 50]]), [1], [0.9], to_category)
               + coco_results(2, np.array([[50, 35, 80, 95]]), [2], [0.8], to_category))
    metrics = coco_ap(coco, shifted, [1, 2])
    assert metrics["AP50"] == pytest.approx(100.0) and metrics["AP75"] == pytest.approx(0.0)
    assert coco_ap(coco, [], [1, 2])["AP"] == 0.0


@pytest.mark.parametrize("name", ["ssd_edgeformer_s", "ssd_mobilevit_s"])
def test_ssd_state_dict_and_counts_match_manifest(name):
    check_against_manifest(name)


def test_ssd_edgeformer_golden_outputs_and_prediction():
    model, golden = golden_model("ssd_edgeformer_s")
    x = golden_input(golden, 320)
    with torch.no_grad():
        confidences, locations = model(x)
    assert confidences.shape == (1, 3232, 81) and locations.shape == (1, 3232, 4)
    assert relative_error(confidences, golden[320]["y"][0]) <= 1e-3
    assert relative_error(locations, golden[320]["y"][1]) <= 1e-3
    found = model.predict(x)[0]
    assert found.boxes.shape[1] == 4 and len(found.labels) == len(found.scores) == len(found.boxes)
    assert ((found.labels >= 1) & (found.labels <= 80)).all() and (found.scores > model.conf_threshold).all()
    for label in found.labels.unique():
        assert (found.labels == label).sum() <= model.top_k


def test_backbone_weights_load_whatever_the_classifier(tmp_path):
    from utils.errors import CheckpointError
    det_config = ["--common.config-file", "config/detection/demo/ssd_parcnet_digits.yaml"]
    cls_opts = training_opts(["--common.config-file", "config/classification/demo/parcnet_digits.yaml"])
    classifier = get_model(cls_opts)
    assert classifier.classifier.fc.out_features == 10
    torch.save(classifier.state_dict(), tmp_path / "digits.pt")
    detector = get_model(training_opts(det_config + ["--model.classification.pretrained", str(tmp_path / "digits.pt")]))
    backbone = detector.encoder.state_dict()
    for name, value in classifier.state_dict().items():
        if name in backbone:
            assert torch.equal(backbone[name], value), name
    assert "conv_1.block.conv.weight" in backbone
    # the rest of the backbone is still checked strictly
    state = classifier.state_dict()
    del state["layer_1.0.block.exp_1x1.block.conv.weight"]
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="missing keys: layer_1.0.block.exp_1x1"):
        get_model(training_opts(det_config + ["--model.classification.pretrained", str(tmp_path / "partial.pt")]))
    # a classification model itself keeps the classifier's shape check
    with pytest.raises(CheckpointError, match="classifier.fc.weight"):
        get_model(training_opts(["--common.config-file", "config/classification/demo/parcnet_digits.yaml",
                                 "--model.classification.n-classes", "7",
                                 "--model.classification.pretrained", str(tmp_path / "digits.pt")]))
