"""The ParC implementations agree: FFT, circulant products and concatenate-and-convolve."""
import pytest
import torch

from conftest import relative_error
from cvnets.modules import ParCBlock, ParCConv
from cvnets.modules import parc


def roll_reference(x, kernel, bias, axis):
    """out[i] = bias + sum_k kernel[k] * x[(i + k) mod L], with rolls in float64."""
    x, kernel = x.double(), kernel.double()
    out = torch.zeros_like(x)
    for k in range(x.shape[axis]):
        out += kernel[:, k].view(1, -1, 1, 1) * torch.roll(x, shifts=-k, dims=axis)
    return (out + bias.double().view(1, -1, 1, 1)).float()


@pytest.mark.parametrize("length", [1, 2, 7, 16, 33, 64, 128])
@pytest.mark.parametrize("axis", [2, 3])
def test_implementations_match_the_definition(length, axis):
    generator = torch.Generator().manual_seed(length)
    shape = [2, 5, 6, 6]
    shape[axis] = length
    x = torch.randn(*shape, generator=generator)
    kernel, bias = torch.randn(5, length, generator=generator), torch.randn(5, generator=generator)
    expected = roll_reference(x, kernel, bias, axis)
    results = {}
    for name in ("circulant", "fft", "concat_conv"):
        results[name] = parc.parc_depthwise(x, parc.prepare_kernel(kernel, name), name, bias, axis)
        assert relative_error(results[name], expected) <= 1e-5, name
    assert relative_error(results["fft"], results["circulant"]) <= 1e-4
    assert relative_error(results["fft"], results["concat_conv"]) <= 1e-4


def test_auto_chooses_fft_from_the_measured_crossover():
    assert parc.current_implementation() == "auto"
    assert parc.implementation_for(parc.FFT_MIN_LENGTH - 1) == "circulant"
    assert parc.implementation_for(parc.FFT_MIN_LENGTH) == "fft"
    with parc.using_implementation("concat_conv"):
        assert parc.implementation_for(4 * parc.FFT_MIN_LENGTH) == "concat_conv"
    assert parc.current_implementation() == "auto"
    with pytest.raises(ValueError, match="unknown ParC implementation 'dft'"):
        parc.set_implementation("dft")


@pytest.mark.parametrize("h, w", [(12, 256), (260, 9)])  # one axis on each side of FFT_MIN_LENGTH
def test_block_and_operator_agree_across_implementations(h, w):
    torch.manual_seed(0)
    block = ParCBlock(8, 16, "interpolation_bilinear", use_pe=True, mid_mix=True, ffn_dim=16).eval()
    op = ParCConv(6, "W", w, use_pe=True, groups=6).eval()
    x, y = torch.randn(2, 16, h, w), torch.randn(2, 6, h, w)
    outputs = {}
    for name in ("circulant", "fft", "concat_conv", "auto"):
        with parc.using_implementation(name), torch.no_grad():
            outputs[name] = (block(x), op(y))
    for name in ("fft", "concat_conv", "auto"):
        for got, expected in zip(outputs[name], outputs["circulant"]):
            assert relative_error(got, expected) <= 1e-4, name


def test_fft_trains_like_the_circulant_product():
    torch.manual_seed(1)
    block = ParCBlock(16, 8, "interpolation_bilinear", use_pe=True, ffn_dim=16, dropout=0.0)
    x = torch.randn(2, 32, 20, 20)
    grads = {}
    for name in ("circulant", "fft"):
        block.zero_grad()
        with parc.using_implementation(name):
            block(x).square().mean().backward()
        grads[name] = block.meta_kernel_1_H.grad.clone()
    assert relative_error(grads["fft"], grads["circulant"]) <= 1e-4
