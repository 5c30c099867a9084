"""ParC under tracers and compilers: no cached instance kernel leaks in, no graph break, no recompile."""
import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters
from torch._subclasses.fake_tensor import FakeTensorMode

from conftest import relative_error, training_opts
from cvnets import get_model
from cvnets.misc.fuse import fuse_for_inference
from cvnets.modules import ParCBlock, ParCConv


def build(config, *extra):
    return get_model(training_opts(["--common.config-file", config, *extra]))


def test_fake_tensors_never_reach_the_instance_cache():
    torch.manual_seed(0)
    block, op = ParCBlock(16, 16, "interpolation_bilinear", use_pe=True, ffn_dim=32).eval(), ParCConv(6, "H", 9).eval()
    x, y = torch.randn(1, 32, 12, 12), torch.randn(1, 6, 9, 5)
    with torch.no_grad():
        expected = block(x), op(y)
        with FakeTensorMode(allow_non_fake_inputs=True) as mode:
            fake = block(mode.from_tensor(x)), op(mode.from_tensor(y))
        assert [t.shape for t in fake] == [t.shape for t in expected]
        assert torch.equal(block(x), expected[0]) and torch.equal(op(y), expected[1])


@pytest.mark.parametrize("fold", [False, True])
def test_torch_export_under_no_grad(fold):
    model = build("config/classification/edgeformer/edgeformer_xs.yaml").eval()
    model = fuse_for_inference(model, (64, 64)) if fold else model
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        program = torch.export.export(model, (x,))
        assert relative_error(program.module()(x), expected) <= 1e-5
        assert torch.equal(model(x), expected)


def compile_counters(model, x, train):
    """Compile ``model`` (dynamo only), run it three times on ``x``; a recompile is an error."""
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(model, backend="eager", fullgraph=False)
    with torch.set_grad_enabled(train), torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(3):
            out = compiled(x)
            if train:
                (out[0] if isinstance(out, tuple) else out).float().mean().backward()
    return dict(counters["stats"]), dict(counters["graph_break"])


@pytest.mark.parametrize("mode", ["eval", "folded", "train"])
def test_compiled_parcnet_has_one_graph_and_no_recompile(mode):
    model = build("config/classification/edgeformer/edgeformer_xs.yaml", "--model.classification.edge.use-pe", "true")
    model.train(mode == "train")
    if mode == "folded":
        model = fuse_for_inference(model, (64, 64))
    stats, breaks = compile_counters(model, torch.rand(2, 3, 64, 64), mode == "train")
    assert breaks == {}
    assert stats["unique_graphs"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("config, size", [
    ("config/classification/mobilevit/mobilevit_small.yaml", 128),
    ("config/detection/edgeformer/ssd_edgeformer_s.yaml", 128),
    ("config/segmentation/edgeformer/deeplabv3_edgeformer_s.yaml", 64),
    ("config/classification/parc_convnets/parc_resnet50.yaml", 224),
    ("config/classification/parc_convnets/parc_mobilenetv2.yaml", 224),
    ("config/classification/parc_convnets/parc_convnext_xt.yaml", 224),
])
def test_every_model_family_compiles_without_graph_breaks(config, size):
    model = build(config).eval()
    x = torch.rand(1, 3, size, size)
    for candidate in (model, fuse_for_inference(model, (size, size))):
        stats, breaks = compile_counters(candidate, x, train=False)
        assert breaks == {} and stats["unique_graphs"] == 1
