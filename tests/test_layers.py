import pytest
import torch
from torch import nn

from conftest import training_opts
from cvnets.layers import (ACTIVATION_REGISTRY, NORM_REGISTRY, ConvLayer, GlobalPool, build_activation,
                           build_normalization, initialize_weights)
from cvnets.modules import InvertedResidual, MobileViTBlock
from utils.errors import ConfigError


def test_conv_layer_names_padding_and_parts():
    opts = training_opts(["--model.activation.name", "swish"])
    layer = ConvLayer(opts, 8, 16, 3, stride=2, dilation=2, groups=4)
    assert [k for k in layer.state_dict()][:2] == ["block.conv.weight", "block.norm.weight"]
    assert layer.block.conv.padding == (2, 2) and isinstance(layer.block.act, nn.SiLU)
    assert layer(torch.randn(1, 8, 17, 17)).shape == (1, 16, 9, 9)
    bare = ConvLayer(opts, 8, 8, 1, use_norm=False, use_act=False)
    assert list(dict(bare.block.named_children())) == ["conv"]
    with pytest.raises(ValueError, match="not divisible by groups"):
        ConvLayer(opts, 6, 8, 3, groups=4)


@pytest.mark.parametrize("name", sorted(ACTIVATION_REGISTRY.names()))
def test_every_activation_builds(name):
    act = build_activation(training_opts([]), num_parameters=4, name=name)
    assert act(torch.randn(2, 4, 3, 3)).shape == (2, 4, 3, 3)


@pytest.mark.parametrize("name", ["batch_norm_2d", "sync_batch_norm", "group_norm", "instance_norm", "identity"])
def test_normalizations_build(name):
    norm = build_normalization(training_opts(["--model.normalization.groups", "4"]), 8, name=name)
    assert norm(torch.randn(2, 8, 5, 5)).shape == (2, 8, 5, 5)
    assert "layer_norm" in NORM_REGISTRY


def test_unknown_activation_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown activation 'swosh'.*did you mean 'swish'"):
        build_activation(training_opts([]), name="swosh")


def test_weight_initialisation_follows_options():
    opts = training_opts(["--model.layer.linear-init", "normal", "--model.layer.linear-init-std-dev", "0.5"])
    model = nn.Sequential(nn.Conv2d(4, 64, 3, bias=True), nn.BatchNorm2d(64), nn.Flatten(), nn.Linear(10, 2000))
    nn.init.constant_(model[1].weight, 3.0)
    initialize_weights(opts, model)
    assert torch.all(model[0].bias == 0) and torch.all(model[1].weight == 1)
    assert abs(model[3].weight.std().item() - 0.5) < 0.02
    # kaiming normal, fan_out: std = sqrt(2 / (64 * 9))
    assert abs(model[0].weight.std().item() - (2 / (64 * 9)) ** 0.5) < 0.01


def test_global_pool():
    x = torch.tensor([[[[3.0, -4.0]]]])
    assert GlobalPool("mean")(x).item() == -0.5
    assert GlobalPool("rms")(x).item() == pytest.approx((12.5) ** 0.5)
    assert GlobalPool("abs", keep_dim=True)(x).shape == (1, 1, 1, 1)


def test_inverted_residual_skip_and_names():
    opts = training_opts([])
    block = InvertedResidual(opts, 16, 16, 1, 4)
    assert block.use_res_connect and "block.exp_1x1.block.conv.weight" in block.state_dict()
    assert not InvertedResidual(opts, 16, 24, 2, 1).use_res_connect
    assert "block.exp_1x1.block.conv.weight" not in InvertedResidual(opts, 16, 24, 2, 1).state_dict()


def test_mobilevit_unfold_fold_round_trip():
    block = MobileViTBlock(training_opts([]), 8, 16, 32, head_dim=8, patch_h=2, patch_w=2)
    fm = torch.randn(2, 16, 6, 10)
    patches, info = block.unfolding(fm)
    assert patches.shape == (2 * 4, 15, 16)
    # patch n = row-major patch index, pixel p = row-major position inside the patch
    assert torch.equal(patches[1 * 2 + 1, 1 * 5 + 3], fm[0, :, 2 * 1 + 1, 2 * 3 + 1])
    assert torch.equal(block.folding(patches, info), fm)
    odd = torch.randn(1, 16, 7, 9)
    patches, info = block.unfolding(odd)
    assert block.folding(patches, info).shape == odd.shape
