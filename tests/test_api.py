"""The Python API (parcnet.create_model, parcnet.list_models) and torch.hub."""
import re
import subprocess
import sys

import pytest
import torch

import parcnet
import utils.zoo
from conftest import ROOT
from utils.io import atomic_save
from utils.errors import ConfigError


def n_parameters(model):
    return sum(p.numel() for p in model.parameters())


def test_create_model_builds_parcnet_s_from_its_config():
    model = parcnet.create_model("parcnet_s")
    assert n_parameters(model) == 5_037_088
    assert not model.training
    assert getattr(model.opts, "model.classification.edge.scale") == "scale_s"


def test_hub_and_create_model_load_a_released_checkpoint(tmp_path):
    torch.manual_seed(0)
    trained = parcnet.create_model("parcnet_s")
    atomic_save(trained.state_dict(), tmp_path / "checkpoint_ema_avg.pt")  # a released file: a plain state_dict
    atomic_save({"epoch": 3, "model_state_dict": trained.state_dict()}, tmp_path / "checkpoint.pt")
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = trained(x)
    fresh = torch.hub.load(str(ROOT), "parcnet_s", source="local")
    assert n_parameters(fresh) == 5_037_088
    loaded = [parcnet.create_model("parcnet_s", pretrained=tmp_path / "checkpoint_ema_avg.pt"),
              parcnet.create_model("parcnet_s", pretrained=str(tmp_path / "checkpoint.pt")),
              torch.hub.load(str(ROOT), "parcnet_s", source="local", pretrained=str(tmp_path / "checkpoint_ema_avg.pt"))]
    with torch.no_grad():
        assert not torch.equal(fresh.eval()(x), expected)
        for model in loaded:
            assert torch.equal(model(x), expected)


def test_every_config_has_a_name():
    named = {utils.zoo.MODEL_ZOO[n].config_path for n in parcnet.list_models()}
    configs = {p for p in (ROOT / "config").rglob("*.yaml") if p.parent.name != "demo"}
    assert named == configs
    assert parcnet.list_models("segmentation") == [
        "deeplabv3_parcnet_s", "deeplabv3_mobilevit_s", "deeplabv3_mobilevit_xs", "upernet_parc_resnet50",
        "upernet_resnet50", "upernet_parc_convnext_xt", "upernet_convnext_xt", "upernet_parc_mobilenetv2",
        "upernet_mobilenetv2"]


def test_detection_and_segmentation_models():
    detector = parcnet.create_model("ssd_mobilevit_xs")
    assert detector.n_classes == 81 and n_parameters(detector) == 2_742_042
    segmenter = parcnet.create_model("deeplabv3_mobilevit_xs", num_classes=5)
    assert not any(isinstance(m, torch.nn.SyncBatchNorm) for m in segmenter.modules())  # the config's sync_batch_norm
    with torch.no_grad():
        assert segmenter(torch.rand(1, 3, 64, 64)).shape == (1, 5, 64, 64)


def test_options_by_key_and_by_short_name():
    model = parcnet.create_model("parcnet_xs", num_classes=10, classifier_dropout=0.3,
                                **{"model.classification.activation.name": "relu"})
    assert model.classifier.fc.out_features == 10
    assert getattr(model.opts, "model.classification.classifier_dropout") == 0.3
    assert getattr(model.opts, "model.classification.activation.name") == "relu"
    yaml_path = parcnet.create_model(str(ROOT / "config/classification/demo/parcnet_digits.yaml"))
    assert yaml_path.classifier.fc.out_features == 10


@pytest.mark.parametrize("call, message", [
    (lambda: parcnet.create_model("parcnet_m"), "unknown model 'parcnet_m' (did you mean parcnet_"),
    (lambda: parcnet.create_model("parcnet_xs", classifer_dropout=0.1), "did you mean 'model.classification.classifier_dropout'"),
    (lambda: parcnet.create_model("parcnet_xs", num_classes="many"), "wrong type (expected int)"),
    (lambda: parcnet.create_model("parcnet_xs", pretrained=True), "pass the path of a local checkpoint"),
    (lambda: parcnet.list_models("captioning"), "unknown task"),
])
def test_mistakes_are_named(call, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        call()


def test_importing_cvnets_does_not_import_options():
    code = "import sys, cvnets; cvnets.list_models(); print('options' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False"


def test_the_readme_examples_run(tmp_path, monkeypatch, capsys):
    """The README's top-5 example, then its preprocess and features_only examples (in one namespace,
    as a user pastes them), on random ParC-Net-S weights; the printed feature stages are the comment's."""
    import ast
    import re

    import cv2
    import numpy as np

    from data.class_names import imagenet_class_names

    readme = (ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "parcnet." in b and "torch.hub" not in b]
    top5, rgb, stages = (next(b for b in blocks if word in b) for word in ("load_image", "preprocess(", "features_only"))
    assert len(top5.strip().splitlines()) == 4
    torch.manual_seed(0)
    atomic_save(parcnet.create_model("parcnet_s").state_dict(), tmp_path / "checkpoint_ema_avg.pt")
    cv2.imwrite(str(tmp_path / "cat.jpg"), np.random.default_rng(0).integers(0, 255, (200, 300, 3), np.uint8))
    monkeypatch.chdir(tmp_path)
    namespace = {"torch": torch}
    exec(compile(top5, "README.md", "exec"), namespace)
    printed = ast.literal_eval(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(printed) == 5 and all(name in imagenet_class_names() for name, _ in printed)
    assert [p for _, p in printed] == sorted((p for _, p in printed), reverse=True)
    exec(compile(rgb, "README.md", "exec"), namespace)
    assert torch.equal(namespace["x"], parcnet.load_image("cat.jpg", namespace["model"]))
    exec(compile(stages, "README.md", "exec"), namespace)
    comment = stages.strip().splitlines()[-1].split("#")[1].strip()
    assert capsys.readouterr().out.strip().splitlines()[-1] == comment
    assert [tuple(m.shape[1:]) for m in namespace["maps"]] == [(64, 64, 64), (96, 32, 32), (128, 16, 16), (160, 8, 8)]


def test_the_readme_top5_example_names_the_demo_model_s_digits(tmp_path, monkeypatch, capsys):
    """The README's top-5 example with the demo model the README names in its place, on weights and
    the ``classes.json`` laid out as ``make demo`` leaves them: it prints digits, not ImageNet names."""
    import ast
    import json

    import cv2
    import numpy as np

    readme = (ROOT / "README.md").read_text()
    top5 = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "load_image" in b)
    demo_call = re.search(r'`(create_model\("config/classification/demo/[^`]*\))`', readme).group(1)
    line = next(line for line in top5.splitlines() if "create_model(" in line)
    example = top5.replace(line, f"model = parcnet.{demo_call}")
    run = tmp_path / "results" / "demo"
    torch.manual_seed(0)
    atomic_save(parcnet.create_model(str(ROOT / "config/classification/demo/parcnet_digits.yaml")).state_dict(),
                run / "checkpoint_ema_avg.pt")
    (run / "classes.json").write_text(json.dumps([str(d) for d in range(10)]))  # as training writes it
    cv2.imwrite(str(tmp_path / "cat.jpg"), np.random.default_rng(0).integers(0, 255, (60, 40, 3), np.uint8))
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    printed = ast.literal_eval(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(printed) == 5 and {name for name, _ in printed} <= {str(d) for d in range(10)}


def test_features_only_returns_the_feature_stages():
    torch.manual_seed(0)
    full = parcnet.create_model("parcnet_xs")
    stages = parcnet.create_model("parcnet_xs", features_only=True)
    stages.load_state_dict({f"backbone.{k}": v for k, v in full.state_dict().items()})
    x = torch.rand(2, 3, 96, 64)
    with torch.no_grad():
        maps = stages(x)
        expected = full.forward_features(x)
    assert [f.reduction for f in stages.feature_info] == [4, 8, 16, 32]
    assert [tuple(m.shape) for m in maps] == [(2, f.channels, 96 // f.reduction, 64 // f.reduction)
                                              for f in stages.feature_info]
    assert all(torch.equal(a, b) for a, b in zip(maps, expected))
    assert not stages.training and stages.class_names is None and stages.opts is not None


def test_features_only_of_a_model_without_stages_is_one_line():
    with pytest.raises(ConfigError) as caught:
        parcnet.create_model("ssd_mobilevit_xs", features_only=True)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("create_model: ssd_mobilevit_xs (SingleShotDetector) has no feature stages")


def test_preprocess_takes_rgb_arrays_as_load_image_takes_files(tmp_path):
    import cv2
    import numpy as np

    model = parcnet.create_model(str(ROOT / "config/classification/demo/parcnet_digits.yaml"))
    rgb = np.random.default_rng(0).integers(0, 255, (70, 90, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "image.png"), rgb[:, :, ::-1])  # OpenCV writes BGR
    from_file = parcnet.load_image(tmp_path / "image.png", model)
    assert from_file.shape == (1, 3, 48, 48)
    assert torch.equal(parcnet.preprocess(rgb, model), from_file)
    assert torch.equal(parcnet.preprocess(rgb[:, :, ::-1], model, channel_order="bgr"), from_file)
    assert not torch.equal(parcnet.preprocess(rgb[:, :, ::-1], model), from_file)
    from PIL import Image
    assert torch.equal(parcnet.preprocess(Image.fromarray(rgb), model), from_file)


@pytest.mark.parametrize("image, message", [
    ("gray", "preprocess takes an H x W x 3 uint8 array, got shape (20, 20) of uint8"),
    ("float", "preprocess takes an H x W x 3 uint8 array, got shape (20, 20, 3) of float32"),
])
def test_preprocess_refuses_other_arrays_in_one_line(image, message):
    import numpy as np

    from utils.errors import DataError

    model = parcnet.create_model("parcnet_xs")
    array = np.zeros((20, 20), np.uint8) if image == "gray" else np.zeros((20, 20, 3), np.float32)
    with pytest.raises(DataError, match=re.escape(message)):
        parcnet.preprocess(array, model)
    with pytest.raises(ConfigError, match="channel_order must be RGB or BGR, got 'RGBA'"):
        parcnet.preprocess(np.zeros((20, 20, 3), np.uint8), model, channel_order="RGBA")
    with pytest.raises(ConfigError, match="preprocess prepares the inputs of classification models"):
        parcnet.preprocess(np.zeros((20, 20, 3), np.uint8), parcnet.create_model("ssd_mobilevit_xs"))


def test_class_names_come_with_the_weights(tmp_path, capsys):
    import json

    from data.class_names import imagenet_class_names

    demo = str(ROOT / "config/classification/demo/parcnet_digits.yaml")
    atomic_save(parcnet.create_model(demo).state_dict(), tmp_path / "run" / "checkpoint_ema_avg.pt")
    names = [f"digit {i}" for i in range(10)]
    (tmp_path / "run" / "classes.json").write_text(json.dumps(names))  # as training writes it
    trained = parcnet.create_model(demo, pretrained=tmp_path / "run" / "checkpoint_ema_avg.pt",
                                   **{"dataset.root_train": ""})
    assert trained.class_names == names
    assert parcnet.create_model(demo).class_names is None  # no weights, no names
    atomic_save(parcnet.create_model("mobilevit_xs").state_dict(), tmp_path / "released.pt")
    capsys.readouterr()
    released = parcnet.create_model("mobilevit_xs", pretrained=tmp_path / "released.pt")
    assert released.class_names == imagenet_class_names()
    assert "guessing ImageNet-1k's names from the class count" in capsys.readouterr().out


def test_a_missing_weights_file_is_named_as_the_caller_named_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        parcnet.create_model("parcnet_xs", pretrained="weights/missing.pt")
    assert str(caught.value) == (f"create_model: pretrained='weights/missing.pt' not found "
                                 f"(no file {tmp_path / 'weights' / 'missing.pt'})")


def test_the_command_line_names_the_resolved_path_of_a_missing_weights_file(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "eval_cls.py"), "--common.config-file", "parcnet_xs",
                             "--model.classification.pretrained", "missing.pt"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: model.classification.pretrained not found: missing.pt (no file {tmp_path / 'missing.pt'})")
