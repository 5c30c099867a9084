"""docs/extending.md's worked examples, read from the guide itself: the backbone builds, trains a
step and carries the heads; the loss computes what it says; the dataset trains a model with the
labels its lists give; the inference backend is checked and timed by main_benchmark.py."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import sys

import pytest
import torch
import yaml

from conftest import ROOT, training_opts
from helpers_training import DEMO_CONFIG, tiny_args, write_small_digits

GUIDE = ROOT / "docs" / "extending.md"


def code_block(language: str, containing: str) -> str:
    """The guide's first ``language`` code block that contains ``containing``."""
    for block in re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S):
        if containing in block:
            return block
    raise AssertionError(f"docs/extending.md has no {language} block with {containing!r}")


@pytest.fixture
def from_guide(tmp_path, monkeypatch):
    """Import a module written from a code block of the guide; its registrations last for the test."""
    from cvnets.models.registry import CLS_MODEL_REGISTRY
    from data.datasets import DATASET_REGISTRY
    from deploy.backends import BACKEND_REGISTRY
    from loss_fn.classification import CLASSIFICATION_LOSS_REGISTRY

    for registry in (CLS_MODEL_REGISTRY, CLASSIFICATION_LOSS_REGISTRY, DATASET_REGISTRY, BACKEND_REGISTRY):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))

    def load(name: str, source: str):
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    return load


def test_the_guide_lists_its_sections():
    headings = re.findall(r"^## (.+)$", GUIDE.read_text(), flags=re.M)
    assert headings == ["A backbone", "A loss", "A dataset", "An inference backend"]


def test_the_backbone_of_the_guide_trains_and_carries_the_heads(from_guide, tmp_path):
    from cvnets import get_model
    from cvnets.misc.fuse import fuse_for_inference
    from loss_fn import build_loss
    from optim import build_optimizer

    tinynet = from_guide("guide_tinynet", code_block("python", '@CLS_MODEL_REGISTRY.register("tinynet")'))
    config = tmp_path / "tinynet.yaml"
    config.write_text(code_block("yaml", "name: tinynet"))
    opts = training_opts(["--common.config-file", str(config), "--model.classification.tinynet.width", "8"])
    model = get_model(opts)
    assert isinstance(model, tinynet.TinyNet) and model.stages[0][0][0].out_channels == 8

    # one training step, as the engine makes it
    torch.manual_seed(0)
    x, labels = torch.rand(4, 3, 48, 48), torch.tensor([0, 3, 5, 9])
    criterion, optimizer = build_loss(opts), build_optimizer(model, opts)
    before = [p.detach().clone() for p in model.parameters()]
    loss = criterion(model.train()(x), labels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    model.eval()
    with torch.no_grad():
        assert (fuse_for_inference(model)(x) - model(x)).abs().max() <= 1e-4 * model(x).abs().max()

    # the heads on it
    common = ["--common.config-file", str(config), "--model.classification.tinynet.width", "8"]
    ssd = get_model(training_opts(common + [
        "--dataset.category", "detection", "--model.detection.name", "ssd", "--model.detection.n-classes", "5",
        "--model.detection.ssd.output-strides", "8", "16", "32", "-1",
        "--model.detection.ssd.anchors-aspect-ratio", "[[2], [2], [2], [2]]",
        "--model.detection.ssd.proj-channels", "16", "16", "16", "16"])).eval()
    with torch.no_grad():
        found = ssd.predict(torch.rand(2, 3, 64, 64))
        confidences, locations = ssd(torch.rand(2, 3, 64, 64))
    assert len(found) == 2 and confidences.shape[:2] == locations.shape[:2] and confidences.shape[-1] == 5
    segmenter = get_model(training_opts(common + [
        "--dataset.category", "segmentation", "--model.segmentation.name", "upernet",
        "--model.segmentation.n-classes", "6", "--model.segmentation.upernet.channels", "16",
        "--model.segmentation.use-aux-head", "--model.segmentation.upernet.aux-channels", "8"]))
    main, aux = segmenter.train()(torch.rand(2, 3, 64, 96))
    assert main.shape == aux.shape == (2, 6, 64, 96)
    deeplab = get_model(training_opts(common + [
        "--dataset.category", "segmentation", "--model.segmentation.name", "encoder_decoder",
        "--model.segmentation.n-classes", "6", "--model.segmentation.deeplabv3.aspp-out-channels", "16"])).eval()
    with torch.no_grad():
        assert deeplab(torch.rand(1, 3, 64, 64)).shape == (1, 6, 64, 64)


def test_the_loss_of_the_guide_is_built_from_its_config(from_guide, tmp_path):
    import torch.nn.functional as F

    from loss_fn import build_loss

    from_guide("guide_focal", code_block("python", '@CLASSIFICATION_LOSS_REGISTRY.register("focal")'))
    config = tmp_path / "focal.yaml"
    config.write_text(code_block("yaml", "name: focal"))
    logits, target = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]]), torch.tensor([0, 2])
    gamma_2 = build_loss(training_opts(["--common.config-file", str(config)]))
    p = logits.softmax(dim=1)[torch.arange(2), target]
    assert gamma_2(logits, target).item() == pytest.approx(((1 - p) ** 2 * -p.log()).mean().item(), rel=1e-6)
    gamma_0 = build_loss(training_opts(["--common.config-file", str(config), "--loss.classification.focal.gamma", "0"]))
    assert gamma_0(logits, target).item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-6)


DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def write_lists(root):
    """The small digits folder with an ``images.txt`` per split naming each image's digit in words
    (the validation list names three digits only); returns the expected label of each validation image."""
    for split in ("training", "validation"):
        lines = [f"{p.parent.name}/{p.name} {DIGIT_NAMES[int(p.parent.name)]}"
                 for p in sorted((root / split).rglob("*.png")) if split == "training" or p.parent.name in "358"]
        (root / split / "images.txt").write_text("\n".join(lines) + "\n")
    order = sorted(DIGIT_NAMES)  # the training classes, in sorted name order
    return [order.index(DIGIT_NAMES[int(p.parent.name)]) for p in sorted((root / "validation").rglob("*.png"))
            if p.parent.name in "358"]


def test_the_dataset_of_the_guide_trains_a_model_with_the_labels_of_its_lists(from_guide, tmp_path):
    from data.datasets import build_dataset
    from engine.training import train
    from utils.errors import DataError

    from_guide("guide_image_list", code_block("python", '@DATASET_REGISTRY.register("image_list")'))
    data = write_small_digits(tmp_path / "digits", per_class_train=6, per_class_val=2)
    expected_val_labels = write_lists(data)
    config = yaml.safe_load((ROOT / DEMO_CONFIG).read_text())
    config["dataset"].update(yaml.safe_load(code_block("yaml", "name: image_list"))["dataset"])
    (tmp_path / "list.yaml").write_text(yaml.safe_dump(config))
    args = tiny_args(data, tmp_path / "results", "list", epochs=2)
    args[args.index(DEMO_CONFIG)] = str(tmp_path / "list.yaml")
    opts = training_opts(args)
    assert getattr(opts, "dataset.name") == "image_list"

    validation = build_dataset(opts, is_training=False)
    assert validation.classes == sorted(DIGIT_NAMES)  # the training set's, though the list names three
    assert [label for _, label in validation.samples] == expected_val_labels
    sample = validation[(24, 24, 0)]
    assert sample["image"].shape == (3, 24, 24) and int(sample["label"]) == expected_val_labels[0]

    run = train(opts)
    assert json.loads((run / "classes.json").read_text()) == sorted(DIGIT_NAMES)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1] and all(r["val"]["loss"] > 0 for r in records)

    (data / "validation" / "images.txt").write_text("3/0001.png three\nno-class-here.png\n")
    with pytest.raises(DataError, match=r"images.txt, line 2: expected '<image> <class>'"):
        build_dataset(opts, is_training=False)


def test_the_backend_of_the_guide_is_checked_and_timed_by_main_benchmark(from_guide):
    import main_benchmark
    from deploy.backends import BACKEND_REGISTRY
    from deploy.prepared import PreparedModel
    from utils.errors import ExportError

    backend = from_guide("guide_torch_export", code_block("python", '@BACKEND_REGISTRY.register("torch_export")'))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main_benchmark.main(["--common.config-file", "config/classification/edgeformer/edgeformer_xs.yaml",
                             "--benchmark.input-size", "64", "--benchmark.warmup", "1", "--benchmark.repeats", "3",
                             "--benchmark.backend", "torch_export", "--benchmark.latency"])
    lines = out.getvalue().strip().splitlines()
    result = json.loads(lines[-1])
    assert result["backend"] == "torch_export" and result["fused"] is True and result["latency_ms"] > 0
    assert any(line.startswith("edgeformer_xs: torch_export (folded) outputs within") for line in lines)

    # the parity check is real: a backend that gives other numbers is refused
    class Wrong(backend.TorchExportBackend):
        def prepare(self, module, x, output_names):
            run = super().prepare(module, x, output_names)
            return lambda: run() * 1.01

    BACKEND_REGISTRY.register("wrong")(Wrong)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten())
    model.deployable, model.output_names = (lambda size: model), ("logits",)
    assert PreparedModel(model, "torch_export", torch.rand(1, 3, 8, 8), fuse=False).error <= 1e-4
    with pytest.raises(ExportError, match="the wrong backend differs from the PyTorch model"):
        PreparedModel(model, "wrong", torch.rand(1, 3, 8, 8), fuse=False)
