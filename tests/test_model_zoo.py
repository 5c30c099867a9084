"""Every named model (``cvnets.list_models()``), and through them every registered model: each builds,
runs, folds for inference, profiles, round-trips its state_dict and exports what it deploys.

A model registered today is tested today: a registered name that no named model uses fails
:func:`test_every_registered_model_is_a_named_model` until it gets a zoo entry (or a reason in
:data:`EXEMPT`). Heavy checks of the big models are marked slow; every model still builds, runs
and round-trips its state_dict in the default run.
"""
from __future__ import annotations

import io
from functools import lru_cache
from typing import Any, Dict, List, Tuple

import pytest
import torch
import yaml
from torch import Tensor

from conftest import randomise_statistics, relative_error, training_opts
from cvnets import get_model, list_models
from cvnets.misc.fuse import fuse_for_inference
from cvnets.misc.profiler import profile_model
from cvnets.models import CLS_MODEL_REGISTRY, DET_MODEL_REGISTRY, SEG_HEAD_REGISTRY, SEG_MODEL_REGISTRY
from cvnets.models.base import Backbone, Detector, SegmentationHead, SegmentationModel
from cvnets.models.detection import MaskRCNNDetector
from utils.zoo import zoo_entry
from utils.errors import ExportError

# registered names that no named model uses: name -> why
EXEMPT: Dict[str, str] = {}
# per task, the input side the models run at, and options that keep a run small without changing
# the architecture (Mask R-CNN resizes its inputs to min_size and keeps fewer proposals)
SIDE = {"classification": 64, "detection": 128, "segmentation": 64}
SMALL_RUN = {"mask_rcnn": ["--model.detection.mask-rcnn.min-size", "64", "--model.detection.mask-rcnn.max-size", "64",
                           "--model.detection.mask-rcnn.rpn-pre-nms-top-n-test", "200",
                           "--model.detection.mask-rcnn.rpn-post-nms-top-n-test", "50"]}
# the ParC ConvNets' fixed global kernels fit the feature maps of a 224-pixel input only
SIDE_OF = {"parc_convnext_xt": 224, "parc_resnet50": 224, "parc_mobilenetv2": 224}
# models whose folding, profile and export checks take long: slow tests
HEAVY = {"parcnet_h", "parc_resnet50", "maskrcnn_parc_resnet50", "maskrcnn_resnet50", "maskrcnn_parc_convnext_xt",
         "maskrcnn_convnext_xt", "upernet_parc_resnet50", "upernet_resnet50", "upernet_parc_convnext_xt",
         "upernet_convnext_xt"}
NAMES = list_models()
REGISTRIES = {"classification": CLS_MODEL_REGISTRY, "detection": DET_MODEL_REGISTRY, "segmentation": SEG_MODEL_REGISTRY}


def registered_name(name: str) -> str:
    """The ``model.<task>.name`` of a named model's config."""
    entry = zoo_entry(name)
    return yaml.safe_load(entry.config_path.read_text())["model"][entry.task]["name"]


def model_class(name: str) -> type:
    """The registered class a named model's config builds."""
    return REGISTRIES[zoo_entry(name).task].get(registered_name(name))


HEAVY_MARKED = [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in NAMES]
EXPORTS_MARKED = [p for p, n in zip(HEAVY_MARKED, NAMES) if model_class(n).output_names]  # something to deploy


@lru_cache(maxsize=None)
def zoo_options(name: str) -> Any:
    return training_opts(["--common.config-file", str(zoo_entry(name).config_path),
                          *SMALL_RUN.get(registered_name(name), [])])


def build(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return get_model(zoo_options(name)).eval()


def example(name: str) -> Tensor:
    side = SIDE_OF.get(name, SIDE[zoo_entry(name).task])
    return torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(1))


def tensors(value: Any) -> List[Tensor]:
    """The tensors of a model output (a tensor, a tuple, Mask R-CNN's list of dicts), in a fixed order."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for key in sorted(value) for t in tensors(value[key])]
    return [t for item in value for t in tensors(item)]


def run(model: torch.nn.Module, x: Tensor) -> List[Tensor]:
    with torch.no_grad():
        return tensors(model(x))


@pytest.fixture(scope="module")
def built(request) -> Tuple[str, torch.nn.Module, Tensor, List[Tensor]]:
    """``(name, model in eval mode, example input, outputs)``, made once for the tests of one model;
    its batch norms' statistics and affine parameters are far from the identity, so that folding shows."""
    name = request.param
    model, x = build(name), example(name)
    randomise_statistics(model)
    return name, model, x, run(model, x)


def test_every_registered_model_is_a_named_model():
    used = {"model.classification.name": set(), "model.detection.name": set(), "model.segmentation.name": set(),
            "model.segmentation.seg_head": set()}
    for name in NAMES:
        opts, task = zoo_options(name), zoo_entry(name).task
        used["model.classification.name"].add(getattr(opts, "model.classification.name"))
        if task != "classification":
            used[f"model.{task}.name"].add(getattr(opts, f"model.{task}.name"))
        if getattr(opts, "model.segmentation.name") == "encoder_decoder" and task == "segmentation":
            used["model.segmentation.seg_head"].add(getattr(opts, "model.segmentation.seg_head"))
    for registry in (CLS_MODEL_REGISTRY, DET_MODEL_REGISTRY, SEG_MODEL_REGISTRY, SEG_HEAD_REGISTRY):
        untested = [n for n in registry.names() if n not in used[registry.option] and n not in EXEMPT]
        assert not untested, (f"{registry.option} {untested} is used by no model of utils/zoo.py: add a zoo "
                              f"entry (see docs/extending.md) so that these tests cover it")


@pytest.mark.parametrize("registry, base", [(CLS_MODEL_REGISTRY, Backbone), (DET_MODEL_REGISTRY, Detector),
                                            (SEG_MODEL_REGISTRY, SegmentationModel),
                                            (SEG_HEAD_REGISTRY, SegmentationHead)])
def test_registered_classes_meet_the_model_contract(registry, base):
    assert all(issubclass(registry.get(n), base) for n in registry.names()), registry.kind


@pytest.mark.parametrize("built", NAMES, indirect=True, scope="module")
def test_builds_and_runs(built):
    name, model, x, outputs = built
    assert outputs and all(torch.isfinite(t).all() for t in outputs)
    size = tuple(x.shape[-2:])
    if not model.output_names:  # nothing to deploy (Mask R-CNN): it says so
        with pytest.raises(ExportError, match="only SSD detectors can be exported"):
            model.deployable(size)
    else:  # what a deployment runs: the outputs output_names names
        deployed = run(model.deployable(size), x)
        assert len(deployed) == len(model.output_names)
        if not isinstance(model, Detector):  # the logits, without an auxiliary output
            assert torch.equal(deployed[0], outputs[0])
    if isinstance(model, Backbone):  # the feature stages are what feature_info says
        with torch.no_grad():
            features = model.forward_features(x)
        side = x.shape[-1]
        assert [(f.shape[1], side // f.shape[-1]) for f in features] == \
            [(s.channels, s.reduction) for s in model.feature_info()]


@pytest.mark.parametrize("built", NAMES, indirect=True, scope="module")
def test_state_dict_round_trip(built):
    name, model, x, outputs = built
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = build(name, seed=1)
    fresh.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    for a, b in zip(run(fresh, x), outputs, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("built", HEAVY_MARKED, indirect=True, scope="module")
def test_folding_keeps_outputs(built):
    name, model, x, outputs = built
    folded = fuse_for_inference(model)
    if isinstance(model, MaskRCNNDetector):  # its detections hang on thresholds: compare the pyramid, which folds
        with torch.no_grad():
            pairs = zip(tensors(folded.backbone(x)), tensors(model.backbone(x)), strict=True)
    else:
        pairs = zip(run(folded, x), outputs, strict=True)
    for a, b in pairs:
        assert a.shape == b.shape and relative_error(a, b) <= 1e-4


@pytest.mark.parametrize("built", HEAVY_MARKED, indirect=True, scope="module")
def test_profile_counts_every_parameter_once(built):
    name, model, x, _ = built
    profile = profile_model(model, torch.zeros_like(x), model.profile_stages(), model.profile_convention)
    assert profile.params == sum(p.numel() for p in model.parameters())
    assert sum(row.params for row in profile.stages) == profile.params  # the stages cover the model
    assert profile.macs > 0


@pytest.mark.parametrize("built", EXPORTS_MARKED, indirect=True, scope="module")
def test_deployable_exports(built):
    name, model, x, _ = built
    deployable = model.deployable(tuple(x.shape[-2:])).eval()
    with torch.no_grad():
        expected = tensors(deployable(x))
    program = torch.export.export(deployable, (x,))
    with torch.no_grad():
        got = tensors(program.module()(x))
    assert len(got) == len(expected) == len(model.output_names)
    for a, b in zip(got, expected):
        assert a.shape == b.shape and relative_error(a, b) <= 1e-4


def test_cvnets_calls_hooks_without_probing_and_imports_at_the_top():
    """No ``hasattr`` and no ``getattr`` with a fallback in cvnets/ (a hook is a method of a base class),
    and no project import inside a function (helpers sit below the modules that use them)."""
    import ast

    from conftest import ROOT

    offenders = []
    for path in sorted((ROOT / "cvnets").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                    node.func.id == "hasattr" or (node.func.id == "getattr" and len(node.args) == 3)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").split(".")[0] in (
                            "cvnets", "data", "engine", "loss_fn", "metrics", "optim", "options", "utils"):
                        offenders.append(f"{path.relative_to(ROOT)}:{inner.lineno} {ast.unparse(inner)}")
    assert not offenders, "; ".join(offenders)
