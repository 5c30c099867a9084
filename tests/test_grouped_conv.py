"""The exact rewrites of grouped convolutions (cvnets/layers/grouped_conv.py) and their use when a
ParC-Net stage is folded for inference."""
import pytest
import torch
from torch import nn

from cvnets.layers.grouped_conv import RepeatedInputConv2d, dense_pointwise, repeat_depthwise, repeats_depthwise
from cvnets.misc.fuse import fuse_for_inference


@pytest.mark.parametrize("channels, multiplier, stride, dilation, bias", [
    (6, 2, 1, 1, False), (4, 3, 2, 1, True), (5, 2, 1, 2, True)])
def test_repeated_depthwise_gives_the_grouped_outputs_in_the_returned_order(channels, multiplier, stride, dilation,
                                                                            bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(channels, channels * multiplier, 3, stride, padding=dilation, dilation=dilation,
                     groups=channels, bias=bias)
    depthwise, order = repeat_depthwise(conv)
    assert isinstance(depthwise, RepeatedInputConv2d) and depthwise.groups == depthwise.in_channels
    assert sorted(order.tolist()) == list(range(channels * multiplier))
    x = torch.randn(2, channels, 9, 11)
    with torch.no_grad():
        torch.testing.assert_close(depthwise(x), conv(x)[:, order], rtol=0, atol=1e-6)


def test_only_one_input_several_outputs_per_group_is_rewritten():
    assert repeats_depthwise(nn.Conv2d(4, 8, 3, groups=4))
    assert not repeats_depthwise(nn.Conv2d(4, 4, 3, groups=4))  # depth-wise already
    assert not repeats_depthwise(nn.Conv2d(4, 8, 3, groups=2))  # two inputs per group
    assert not repeats_depthwise(nn.Conv2d(4, 8, 3, groups=4, padding=1, padding_mode="circular"))
    with pytest.raises(ValueError, match="one input per group"):
        repeat_depthwise(nn.Conv2d(4, 8, 1))


@pytest.mark.parametrize("in_channels, out_channels, groups", [(12, 6, 6), (12, 8, 4), (6, 12, 3)])
def test_dense_pointwise_equals_the_grouped_convolution(in_channels, out_channels, groups):
    torch.manual_seed(1)
    conv = nn.Conv2d(in_channels, out_channels, 1, groups=groups, bias=True)
    dense = dense_pointwise(conv)
    assert dense.groups == 1
    x = torch.randn(2, in_channels, 5, 7)
    with torch.no_grad():
        torch.testing.assert_close(dense(x), conv(x), rtol=0, atol=1e-6)
    three_by_three = nn.Conv2d(4, 4, 3, groups=2)
    assert dense_pointwise(three_by_three) is three_by_three


def test_folded_parcnet_s_stages_have_only_dense_and_depthwise_convolutions():
    from parcnet import create_model

    torch.manual_seed(0)
    model = create_model("parcnet_s").eval()
    for module in model.modules():  # batch norms with statistics, so that folding them matters
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    grouped = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1
               and not m.groups == m.in_channels == m.out_channels]
    assert len(grouped) == 6  # the two grouped convolutions of each of the three ParC stages
    folded = fuse_for_inference(model, (128, 128))
    convs = [m for m in folded.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.groups == 1 or m.groups == m.in_channels == m.out_channels for m in convs)
    assert sum(isinstance(m, RepeatedInputConv2d) for m in convs) == 3
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        expected, got = model(x), folded(x)
    assert ((got - expected).abs().max() / expected.abs().max()).item() < 1e-5
