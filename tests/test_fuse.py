"""Folding for inference: every model keeps its outputs (1e-4), and what is folded is gone."""
import pytest
import torch
from torch import nn

from conftest import golden_input, golden_model, relative_error, training_opts
from cvnets import get_model
from cvnets.misc.fuse import fuse_for_inference
from cvnets.modules import ParCBlock, ParCConv
from cvnets.modules.parc_fused import FusedParCBlock, FusedParCConv

# every config of the README's model table, at a small size the model allows
MODELS = [
    ("classification/edgeformer/edgeformer_xs.yaml", 96, ()),
    ("classification/edgeformer/edgeformer_s.yaml", 96, ()),
    pytest.param("classification/edgeformer/edgeformer_h.yaml", 64, (), marks=pytest.mark.slow),
    ("classification/mobilevit/mobilevit_x_small.yaml", 96, ()),
    ("classification/mobilevit/mobilevit_small.yaml", 96, ()),
    ("detection/edgeformer/ssd_edgeformer_s.yaml", 128, ()),
    ("detection/mobilevit/ssd_mobilevit_small_320.yaml", 128, ()),
    ("detection/mobilevit/ssd_mobilevit_x_small_320.yaml", 128, ()),
    ("segmentation/edgeformer/deeplabv3_edgeformer_s.yaml", 64, ()),
    ("segmentation/mobilevit/deeplabv3_mobilevit_small.yaml", 64, ()),
    ("segmentation/mobilevit/deeplabv3_mobilevit_x_small.yaml", 64, ()),
    ("classification/parc_convnets/parc_convnext_xt.yaml", 224, ()),
    ("classification/parc_convnets/convnext_xt.yaml", 64, ()),
    pytest.param("classification/parc_convnets/parc_resnet50.yaml", 224, (), marks=pytest.mark.slow),
    ("classification/parc_convnets/resnet50.yaml", 64, ()),
    ("classification/parc_convnets/parc_mobilenetv2.yaml", 224, ()),
    ("classification/parc_convnets/mobilenetv2.yaml", 64, ()),
    # ParC-Net variants: embeddings and channel shuffles, cropped kernels, frozen norms, odd sizes
    ("classification/edgeformer/edgeformer_xs.yaml", (97, 131),
     ("--model.classification.edge.use-pe", "true", "--model.classification.edge.mid-mix", "true")),
    ("classification/edgeformer/edgeformer_xs.yaml", (64, 96),
     ("--model.classification.edge.instance-kernel", "crop", "--model.classification.edge.use-pe", "true",
      "--model.classification.edge.mid-mix", "true", "--model.classification.freeze-batch-norm", "true")),
    ("classification/parc_convnets/parc_mobilenetv2.yaml", 160,
     ("--model.classification.parc.instance-kernel", "interpolation_bilinear")),
]


def randomise_statistics(model: nn.Module) -> None:
    """Batch norms with statistics and affine parameters far from the identity, so folding shows."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if hasattr(module, "running_var") and module.running_var is not None:
            n = module.running_var.numel()
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.2)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            if getattr(module, "weight", None) is not None:
                module.weight.data.copy_(torch.randn(n, generator=generator) * 0.2 + 1)
                module.bias.data.copy_(torch.randn(n, generator=generator) * 0.2)


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
