"""The Python API (parcnet.create_model, parcnet.list_models) and torch.hub."""
import subprocess
import sys

import pytest
import torch

import cvnets
import parcnet
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
    named = {cvnets.models.zoo.MODEL_ZOO[n].config_path for n in parcnet.list_models()}
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


def test_the_readme_inference_example_runs(tmp_path, monkeypatch, capsys):
    import ast
    import re

    import cv2
    import numpy as np

    from data.class_names import imagenet_class_names

    readme = (ROOT / "README.md").read_text()
    example = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "load_image" in block)
    assert len(example.strip().splitlines()) == 5
    torch.manual_seed(0)
    atomic_save(parcnet.create_model("parcnet_s").state_dict(), tmp_path / "checkpoint_ema_avg.pt")
    cv2.imwrite(str(tmp_path / "cat.jpg"), np.random.default_rng(0).integers(0, 255, (200, 300, 3), np.uint8))
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    printed = ast.literal_eval(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(printed) == 5 and all(name in imagenet_class_names() for name, _ in printed)
    assert [p for _, p in printed] == sorted((p for _, p in printed), reverse=True)
