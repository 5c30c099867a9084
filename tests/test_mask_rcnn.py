"""Mask R-CNN: torchvision's model on our backbones, its losses in the engine, COCO instance masks,
box and mask AP from eval_det.py."""
import json

import cv2
import numpy as np
import pytest
import torch

from conftest import NO_TRAINING_SET, named_models, training_opts
from helpers_training import assert_benchmark_profiles
from cvnets import get_model
from utils.zoo import zoo_entry
from data.datasets import COCOInstanceSegmentation
from utils.errors import DataError

DEMO_CONFIG = "config/detection/demo/maskrcnn_parcnet_digits.yaml"
RESNET_CONFIG = "config/detection/parc_convnets/maskrcnn_resnet50.yaml"
DET_CONFIGS = named_models("detection", "mask_rcnn")


def parameter_shapes(model):
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


def test_plain_resnet50_mask_rcnn_is_torchvisions():
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    torch.manual_seed(0)
    small = dict(min_size=96, max_size=128, rpn_post_nms_top_n_test=50, box_detections_per_img=20)
    reference = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=81, image_mean=[0.0] * 3,
                                      image_std=[1.0] * 3, **small).eval()
    ours = get_model(training_opts([
        "--dataset.category", "detection", "--model.detection.name", "mask_rcnn", "--model.detection.n-classes", "81",
        "--model.classification.name", "resnet", "--model.detection.mask-rcnn.min-size", "96",
        "--model.detection.mask-rcnn.max-size", "128", "--model.detection.mask-rcnn.rpn-post-nms-top-n-test", "50",
        "--model.detection.mask-rcnn.box-detections-per-img", "20"])).eval()
    assert parameter_shapes(ours) == parameter_shapes(reference)
    ours.load_state_dict(reference.state_dict(), strict=True)
    images = [torch.rand(3, 90, 120), torch.rand(3, 100, 80)]
    with torch.no_grad():
        found, expected = ours(images), reference(images)
    assert len(expected[0]["boxes"]) > 0
    for mine, theirs in zip(found, expected):
        for key in ("boxes", "labels", "scores", "masks"):
            assert torch.equal(mine[key], theirs[key]), key
    # the configured ResNet-50 detector: frozen batch norm and stem + first stage, same state_dict names
    configured = get_model(training_opts(["--common.config-file", RESNET_CONFIG]))
    # torchvision's published count: 91 classes, frozen batch norm (no box and mask outputs for 10 of them here)
    assert sum(p.numel() for p in configured.parameters()) == 44_401_393 - 10 * (1024 * 5 + 5 + 256 + 1)
    assert [(k, tuple(v.shape)) for k, v in configured.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in reference.state_dict().items()]
    norms = [m for m in configured.backbone.body.modules() if "BatchNorm" in type(m).__name__]
    assert norms and all(type(m).__name__ == "FrozenBatchNorm" for m in norms)
    frozen = {n for n, p in configured.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in configured.named_parameters() if n.startswith(("backbone.body.conv1.",
                                                                                  "backbone.body.layer1."))}


def small_targets(n_classes=11):
    generator = torch.Generator().manual_seed(3)
    images = [torch.rand(3, 64, 64, generator=generator), torch.rand(3, 48, 64, generator=generator)]
    targets = []
    for image in images:
        masks = torch.zeros(2, *image.shape[-2:], dtype=torch.uint8)
        masks[0, 5:20, 8:30] = 1
        masks[1, 25:40, 30:60] = 1
        targets.append({"boxes": torch.tensor([[8.0, 5.0, 30.0, 20.0], [30.0, 25.0, 60.0, 40.0]]),
                        "labels": torch.tensor([1, n_classes - 1]), "masks": masks})
    return images, targets


def test_losses_flow_into_the_engine_loss_and_metrics_and_eval_mode_changes_nothing():
    from engine.loop_helpers import forward_model
    from loss_fn import build_loss
    from metrics import Statistics
    from metrics.loss_parts import MASK_RCNN_LOSS_PARTS

    opts = training_opts(["--common.config-file", DEMO_CONFIG, "--model.detection.mask-rcnn.min-size", "64",
                          "--model.detection.mask-rcnn.max-size", "64"])
    model = get_model(opts).eval()
    images, targets = small_targets()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        losses = forward_model(model, images, targets)
    assert set(losses) == set(MASK_RCNN_LOSS_PARTS) and all(torch.isfinite(v) for v in losses.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # no statistics updated
    assert not (model.training or model.rpn.training or model.roi_heads.training or model.backbone.training)
    criterion = build_loss(opts)
    total = criterion(losses, targets)
    assert torch.allclose(total, sum(losses.values()))
    stats = Statistics(["loss", *MASK_RCNN_LOSS_PARTS], opts)
    stats.update(losses, targets, total, 2)
    stats.update({k: 2 * v for k, v in losses.items()}, targets, 2 * total, 1)
    values = stats.values()
    assert values["loss_mask"] == pytest.approx(float(losses["loss_mask"]) * 4 / 3, rel=1e-6)
    assert values["loss"] == pytest.approx(float(total) * 4 / 3, rel=1e-6)
    # training mode: the loss dict again, with gradients reaching the backbone
    model.train()
    train_losses = forward_model(model, images, targets)
    criterion(train_losses, targets).backward()
    assert model.backbone.body.conv_1.block.conv.weight.grad.abs().sum() > 0
    found = model.eval().predict(torch.stack([images[0]]))[0]
    assert found.masks.shape[1:] == (64, 64) and found.boxes.le(1.0).all() and found.boxes.ge(0.0).all()


def write_instance_coco(root, split="val"):
    """Two 20 x 30 images: a rectangle polygon, a ring in compressed RLE, a bar in uncompressed RLE
    (column-major counts), a crowd annotation."""
    from pycocotools import mask as mask_utils

    (root / "images" / f"{split}2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    for image_id in (1, 2):
        cv2.imwrite(str(root / "images" / f"{split}2017" / f"{image_id}.png"), np.full((20, 30, 3), 40 * image_id,
                                                                                      np.uint8))
    ring = np.zeros((20, 30), np.uint8)
    ring[4:16, 12:24] = 1
    ring[8:12, 16:20] = 0
    rle = mask_utils.encode(np.asfortranarray(ring))
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 7, "bbox": [2, 3, 6, 6], "area": 36, "iscrowd": 0,
         "segmentation": [[2, 3, 8, 3, 8, 9, 2, 9]]},
        {"id": 2, "image_id": 1, "category_id": 9, "bbox": [12, 4, 12, 12], "area": int(ring.sum()), "iscrowd": 0,
         "segmentation": {"size": [20, 30], "counts": rle["counts"].decode("ascii")}},
        {"id": 3, "image_id": 2, "category_id": 7, "bbox": [5, 2, 1, 5], "area": 5, "iscrowd": 0,
         "segmentation": {"size": [20, 30], "counts": [5 * 20 + 2, 5, 600 - 107]}},
        {"id": 4, "image_id": 2, "category_id": 9, "bbox": [0, 0, 30, 20], "area": 600, "iscrowd": 1,
         "segmentation": {"size": [20, 30], "counts": [0, 600]}}]
    document = {"images": [{"id": i, "file_name": f"{i}.png", "width": 30, "height": 20} for i in (1, 2)],
                "categories": [{"id": 7, "name": "seven"}, {"id": 9, "name": "nine"}], "annotations": annotations}
    (root / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(document))
    rectangle, bar = np.zeros((20, 30), np.uint8), np.zeros((20, 30), np.uint8)
    rectangle[3:9, 2:8] = 1
    bar[2:7, 5] = 1
    return {1: [rectangle, ring], 2: [bar]}


def test_coco_instance_masks_from_polygons_and_both_rle_forms_and_flips(tmp_path):
    expected = write_instance_coco(tmp_path, "train")
    args = ["--common.config-file", DEMO_CONFIG, "--dataset.root-train", str(tmp_path)]
    dataset = COCOInstanceSegmentation(training_opts(args), is_training=True)
    assert dataset.variable_size_samples and dataset.ids == [1, 2]
    for index, image_id in enumerate(dataset.ids):
        target = dataset[(64, 64, index)]["label"]
        assert target["masks"].dtype == torch.uint8 and target["masks"].shape == (len(expected[image_id]), 20, 30)
        for mask, truth in zip(target["masks"], expected[image_id]):
            assert np.array_equal(mask.numpy(), truth)
    assert dataset[(64, 64, 1)]["label"]["labels"].tolist() == [1]  # the crowd annotation is left out
    flipped = COCOInstanceSegmentation(training_opts(args + [
        "--image-augmentation.random-horizontal-flip.enable", "--image-augmentation.random-horizontal-flip.p", "1"]),
        is_training=True)[(64, 64, 0)]
    assert np.array_equal(flipped["label"]["masks"][0].numpy(), expected[1][0][:, ::-1])
    assert flipped["label"]["boxes"][0].tolist() == [22.0, 3.0, 28.0, 9.0]  # 30 - 8, 30 - 2
    assert torch.equal(flipped["image"], torch.flip(dataset[(64, 64, 0)]["image"], dims=[2]))


class StubDetector(torch.nn.Module):
    """Fixed detections per image (found by its grey level), as a detector's ``predict`` gives them."""

    resizes_inputs = True
    n_classes = 3

    def __init__(self, detections):
        super().__init__()
        self.detections = detections

    def predict(self, images):
        from cvnets.models.detection import Detections

        found = []
        for image in images:
            boxes, labels, scores, masks = self.detections[round(float(image[0, 0, 0]) * 255 / 40)]
            height, width = image.shape[-2:]
            found.append(Detections(torch.tensor(labels), torch.tensor(scores),
                                    torch.tensor(boxes, dtype=torch.float32) / torch.tensor([width, height] * 2),
                                    torch.from_numpy(np.stack(masks)).float()))
        return found


def test_eval_det_box_and_mask_ap_equal_pycocotools(tmp_path):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from engine.eval_detection import evaluate_validation_set
    from engine.run_folder import RunFolder
    from options import get_eval_arguments
    from utils.runtime import setup_runtime

    truth = write_instance_coco(tmp_path / "coco")
    rectangle, ring = truth[1]
    shifted = np.roll(ring, 2, axis=1)  # a ring two pixels to the right: mask IoU 0.58
    stray = np.zeros_like(ring)
    stray[12:18, 2:10] = 1
    long_bar = np.zeros_like(ring)
    long_bar[2:8, 5] = 1  # box and mask IoU 5/6
    detections = {  # label 1: category 7, label 2: category 9; boxes in pixels, corner form
        1: ([[2, 3, 8, 9], [14, 4, 26, 16], [2, 12, 10, 18]], [1, 2, 1], [0.9, 0.8, 0.95],
            [rectangle, shifted, stray]),
        2: ([[5, 2, 6, 8]], [1], [0.7], [long_bar])}
    opts = get_eval_arguments(["--common.config-file", DEMO_CONFIG, *NO_TRAINING_SET, "--dataset.root-val",
                               str(tmp_path / "coco"),
                               "--dataset.workers", "0", "--evaluation.detection.save-overlay-boxes"])
    written = []
    metrics = evaluate_validation_set(opts, StubDetector(detections), setup_runtime(opts), RunFolder(tmp_path / "out"),
                                      written)

    coco = COCO(str(tmp_path / "coco" / "annotations" / "instances_val2017.json"))
    to_category = {1: 7, 2: 9}
    boxes, segments = [], []
    for image_id, (corners, labels, scores, masks) in detections.items():
        for (x1, y1, x2, y2), label, score, mask in zip(corners, labels, scores, masks):
            boxes.append({"image_id": image_id, "category_id": to_category[label], "bbox": [x1, y1, x2 - x1, y2 - y1],
                          "score": score})
            segments.append({"image_id": image_id, "category_id": to_category[label], "score": score,
                             "segmentation": mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))})
    for iou_type, results, prefix in (("bbox", boxes, ""), ("segm", segments, "mask_")):
        evaluator = COCOeval(coco, coco.loadRes(results), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        assert metrics[f"{prefix}coco_stats"] == pytest.approx([float(s) for s in evaluator.stats], abs=1e-9)
    assert 0 < metrics["mask_AP"] < metrics["AP"] < 100 and metrics["num_images"] == 2
    saved = json.loads((tmp_path / "out" / "segmentations.json").read_text())
    assert len(saved) == 4 and isinstance(saved[0]["segmentation"]["counts"], str)
    assert len(list((tmp_path / "out" / "validation_overlays").glob("*.jpg"))) == 2
    out = tmp_path / "out"
    assert sorted(written) == sorted([*(out / "validation_overlays").glob("*.jpg"), out / "segmentations.json",
                                      out / "detections.json"])  # every file it wrote, reported


def test_feature_stages_of_the_parc_convnets():
    from cvnets.models.classification import build_classification_model

    for name in ("resnet50", "parc_resnet50", "convnext_xt", "parc_convnext_xt", "mobilenetv2", "parc_mobilenetv2"):
        opts = training_opts(["--common.config-file", f"config/classification/parc_convnets/{name}.yaml",
                              "--model.classification.parc.instance-kernel", "interpolation_bilinear"])
        model = build_classification_model(opts, backbone=True).eval()
        model.to_feature_extractor()
        with torch.no_grad():
            features = model.forward_features(torch.rand(1, 3, 96, 64))
        stages = model.feature_info()
        assert [(f.shape[1], 96 // f.shape[2], 64 // f.shape[3]) for f in features] == \
            [(s.channels, s.reduction, s.reduction) for s in stages], name
        for stage in stages:  # every stage names modules that exist
            for module in stage.modules:
                model.get_submodule(module)
        assert not any(k.startswith(tuple(model.classifier_prefixes)) for k in model.state_dict()), name


def test_classification_weights_load_into_the_detector_backbone(tmp_path):
    from cvnets.models.classification import build_classification_model

    cls_config = "config/classification/parc_convnets/parc_convnext_xt.yaml"
    classifier = build_classification_model(training_opts(["--common.config-file", cls_config,
                                                           "--model.classification.n-classes", "7"]))
    torch.save(classifier.state_dict(), tmp_path / "backbone.pt")
    detector = get_model(training_opts(["--common.config-file", "config/detection/parc_convnets/maskrcnn_parc_convnext_xt.yaml",
                                        "--model.classification.pretrained", str(tmp_path / "backbone.pt")]))
    body = detector.backbone.body.state_dict()
    for key, value in classifier.state_dict().items():
        if key.startswith(("norm.", "head.")):
            assert key not in body
        else:
            assert torch.equal(body[key], value), key
    # ConvNeXt's detection backbone normalises each output stage
    assert [tuple(body[f"norm{i}.weight"].shape) for i in range(4)] == [(48,), (96,), (192,), (384,)]


def test_multi_step_schedule():
    from optim import build_scheduler

    scheduler = build_scheduler(training_opts([
        "--scheduler.name", "multi_step", "--scheduler.max-epochs", "36", "--scheduler.multi-step.lr", "0.01",
        "--scheduler.multi-step.milestones", "33", "27", "--scheduler.warmup-iterations", "10",
        "--scheduler.warmup-init-lr", "0.001"]))
    assert scheduler.get_lr(0, 5) == pytest.approx(0.001 + 5 * 0.0009)
    assert [scheduler.get_lr(e, 100) for e in (0, 26, 27, 32, 33, 35)] == pytest.approx(
        [0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001])


@pytest.mark.slow
@pytest.mark.parametrize("name", DET_CONFIGS)
def test_detection_configs_build_and_profile(name, capsys):
    assert_benchmark_profiles(str(zoo_entry(name).config_path), [
        "--benchmark.input-size", "96", "--model.detection.mask-rcnn.min-size", "96",
        "--model.detection.mask-rcnn.max-size", "96"], capsys)


@pytest.mark.slow
def test_short_mask_rcnn_training_and_eval_det(tmp_path):
    import eval_det
    from data.demo.detection import write_detection_set
    from engine.training import train

    write_detection_set(tmp_path / "coco", n_train=16, n_val=4, size=64, min_side=16, max_side=28)
    common = ["--common.config-file", DEMO_CONFIG, "--dataset.root-train", str(tmp_path / "coco"),
              "--dataset.root-val", str(tmp_path / "coco"), "--common.results-loc", str(tmp_path),
              "--common.run-label", "maskrcnn", "--dataset.workers", "0", "--model.detection.mask-rcnn.min-size", "64",
              "--model.detection.mask-rcnn.max-size", "64"]
    exp = train(training_opts(common + ["--scheduler.max-epochs", "1", "--scheduler.warmup-iterations", "1"]))
    record = json.loads((exp / "metrics.jsonl").read_text().splitlines()[-1])
    for split in ("train", "val", "val_ema"):
        parts = sum(record[split][k] for k in ("loss_objectness", "loss_rpn_box_reg", "loss_classifier",
                                               "loss_box_reg", "loss_mask"))
        assert record[split]["loss"] == pytest.approx(parts, rel=1e-4), split
    eval_det.main(common + ["--model.detection.pretrained", str(exp / "checkpoint_ema_avg.pt"),
                            "--evaluation.detection.mode", "validation_set"])
    metrics = json.loads((exp / "eval_metrics.json").read_text())
    assert metrics["num_images"] == 4 and len(metrics["mask_coco_stats"]) == 12
    eval_det.main(common + ["--model.detection.pretrained", str(exp / "checkpoint_ema_avg.pt"),
                            "--evaluation.detection.mode", "single_image", "--evaluation.detection.path",
                            str(tmp_path / "coco" / "images" / "val2017" / "val_00001.jpg")])
    assert cv2.imread(str(exp / "detection_results" / "val_00001.jpg")).shape == (64, 64, 3)
    predicted = json.loads((exp / "predictions.json").read_text())[0]["detections"]
    assert all(set(d["mask"]) == {"size", "counts"} for d in predicted)


def test_short_polygons_are_left_out_and_a_missing_segmentation_stops_at_start(tmp_path):
    from pycocotools.cocoeval import COCOeval

    write_instance_coco(tmp_path, "val")
    path = tmp_path / "annotations" / "instances_val2017.json"
    document = json.loads(path.read_text())
    document["annotations"][0]["segmentation"] = [[2, 3, 8, 9], [2, 3, 8, 3, 8, 9, 2, 9]]  # a 2-point part
    document["annotations"].append({"id": 5, "image_id": 2, "category_id": 9, "bbox": [20, 2, 4, 4], "area": 16,
                                    "iscrowd": 0, "segmentation": []})
    path.write_text(json.dumps(document))
    args = ["--common.config-file", DEMO_CONFIG, "--dataset.root-val", str(tmp_path), *NO_TRAINING_SET]
    dataset = COCOInstanceSegmentation(training_opts(args), is_training=False)
    assert dataset.coco.anns[1]["segmentation"] == [[2, 3, 8, 3, 8, 9, 2, 9]]
    assert dataset.instance_masks(2, 20, 30)[1].sum() == 0  # no polygon left: an empty mask
    results = [{"image_id": 1, "category_id": 7, "segmentation": dataset.coco.annToRLE(dataset.coco.anns[1]),
                "score": 0.9}]
    for r in results:
        r["segmentation"]["counts"] = r["segmentation"]["counts"].decode("ascii")
    evaluator = COCOeval(dataset.coco, dataset.coco.loadRes(results), "segm")  # pycocotools reads the cleaned file
    evaluator.evaluate()
    del document["annotations"][1]["segmentation"]
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match="1 annotations have no segmentation .first: id 2."):
        COCOInstanceSegmentation(training_opts(args), is_training=False)


def test_mask_rcnn_is_not_exported_and_takes_no_output_stride(tmp_path):
    import main_export
    from utils.errors import ConfigError, ExportError

    with pytest.raises(ExportError, match="only SSD detectors can be exported; MaskRCNNDetector cannot"):
        main_export.main(["--common.config-file", DEMO_CONFIG, "--export.format", "onnx",
                          "--export.output", str(tmp_path / "m.onnx")])
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(ConfigError, match="output_stride is for DeepLabV3 and SSD; mask_rcnn reads"):
        get_model(training_opts(["--common.config-file", DEMO_CONFIG, "--model.detection.output-stride", "16"]))


def test_benchmark_of_a_parcnet_mask_rcnn_counts_parc_products_and_reports_the_resized_input(capsys):
    import main_benchmark

    sizes = {}
    for size in (64, 128):
        main_benchmark.main(["--common.config-file", DEMO_CONFIG, "--benchmark.input-size", str(size)])
        sizes[size] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sizes[64]["resized_input_size"] == sizes[128]["resized_input_size"] == [128, 128]
    assert sizes[64]["macs"] == sizes[128]["macs"] > 0  # the detector sees 128 x 128 either way


def test_fvcore_count_of_a_parc_block_adds_its_parc_products_to_its_layers(monkeypatch):
    from cvnets.misc.profiler import profile_model
    from cvnets.modules.parc_block import ParCBlock

    block = ParCBlock(8, 16, "interpolation_bilinear", ffn_dim=32).eval()
    x = torch.zeros(1, 16, 12, 20)
    total = profile_model(block, x, [("block", block)], "fvcore").macs
    monkeypatch.setattr(ParCBlock, "functional_macs", lambda self, inputs, output: 0.0)
    layers = profile_model(block, x, [("block", block)], "fvcore").macs
    assert layers > 0 and total - layers == (12 + 20) * 16 * 12 * 20  # each half along H then W
