"""Folding for inference: option variants keep their outputs (1e-4; every named model is folded by
tests/test_model_zoo.py), and what is folded is gone."""
import pytest
import torch
from torch import nn

from conftest import golden_input, golden_model, randomise_statistics, relative_error, training_opts
from cvnets import get_model
from cvnets.misc.fuse import fuse_for_inference
from cvnets.modules import ParCBlock, ParCConv
from cvnets.modules.parc_fused import FusedParCBlock, FusedParCConv

# option variants the named models do not cover (every named model: tests/test_model_zoo.py)
MODELS = [
    # ParC-Net variants: embeddings and channel shuffles, cropped kernels, frozen norms, odd sizes
    ("classification/edgeformer/edgeformer_xs.yaml", (97, 131),
     ("--model.classification.edge.use-pe", "true", "--model.classification.edge.mid-mix", "true")),
    ("classification/edgeformer/edgeformer_xs.yaml", (64, 96),
     ("--model.classification.edge.instance-kernel", "crop", "--model.classification.edge.use-pe", "true",
      "--model.classification.edge.mid-mix", "true", "--model.classification.freeze-batch-norm", "true")),
    ("classification/parc_convnets/parc_mobilenetv2.yaml", 160,
     ("--model.classification.parc.instance-kernel", "interpolation_bilinear")),
]


def outputs(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


@pytest.mark.parametrize("config, size, extra", MODELS, ids=lambda v: str(v).replace("/", "-"))
def test_folded_model_gives_the_same_outputs(config, size, extra):
    torch.manual_seed(0)
    model = get_model(training_opts(["--common.config-file", config, *extra])).eval()
    randomise_statistics(model)
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.rand(1, 3, h, w)
    with torch.no_grad():
        expected = outputs(model(x))
    folded = fuse_for_inference(model, (h, w))
    lazily_folded = fuse_for_inference(model)  # plans made when a size is first seen
    with torch.no_grad():
        for got in (outputs(folded(x)), outputs(lazily_folded(x)), outputs(model(x))):
            assert len(got) == len(expected)
            for a, b in zip(got, expected):
                assert a.shape == b.shape and relative_error(a, b) <= 1e-4


def test_parcnet_is_left_without_norms_dropout_or_unfolded_parc():
    model = get_model(training_opts(["--common.config-file", "config/classification/edgeformer/edgeformer_s.yaml"]))
    folded = fuse_for_inference(model)
    kinds = {type(m) for m in folded.modules()}
    assert not kinds & {nn.BatchNorm2d, nn.Dropout, nn.Identity, ParCBlock}
    assert FusedParCBlock in kinds
    assert all(not p.requires_grad for p in folded.parameters())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched


def test_parc_convnets_fold_their_norms_into_the_parc_pair():
    model = get_model(training_opts(["--common.config-file", "config/classification/parc_convnets/parc_resnet50.yaml"]))
    folded = fuse_for_inference(model)
    assert not any(isinstance(m, (nn.BatchNorm2d, ParCConv)) for m in folded.modules())
    assert sum(isinstance(m, FusedParCConv) for m in folded.modules()) == 2 * 4  # ParC blocks: 3 in stage 3, 1 in 4


@pytest.mark.slow
@pytest.mark.parametrize("name", ["edgeformer_s", "ssd_edgeformer_s", "parc_resnet50"])
def test_folded_golden_models_stay_within_the_reference_tolerance(name):
    model, golden = golden_model(name)
    folded = fuse_for_inference(model)
    for size in golden["sizes"]:
        x = golden_input(golden, size)
        with torch.no_grad():
            got, unfolded = outputs(folded(x)), outputs(model(x))
        for a, b, reference in zip(got, unfolded, outputs(golden[size]["y"])):
            assert relative_error(a, b) <= 1e-4
            assert relative_error(a, reference) <= 1e-3


def test_channels_last_folding_keeps_outputs():
    model = get_model(training_opts(["--common.config-file", "config/classification/edgeformer/edgeformer_xs.yaml"]))
    model.eval()
    randomise_statistics(model)
    x = torch.rand(1, 3, 128, 128)
    folded = fuse_for_inference(model, (128, 128), channels_last=True)
    with torch.no_grad():
        assert relative_error(folded(x.contiguous(memory_format=torch.channels_last)), model(x)) <= 1e-4
