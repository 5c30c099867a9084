"""Shared test helpers: option building, reference weights and small data sets."""
from __future__ import annotations

import json
import os
import sys
import zlib
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
# options of a validation split built alone: the classes then follow the split itself, not the
# config's training folder (the demo configs' data/demo/generated/..., there once make demo-det ran)
NO_TRAINING_SET = ("--dataset.root-train", "")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = FIXTURES / "reference"
sys.path.insert(0, str(ROOT))
torch.set_num_threads(min(2, os.cpu_count() or 1))


def training_opts(args: Sequence[str] = ()):
    """The training options of ``args``; without a config, the defaults (main_train.py requires one)."""
    from options import parse_options, training_parser

    return parse_options(training_parser(), list(args))


def load_manifest(name: str) -> Dict:
    return json.loads((REFERENCE / f"{name}.manifest.json").read_text())


def load_golden(name: str) -> Dict:
    return torch.load(REFERENCE / f"{name}.golden.pt", weights_only=True)


def manifest_weights(manifest: Dict, bn_stats: Dict[str, torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """The reference's deterministic weights for every entry of a manifest (see fixtures/reference/README.md)."""
    weights = {}
    for key, shape, dtype_name in manifest["state_dict"]:
        dtype = getattr(torch, dtype_name)
        generator = torch.Generator().manual_seed(zlib.crc32(key.encode()))
        draw = lambda: torch.randn(shape, generator=generator, dtype=torch.float64)  # noqa: E731
        if not dtype.is_floating_point:
            value = torch.zeros(shape, dtype=dtype)
        elif key.endswith("running_var"):
            value = torch.rand(shape, generator=generator, dtype=torch.float64) + 0.5
        elif key.endswith("running_mean"):
            value = draw() * 0.1
        elif len(shape) <= 1:
            value = draw() * 0.1 + (1.0 if key.endswith("weight") else 0.0)
        elif shape[0] == 1:
            value = draw() * 0.1
        else:
            fan_in = 1
            for side in shape[1:]:
                fan_in *= side
            value = draw() * fan_in ** -0.5
        weights[key] = value.to(dtype)
    weights.update(bn_stats or {})
    return weights


def state_dict_entries(model: torch.nn.Module) -> List[List]:
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]


def check_against_manifest(name: str, mac_tolerance: float = 0.01) -> torch.nn.Module:
    """Build the manifest's model from its config and check its state_dict, parameter and MAC counts."""
    from cvnets import get_model
    from cvnets.misc.profiler import profile_model

    manifest = load_manifest(name)
    model = get_model(training_opts(["--common.config-file", manifest["project_config"],
                                     *manifest["extra_args"]])).eval()
    assert state_dict_entries(model) == manifest["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == manifest["num_parameters"]
    side = manifest["input_size"]
    profile = profile_model(model, torch.zeros(1, 3, side, side), model.profile_stages(), model.profile_convention)
    assert abs(profile.macs / 1e6 / manifest["macs_millions"] - 1) <= mac_tolerance
    return model


def golden_model(name: str) -> Tuple[torch.nn.Module, Dict]:
    """The manifest's model in eval mode, filled with the reference weights and the golden file's
    normalization statistics, and the golden file."""
    from cvnets import get_model

    manifest, golden = load_manifest(name), load_golden(name)
    model = get_model(training_opts(["--common.config-file", manifest["project_config"],
                                     *manifest["extra_args"]])).eval()
    model.load_state_dict(manifest_weights(manifest, golden["bn_stats"]), strict=True)
    return model, golden


def golden_input(golden: Dict, size: int) -> torch.Tensor:
    return golden[size]["x_u8"].permute(0, 3, 1, 2).float() / 255


def named_models(task: str, model: str) -> List[str]:
    """The named models (``cvnets.list_models``) whose config builds ``model.<task>.name: <model>``."""
    import yaml

    from utils.zoo import MODEL_ZOO

    return [name for name, entry in MODEL_ZOO.items()
            if entry.task == task and yaml.safe_load(entry.config_path.read_text())["model"][task]["name"] == model]


def randomise_statistics(model: torch.nn.Module) -> None:
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


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours.float() - reference.float()).abs().max() / reference.float().abs().max())


@pytest.fixture(scope="session")
def digits_folder(tmp_path_factory) -> Path:
    """The demo's ImageNet-style digits folder (all 1,797 images), made once per session."""
    from data.demo.digits import write_classification_folder

    out = tmp_path_factory.mktemp("digits")
    write_classification_folder(out)
    return out
