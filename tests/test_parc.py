"""The ParC operator, block and stage."""
import pytest
import torch
import torch.nn.functional as F

from cvnets.modules import BigKernelBlock, ParCBlock, ParCConv
from cvnets.modules import parc
from cvnets.modules.parc import circulant, circular_conv_depthwise, instance_tensor


def circular_reference(x, kernel, axis):
    """out[i] = sum_k kernel[k] * x[(i + k) mod L], written as an explicit loop."""
    length = x.shape[axis]
    out = torch.zeros_like(x)
    for k in range(length):
        shifted = torch.roll(x, shifts=-k, dims=axis)
        out += kernel[:, k].view(1, -1, 1, 1) * shifted
    return out


@pytest.mark.parametrize("axis", [2, 3])
def test_circular_conv_matches_definition(axis):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 7, 9)
    length = x.shape[axis]
    kernel, bias = torch.randn(5, length), torch.randn(5)
    expected = circular_reference(x, kernel, axis) + bias.view(1, -1, 1, 1)
    got = circular_conv_depthwise(x, circulant(kernel), bias, axis)
    assert torch.allclose(got, expected, atol=1e-5)
    previous = parc.set_implementation("concat_conv")
    try:
        assert torch.allclose(circular_conv_depthwise(x, circulant(kernel), bias, axis), expected, atol=1e-5)
    finally:
        parc.set_implementation(previous)


def test_instance_kernels_crop_and_interpolate():
    meta = torch.arange(8.0).view(1, 1, 8, 1)
    assert instance_tensor(meta, 8, 2, "crop") is meta
    assert torch.equal(instance_tensor(meta, 3, 2, "crop").flatten(), torch.tensor([0.0, 1.0, 2.0]))
    # bilinear with aligned corners: 8 samples of a line resampled at 15 points
    assert torch.allclose(instance_tensor(meta, 15, 2, "interpolation_bilinear").flatten(),
                          torch.linspace(0, 7, 15))
    row = meta.view(1, 1, 1, 8)
    assert torch.allclose(instance_tensor(row, 4, 3, "interpolation_bilinear").flatten(),
                          torch.linspace(0, 7, 4))
    with pytest.raises(ValueError, match="cannot make a kernel of 10 from a meta kernel of 8"):
        instance_tensor(meta, 10, 2, "crop")


def reference_block_forward(block, x):
    """The ParC block as the reference writes it: concatenate the input with itself and convolve,
    one feature size for both axes (square inputs)."""
    size = x.shape[-1]
    x1, x2 = torch.chunk(x, 2, 1)
    r1, r2 = x1, x2
    method = block.instance_kernel_method
    k1h, k1w, k2h, k2w = (instance_tensor(m, size, a, method) for m, a in
                          zip(block._meta_kernels(), (2, 3, 2, 3)))
    p1h, p1w, p2h, p2w = (instance_tensor(m, size, a, method) for m, a in zip(block._meta_pes(), (2, 3, 2, 3)))
    x1, x2 = block.pre_Norm_1(x1 + p1h), block.pre_Norm_2(x2 + p1w)
    g = block.dim
    y1 = F.conv2d(torch.cat((x1, x1[:, :, :-1]), 2), k1h, block.meta_1_H_bias, groups=g)
    y2 = F.conv2d(torch.cat((x2, x2[..., :-1]), 3), k1w, block.meta_1_W_bias, groups=g)
    y1, y2 = y1 + p2w, y2 + p2h
    y1 = F.conv2d(torch.cat((y1, y1[..., :-1]), 3), k2w, block.meta_2_W_bias, groups=g)
    y2 = F.conv2d(torch.cat((y2, y2[:, :, :-1]), 2), k2h, block.meta_2_H_bias, groups=g)
    out = torch.cat((r1 + y1, r2 + y2), 1)
    return out + block.ca(block.ffn(out))


@pytest.mark.parametrize("method, size", [("interpolation_bilinear", 12), ("interpolation_bilinear", 20),
                                          ("crop", 16), ("crop", 9)])
def test_block_matches_reference_formulation(method, size):
    torch.manual_seed(1)
    block = ParCBlock(8, 16, method, use_pe=True, bias=True, ffn_dim=32).eval()
    x = torch.randn(2, 16, size, size)
    with torch.no_grad():
        assert torch.allclose(block(x), reference_block_forward(block, x), atol=1e-5)


def test_block_runs_non_square_and_trains():
    block = ParCBlock(8, 8, "interpolation_bilinear", use_pe=True, mid_mix=True, ffn_dim=16)
    x = torch.randn(2, 16, 6, 11, requires_grad=True)
    out = block(x)
    assert out.shape == x.shape
    out.square().mean().backward()
    assert block.meta_kernel_1_W.grad is not None and block.meta_pe_2_H.grad is not None


def test_cache_follows_weight_updates():
    torch.manual_seed(2)
    block = ParCBlock(8, 8, "interpolation_bilinear", use_pe=True, ffn_dim=16).eval()
    x = torch.randn(1, 16, 10, 10)
    with torch.no_grad():
        first = block(x)
        assert torch.equal(block(x), first)
        block.meta_kernel_1_H.mul_(2.0)  # an in-place update, as an optimizer step makes
        changed = block(x)
    assert not torch.allclose(changed, first)
    block.load_state_dict({k: v.clone() for k, v in block.state_dict().items()})
    with torch.no_grad():
        assert torch.allclose(block(x), changed, atol=1e-6)


def test_big_kernel_block_shapes_follow_the_reference():
    block = BigKernelBlock(6, 5, ffn_dim=12, use_ca=False)
    assert block.bk_conv_2_W.weight.shape == (6, 1, 5, 1) and block.bk_conv_2_H.weight.shape == (6, 1, 1, 5)
    assert block(torch.randn(1, 12, 9, 7)).shape == (1, 12, 9, 7)


@pytest.mark.parametrize("groups", [1, 6])
def test_parc_conv_module(groups):
    torch.manual_seed(3)
    op = ParCConv(6, "W", 7, use_pe=True, groups=groups).eval()
    x = torch.randn(2, 6, 5, 7)
    xp = x + op.pe
    expected = F.conv2d(torch.cat((xp, xp[..., :-1]), 3), op.gcc_conv.weight, op.gcc_conv.bias, groups=groups)
    with torch.no_grad():
        assert torch.allclose(op(x), expected, atol=1e-5)
    with pytest.raises(ValueError, match="global kernel of 7 but the feature map has 9"):
        op(torch.randn(1, 6, 5, 9))
    resized = ParCConv(6, "W", 7, groups=groups, resize="interpolation_bilinear")
    assert resized(torch.randn(1, 6, 5, 9)).shape == (1, 6, 5, 9)


def test_evaluating_under_inference_mode_first_does_not_break_training_later(monkeypatch):
    """The first ParC forward of the process runs under torch.inference_mode (an evaluation); a
    training step of a ParC model afterwards still runs its backward."""
    from cvnets import get_model
    from conftest import training_opts

    monkeypatch.setattr(parc, "_INDEX_CACHE", {})  # as in a fresh process
    model = get_model(training_opts(["--common.config-file", "config/classification/edgeformer/edgeformer_xs.yaml"]))
    x = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        model.eval()(x)
    assert parc._INDEX_CACHE  # the evaluation filled the cache
    model.train()
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([1, 2]))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_kernels_cached_under_inference_mode_are_not_used_by_a_frozen_block_in_training():
    """Frozen ParC parameters in training (the frozen stages of a detector) after an evaluation
    under torch.inference_mode: the input's gradient still flows through the block."""
    block = ParCBlock(8, 8, "interpolation_bilinear", use_pe=True, ffn_dim=16).eval()
    for param in block.parameters():
        param.requires_grad_(False)
    x = torch.randn(1, 16, 9, 9)
    with torch.inference_mode():
        expected = block(x)
    trained = x.clone().requires_grad_(True)
    out = block(trained)
    out.square().mean().backward()
    assert trained.grad is not None and torch.allclose(out.detach(), expected, atol=1e-6)
