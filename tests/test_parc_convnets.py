"""ParC-ConvNeXt-XT, ParC-ResNet50 and ParC-MobileNetV2 against the reference, and their baselines."""
import contextlib
import io
import json

import pytest
import torch
import torchvision

from conftest import (golden_input, golden_model, load_manifest, manifest_weights, relative_error, state_dict_entries,
                      training_opts)
from cvnets import get_model

MODELS = ["parc_convnext_xt", "parc_resnet50", "parc_mobilenetv2"]


def build(config, *extra):
    return get_model(training_opts(["--common.config-file", config, *extra])).eval()


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_params_and_macs_match_manifest(name):
    import main_benchmark

    manifest = load_manifest(name)
    model = build(manifest["project_config"])
    assert state_dict_entries(model) == manifest["state_dict"]
    model.load_state_dict(manifest_weights(manifest), strict=True)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main_benchmark.main(["--common.config-file", manifest["project_config"]])
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["params"] == manifest["num_parameters"]
    assert abs(result["macs"] / 1e6 / manifest["macs_millions"] - 1) <= 0.03


def test_parc_resnet50_golden_logits():
    model, golden = golden_model("parc_resnet50")
    for size in golden["sizes"]:
        with torch.no_grad():
            assert relative_error(model(golden_input(golden, size)), golden[size]["y"]) <= 1e-3


@pytest.mark.parametrize("config, reference", [("resnet50", torchvision.models.resnet50),
                                               ("mobilenetv2", torchvision.models.mobilenet_v2)])
def test_plain_baselines_are_torchvisions(config, reference):
    model = build(f"config/classification/parc_convnets/{config}.yaml")
    theirs = reference()
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert list(model.state_dict()) == list(theirs.state_dict())
    model.load_state_dict(theirs.state_dict())
    theirs.eval()
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(model(x), theirs(x), atol=1e-5)


def test_plain_convnext_differs_only_by_its_token_mixers():
    plain = build("config/classification/parc_convnets/convnext_xt.yaml")
    parc = build("config/classification/parc_convnets/parc_convnext_xt.yaml")
    def without_mixers(model):
        return {k for k in model.state_dict() if not (k.startswith("stages") and k.split(".")[3] in
                                                      ("dwconv", "gcc_H", "gcc_W"))}

    assert not any("gcc" in k for k in plain.state_dict())
    assert without_mixers(plain) == without_mixers(parc)


@pytest.mark.parametrize("name", MODELS)
def test_other_resolutions_need_resized_kernels(name):
    config = f"config/classification/parc_convnets/{name}.yaml"
    with pytest.raises(ValueError, match="instance_kernel: interpolation_bilinear"):
        with torch.no_grad():
            build(config)(torch.rand(1, 3, 160, 160))
    resized = build(config, "--model.classification.parc.instance-kernel", "interpolation_bilinear")
    with torch.no_grad():
        assert resized(torch.rand(1, 3, 160, 192)).shape == (1, 1000)
        # at 224 the resized kernels are the kernels themselves
        x = torch.rand(1, 3, 224, 224)
        fixed = build(config)
        fixed.load_state_dict(resized.state_dict())
        assert torch.allclose(fixed(x), resized(x), atol=1e-5)


def test_parc_mobilenetv2_learns_the_digits_at_a_small_resolution(tmp_path):
    from engine.training import train
    from helpers_training import fast_args, write_small_digits

    data = write_small_digits(tmp_path / "data", per_class_train=30, per_class_val=5)
    args = fast_args(data, tmp_path, epochs=6, extra=[
        "--model.classification.name", "parc_mobilenetv2", "--model.classification.parc.instance-kernel",
        "interpolation_bilinear", "--scheduler.cosine.max-lr", "0.01"])
    exp = train(training_opts(args))
    history = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["train"]["loss"] < history[0]["train"]["loss"] - 0.3
    assert history[-1]["train"]["top1"] > 30.0
