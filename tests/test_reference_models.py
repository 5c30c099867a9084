"""The classification models against the reference: state_dict, golden outputs, parameters, MACs."""
import contextlib
import io
import json

import pytest
import torch

from conftest import (golden_input, golden_model, load_manifest, manifest_weights, relative_error,
                      state_dict_entries, training_opts)
from cvnets import get_model

MODELS = ["edgeformer_xs", "edgeformer_s", "edgeformer_h", "mobilevit_xs", "mobilevit_s"]


def build(name):
    manifest = load_manifest(name)
    opts = training_opts(["--common.config-file", manifest["project_config"], *manifest["extra_args"]])
    return get_model(opts).eval(), manifest


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_matches_manifest_and_loads_strictly(name):
    model, manifest = build(name)
    assert state_dict_entries(model) == manifest["state_dict"]
    model.load_state_dict(manifest_weights(manifest), strict=True)
    assert sum(p.numel() for p in model.parameters()) == manifest["num_parameters"]


@pytest.mark.parametrize("name", ["edgeformer_s", "mobilevit_s"])
def test_golden_outputs(name):
    model, golden = golden_model(name)
    for size in golden["sizes"]:
        x = golden_input(golden, size)
        with torch.no_grad():
            y = model(x)
        assert relative_error(y, golden[size]["y"]) <= 1e-3
        # the instance kernels cached by the first pass give the same result
        with torch.no_grad():
            assert torch.equal(model(x), y)


@pytest.mark.parametrize("name", MODELS)
def test_benchmark_counts_match_manifest(name):
    import main_benchmark

    manifest = load_manifest(name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main_benchmark.main(["--common.config-file", manifest["project_config"], *manifest["extra_args"],
                             "--benchmark.input-size", str(manifest["input_size"])])
    lines = out.getvalue().strip().splitlines()
    result = json.loads(lines[-1])
    assert result["input_size"] == [manifest["input_size"]] * 2
    assert abs(result["params"] / manifest["num_parameters"] - 1) <= 0.01
    assert abs(result["macs"] / 1e6 / manifest["macs_millions"] - 1) <= 0.01
    assert any(line.startswith("layer_3") for line in lines)  # the per-stage table


def test_output_stride_dilates_the_last_stages():
    opts = training_opts(["--common.config-file", "config/classification/edgeformer/edgeformer_s.yaml"])
    from cvnets.models.classification.parcnet import ParCNet

    x = torch.rand(1, 3, 128, 128)
    for stride, size, reductions in ((None, 4, [4, 8, 16, 32]), (16, 8, [4, 8, 16, 16]), (8, 16, [4, 8, 8, 8])):
        model = ParCNet(opts, output_stride=stride).eval()
        with torch.no_grad():
            features = model.forward_features(x)
        assert features[-1].shape[-1] == size
        assert [info.reduction for info in model.feature_info()] == reductions  # the stages say so
        assert [128 // f.shape[-1] for f in features] == reductions


@pytest.mark.parametrize("config", ["config/classification/edgeformer/edgeformer_xs.yaml",
                                    "config/classification/mobilevit/mobilevit_x_small.yaml"])
def test_non_square_and_odd_inputs_run(config):
    model = get_model(training_opts(["--common.config-file", config])).eval()
    with torch.no_grad():
        for h, w in ((160, 256), (200, 136), (97, 131)):
            assert model(torch.rand(2, 3, h, w)).shape == (2, 1000)


def test_bad_input_shape_is_a_clear_error():
    model = get_model(training_opts(["--common.config-file", "config/classification/edgeformer/edgeformer_xs.yaml"]))
    with pytest.raises(ValueError, match=r"N x 3 x H x W tensor, got shape \(2, 1, 64, 64\)"):
        model(torch.rand(2, 1, 64, 64))
