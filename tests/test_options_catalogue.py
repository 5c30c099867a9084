"""options/catalogue.json: it records what the registries declare, the parser built from it is the
declarations' parser, and a run whose catalogue is out of date parses with the declarations."""
from __future__ import annotations

import argparse

import pytest

from conftest import ROOT, training_opts
from options.catalogue import CATALOGUE, REGENERATE, catalogue_is_current, declared_groups, stored_groups
from options.parser import build_parser, declared_parser


@pytest.fixture
def fresh_check():
    """Forget the cached comparison of the catalogue with the declarations, before and after."""
    catalogue_is_current.cache_clear()
    yield
    catalogue_is_current.cache_clear()


def test_the_catalogue_is_what_the_generator_writes_now(tmp_path):
    from options.write_catalogue import write_catalogue

    write_catalogue(tmp_path / "catalogue.json")
    assert (tmp_path / "catalogue.json").read_text() == CATALOGUE.read_text(), (
        f"{CATALOGUE.relative_to(ROOT)} does not record the options the components declare: run {REGENERATE}")
    assert stored_groups() == declared_groups()


def _settings(parser: argparse.ArgumentParser):
    return {a.dest: (a.option_strings, a.type, a.default, a.const, a.nargs, list(a.choices or []), a.metavar, a.help)
            for a in parser._actions}


def test_the_catalogue_parser_is_the_declarations_parser():
    catalogued = build_parser("Train")
    declared = declared_parser(catalogued)
    assert _settings(catalogued) == _settings(declared)
    assert [g.title for g in catalogued._action_groups] == [g.title for g in declared._action_groups]
    assert len(catalogued._actions) > 250


@pytest.mark.parametrize("config", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "config").rglob("*.yaml")))
def test_every_config_parses_the_same_with_both_parsers(config):
    from options.parser import _parse

    catalogued = build_parser("Train")
    path = ROOT / config
    assert vars(_parse(catalogued, [], path)) == vars(_parse(declared_parser(catalogued), [], path))


def test_a_run_with_an_outdated_catalogue_parses_with_the_declarations(monkeypatch, capsys, fresh_check):
    """A declared option the catalogue lacks, and a default it records differently (injected into
    the centre crop's declaration): the run's options follow the declarations, with a warning."""
    from data.transforms.geometric import CenterCrop
    from utils.opts import add_options

    def declares_more(cls, parser):
        add_options(parser.add_argument_group("Centre crop (classification evaluation)"),
                    "--image-augmentation.center-crop", [("margin", 5, "changed default"), ("extra", 7, "new")])
        return parser

    assert catalogue_is_current()
    catalogue_is_current.cache_clear()
    monkeypatch.setattr(CenterCrop, "add_arguments", classmethod(declares_more))
    opts = training_opts(["--common.config-file", "config/classification/edgeformer/edgeformer_xs.yaml"])
    assert getattr(opts, "image_augmentation.center_crop.extra") == 7
    assert getattr(opts, "image_augmentation.center_crop.margin") == 5
    assert getattr(opts, "model.classification.edge.scale") == "scale_xs"
    assert f"does not match the options the components declare ({REGENERATE} rewrites it)" in capsys.readouterr().out


def test_a_model_registered_by_a_program_is_accepted_from_its_config(tmp_path, monkeypatch, capsys, fresh_check):
    """A program registers its own model (with an option) after the check was cached as current:
    the config that names it parses with the declarations instead of failing on the catalogue's
    choices; a value nothing declares still fails in one line."""
    from cvnets.models.registry import CLS_MODEL_REGISTRY
    from utils.errors import ConfigError
    from utils.opts import add_options

    class Tiny:
        @classmethod
        def add_arguments(cls, parser):
            add_options(parser.add_argument_group("Tiny (model.classification.name: tiny)"),
                        "--model.classification.tiny", [("width", 16, "channels")])
            return parser

    assert catalogue_is_current()
    monkeypatch.setattr(CLS_MODEL_REGISTRY, "_entries", dict(CLS_MODEL_REGISTRY._entries))
    CLS_MODEL_REGISTRY.register("tiny")(Tiny)
    config = tmp_path / "tiny.yaml"
    config.write_text("model:\n  classification:\n    name: tiny\n    n_classes: 3\n")
    opts = training_opts(["--common.config-file", str(config), "--model.classification.tiny.width", "8"])
    assert getattr(opts, "model.classification.name") == "tiny" and getattr(opts, "model.classification.tiny.width") == 8
    assert "parsing with their declarations" in capsys.readouterr().out
    config.write_text("model:\n  classification:\n    name: tinyy\n")
    with pytest.raises(ConfigError, match="key 'model.classification.name' has value 'tinyy'; choose one of: .*tiny"):
        training_opts(["--common.config-file", str(config)])


def test_the_check_command_says_whether_the_catalogue_is_current(tmp_path, monkeypatch, capsys, fresh_check):
    import options.write_catalogue as command

    assert command.main(["--check"]) == 0
    stale = tmp_path / "catalogue.json"
    stale.write_text(CATALOGUE.read_text().replace('"default": 32', '"default": 31'))
    assert stale.read_text() != CATALOGUE.read_text()
    monkeypatch.setattr("options.catalogue.CATALOGUE", stale)
    stored_groups.cache_clear()
    catalogue_is_current.cache_clear()
    try:
        assert command.main(["--check"]) == 1
        assert "out of date: run python -m options.write_catalogue" in capsys.readouterr().out
    finally:
        monkeypatch.undo()
        stored_groups.cache_clear()


def test_the_catalogue_is_installed_with_the_package():
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert CATALOGUE.name in package_data["options"]
