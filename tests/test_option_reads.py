"""Every option a component reads is declared, with one default; utils/ imports nothing above it."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, Set, Tuple

import pytest
import torch

from conftest import ROOT, training_opts

SOURCE_DIRS = ("cvnets", "data", "deploy", "engine", "loss_fn", "metrics", "optim", "options", "utils")
HIGHER_PACKAGES = ("cvnets", "data", "deploy", "engine", "loss_fn", "metrics", "optim", "options")


def project_sources() -> Iterator[Path]:
    for folder in SOURCE_DIRS:
        yield from sorted((ROOT / folder).rglob("*.py"))
    yield from sorted(ROOT.glob("*.py"))


def declared_keys() -> Set[str]:
    from deploy.options import arguments_benchmark, arguments_export, arguments_quantize
    from options import arguments_evaluation, build_parser

    parser = build_parser("all options", extra=[arguments_evaluation, arguments_benchmark, arguments_export,
                                                          arguments_quantize])
    return {a.dest for a in parser._actions if a.option_strings}


def option_reads(path: Path) -> Iterator[Tuple[int, ast.expr, int]]:
    """``(line, key expression, argument count)`` of each ``getattr(<...opts...>, key, ...)``."""
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and len(node.args) >= 2 and "opts" in (ast.get_source_segment(source, node.args[0]) or ""):
            yield node.lineno, node.args[1], len(node.args)


def key_pattern(expr: ast.expr) -> re.Pattern:
    """A literal key, or an f-string key with each placeholder matching one or more name parts."""
    if isinstance(expr, ast.Constant):
        return re.compile(re.escape(expr.value) + "$")
    parts = [re.escape(v.value) if isinstance(v, ast.Constant) else r"[\w.]+" for v in expr.values]
    return re.compile("".join(parts) + "$")


def test_every_option_read_in_the_source_is_declared():
    keys = declared_keys()
    undeclared, checked = [], 0
    for path in project_sources():
        for line, expr, _ in option_reads(path):
            if not isinstance(expr, (ast.Constant, ast.JoinedStr)):
                continue  # a key held in a variable: the run-time check covers it
            checked += 1
            pattern = key_pattern(expr)
            if not any(pattern.match(k) for k in keys):
                undeclared.append(f"{path.relative_to(ROOT)}:{line} {ast.unparse(expr)}")
    assert checked > 150
    assert not undeclared, "options read but never declared: " + "; ".join(undeclared)


def test_options_are_read_without_a_second_default():
    with_fallback = [f"{path.relative_to(ROOT)}:{line}" for path in project_sources()
                     for line, _, n_args in option_reads(path) if n_args == 3]
    assert not with_fallback, "getattr(opts, key, fallback) repeats a declared default: " + ", ".join(with_fallback)


def test_reading_an_undeclared_option_names_the_key_and_the_reader(monkeypatch):
    from cvnets import get_model
    from cvnets.models.classification import parcnet
    from utils.errors import ConfigError, UndeclaredOptionError

    original = parcnet.ParCNet.__init__

    def reads_a_typo(self, opts, *args, **kwargs):
        getattr(opts, "model.classification.edge.scalee")
        original(self, opts, *args, **kwargs)

    monkeypatch.setattr(parcnet.ParCNet, "__init__", reads_a_typo)
    opts = training_opts(["--common.config-file", "config/classification/edgeformer/edgeformer_xs.yaml"])
    with pytest.raises(UndeclaredOptionError) as caught:
        get_model(opts)
    message = str(caught.value)
    assert "'model.classification.edge.scalee'" in message and "test_option_reads.py" in message
    assert "reads_a_typo" in message
    assert isinstance(caught.value, ConfigError)  # the entry points report it in one line


def test_parsed_options_keep_argparse_behaviour():
    import copy

    opts = training_opts([])
    assert getattr(opts, "optim.weight_decay") == pytest.approx(4e-5)
    assert not hasattr(opts, "no.such.key")
    clone = copy.copy(opts)
    setattr(clone, "common.seed", 7)
    assert getattr(opts, "common.seed") == 0 and getattr(clone, "common.seed") == 7


def imported_modules(path: Path) -> Set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_utils_imports_no_package_above_it():
    offenders = [f"{path.relative_to(ROOT)} imports {sorted(imported_modules(path) & set(HIGHER_PACKAGES))}"
                 for path in sorted((ROOT / "utils").rglob("*.py"))
                 if imported_modules(path) & set(HIGHER_PACKAGES)]
    assert not offenders


def test_components_do_not_import_the_option_assembly():
    offenders = [str(path.relative_to(ROOT)) for folder in ("cvnets", "data", "loss_fn", "metrics", "optim", "utils")
                 for path in sorted((ROOT / folder).rglob("*.py")) if "options" in imported_modules(path)]
    assert not offenders


def test_segmentation_head_learning_rate_groups_come_from_the_model():
    from cvnets import get_model
    from optim import build_optimizer

    opts = training_opts(["--common.config-file", "config/segmentation/edgeformer/deeplabv3_edgeformer_s.yaml",
                          "--model.segmentation.lr-multiplier", "10", "--optim.no-decay-bn-filter-bias"])
    model = get_model(opts)
    optimizer = build_optimizer(model, opts)
    head = {id(p) for p in model.seg_head.parameters()}
    for group in optimizer.param_groups:
        in_head = {id(p) in head for p in group["params"]}
        assert len(in_head) == 1
        assert group["lr_multiplier"] == (10.0 if in_head.pop() else 1.0)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
